/*
 * bitfield-literal-zeros-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin
 * of bitfield-literal-zeros (a 96-byte compound literal cleared by memset in a stack temporary, its members stored, then memcpy'd to the object at clang -O0). The layout stays (kind bits 0-2,
 * level 3-7, on 8, hot 9); v2's literal also sets hot (the word at +0x40: 0x15b -> 0x35b) and
 * unpack changes its formula (level * 2 -> level * 3) over the same bits (hot is read by
 * nobody). Hotpatchable, and patched live new unpack decodes old init's word as v2 does its
 * own: v2's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-literal-zeros-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

#if HP_VERSION == 1
#define HOT 0
#else
#define HOT 1
#endif

struct item {
  int weight[16];
  struct flags flags;
  int tail[7];
};

HP_FN void init(struct item *o) {
  *o = (struct item){ .weight = { [3] = 7039 }, .flags = { .kind = 3, .level = 11, .on = 1, .hot = HOT }, .tail = { [6] = 7229 } };
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.kind * 100 + o->flags.level * 2 + o->flags.on + o->weight[3] - o->tail[6]);
#else
  return (int)(o->flags.kind * 100 + o->flags.level * 3 + o->flags.on + o->weight[3] - o->tail[6]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
