/*
 * bitfield-immediate-halves-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative
 * twin of bitfield-immediate-halves. The layout stays (kind bits 0-2, level 3-7, mode 8-11, on
 * 12-15); v2's init stores another mode (9 -> 10: the high byte 0x59 -> 0x5a) and unpack
 * changes its formula (level * 10 -> level * 11) over the same bits. Hotpatchable, and patched
 * live new unpack decodes old init's word as v2 decodes its own layout: v2's line but for the
 * mode old init stored.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-halves-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned mode : 4;
  unsigned on : 4;
  unsigned short spare;
};

HP_FN void init(struct flags *f) {
  f->kind = 3;
  f->level = 11;
#if HP_VERSION == 1
  f->mode = 9;
#else
  f->mode = 10;
#endif
  f->on = 5;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 1000 + f->level * 10 + f->mode + f->on * 100);
#else
  return (int)(f->kind * 1000 + f->level * 11 + f->mode + f->on * 100);
#endif
}

#include "bitfield-immediate-vectors.h"
