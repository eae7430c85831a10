/*
 * bitfield-immediate-revalue-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative
 * twin of bitfield-immediate-revalue. The layout stays (kind bits 0-2, level 3-7, on 8); v2's
 * init stores another level (11 -> 12: the immediate 0x15b -> 0x163) and unpack changes its
 * formula (level * 2 -> level * 3) over the same bits. Hotpatchable, and patched live new
 * unpack decodes old init's word as v2 decodes its own layout: v2's line but for the level
 * old init stored.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-revalue-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
};

HP_FN void init(struct flags *f) {
#if HP_VERSION == 1
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1 };
#else
  *f = (struct flags){ .kind = 3, .level = 12, .on = 1 };
#endif
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on);
#endif
}

#include "bitfield-immediate-vectors.h"
