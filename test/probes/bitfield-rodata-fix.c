/*
 * bitfield-rodata-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-rodata. The layout stays (kind bits 0-2, level 3-7, on 8, hot 9); v2's init also
 * sets hot (the .rodata constant's first word 0x15b -> 0x35b) and unpack changes its formula
 * (level * 2 -> level * 3) over the same bits (hot is read by nobody). Hotpatchable, and
 * patched live new unpack decodes old init's word as v2 does its own: v2's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-rodata-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
  int weight;
  int count;
  int limit;
};

HP_FN void init(struct flags *f) {
#if HP_VERSION == 1
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1, .weight = 7001, .count = 7013, .limit = 7027 };
#else
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1, .hot = 1, .weight = 7001, .count = 7013, .limit = 7027 };
#endif
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on + f->weight - f->count + f->limit);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on + f->weight - f->count + f->limit);
#endif
}

#include "bitfield-immediate-vectors.h"
