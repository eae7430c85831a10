/*
 * bitfield-immediate-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-immediate-reorder. The layout stays (kind bits 0-2, level 3-7, on 8, hot 9); v2's
 * init also sets hot (the immediate changes, 0x15b -> 0x35b) and unpack changes its formula
 * (level * 2 -> level * 3) but decodes the same bits (hot is read by nobody). Hotpatchable,
 * and patched live new unpack decodes old init's word as v2 does its own: v2's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

HP_FN void init(struct flags *f) {
#if HP_VERSION == 1
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1 };
#else
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1, .hot = 1 };
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
