/*
 * bitfield-single-revalue (a probe, test/probe-bitfield-single-live.test.ts): the reader
 * decodes one field of a bit-field word that init stores whole from a literal. The fields swap
 * places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind 5-7) and level's value changes
 * too (11 -> 12): the stored constant 0x15b -> 0x16c. The reader's one group moves (bits 3-7
 * -> 0-4) and gives another value, so "each field kept its value" does not hold, and one group
 * alone is no permutation: init and unpack were hotpatchable (gcc -O1, clang -O0..-Os; clang
 * doubles level by `add eax,eax`). Patched live, new unpack decodes old init's word with the
 * new layout: neither version's line.
 * Changed functions: init, unpack (its formula is the same; its bits moved).
 */
#define HP_NAME "bitfield-single-revalue"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

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
  return (int)(o->flags.level * 2 + o->weight[0] - o->weight[7]);
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
