/*
 * bitfield-literal-zeros (a probe, test/probe-bitfield-gaps-live.test.ts): a 96-byte struct,
 * mostly zero, holding a bit-field word, assigned whole from a compound literal. clang -O0
 * builds it in a stack temporary by `memset` and stores of the nonzero members, then copies the
 * temporary to the object by memcpy from the frame. The word's fields swap places (v1: kind
 * bits 0-2, level 3-7; v2: level 0-4, kind 5-7). Patched live, new unpack decodes the word old
 * init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-literal-zeros"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

struct item {
  int weight[16];
  struct flags flags;
  int tail[7];
};

HP_FN void init(struct item *o) {
  *o = (struct item){ .weight = { [3] = 7039 }, .flags = { .kind = 3, .level = 11, .on = 1 }, .tail = { [6] = 7229 } };
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
