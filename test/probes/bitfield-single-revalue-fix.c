/*
 * bitfield-single-revalue-fix (a probe, test/probe-bitfield-single-live.test.ts): the negative
 * twin of bitfield-single-revalue. The layout stays (kind bits 0-2, level 3-7, on 8); init
 * stores another level (11 -> 12: 0x15b -> 0x163) and unpack changes its formula (level * 2 ->
 * level * 3) over the same bits. Hotpatchable, and patched live new unpack decodes old init's
 * word as v2 decodes its own: v2's formula over the level old init stored.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-single-revalue-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
};

struct item {
  int weight[8];
  struct flags flags;
  int spare;
};

HP_FN void init(struct item *o) {
#if HP_VERSION == 1
  *o = (struct item){ { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 }, { .kind = 3, .level = 11, .on = 1 }, 0 };
#else
  *o = (struct item){ { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 }, { .kind = 3, .level = 12, .on = 1 }, 0 };
#endif
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.level * 2 + o->weight[0] - o->weight[7]);
#else
  return (int)(o->flags.level * 3 + o->weight[0] - o->weight[7]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
