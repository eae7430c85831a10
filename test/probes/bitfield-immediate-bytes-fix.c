/*
 * bitfield-immediate-bytes-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative
 * twin of bitfield-immediate-bytes. The layout stays (kind bits 0-2, level 3-8, mode 9-12, on
 * 13-15); v2's init stores another level (45 -> 46) and unpack changes its formula (level * 10
 * -> level * 11) over the same bits. Hotpatchable, and patched live new unpack decodes old
 * init's word as v2 decodes its own layout: v2's line but for the level old init stored.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-bytes-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 6;
  unsigned mode : 4;
  unsigned on : 3;
  unsigned short spare;
};

HP_FN void init(struct flags *f) {
  f->kind = 3;
#if HP_VERSION == 1
  f->level = 45;
#else
  f->level = 46;
#endif
  f->mode = 9;
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
