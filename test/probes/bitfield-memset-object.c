/*
 * bitfield-memset-object (a probe, test/probe-bitfield-single-live.test.ts): init clears the
 * object with memset and stores each nonzero member straight into it (no literal, no stack
 * temporary); the bit-field word's fields swap places (v1: kind bits 0-2, level 3-7; v2:
 * level 0-4, kind 5-7). Each field is a read-modify-write of the word, or the merged stores one
 * immediate: refused at all 8 builds. Patched live with the rule lifted, new unpack decodes old
 * init's word with the new layout: neither version's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-memset-object"
#include "../../samples/common/harness.h"
#include <string.h>
#include "bitfield-swapped-flags.h"

struct item {
  int weight[16];
  struct flags flags;
  int tail[7];
};

HP_FN void init(struct item *o) {
  memset(o, 0, sizeof *o);
  o->weight[3] = 7039;
  o->flags.kind = 3;
  o->flags.level = 11;
  o->flags.on = 1;
  o->tail[6] = 7229;
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
