/*
 * bitfield-long-copy (a probe, test/probe-bitfield-gaps-live.test.ts): bitfield-memcpy with a
 * 96-byte item: init copies a named `static const` initialiser longer than 64 bytes (gcc -O0
 * and clang -O0 `mov r8d,0x60; call memcpy`, other builds `rep movsq` or unrolled vector
 * moves). The word's fields swap places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind
 * 5-7), the constant's first word 0x15b -> 0x16b. Patched live, new unpack decodes the word old
 * init copied with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-long-copy"
#include "../../samples/common/harness.h"
#include <string.h>
#include "bitfield-swapped-flags.h"

struct item {
  struct flags flags;
  int weight[23];
};

static const struct item DEFAULTS = { { .kind = 3, .level = 11, .on = 1 }, { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079, 7103, 7109, 7121, 7127, 7129, 7151, 7159, 7177, 7187, 7193, 7207, 7211, 7213, 7219, 7229 } };

HP_FN void init(struct item *o) {
  memcpy(o, &DEFAULTS, sizeof *o);
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.kind * 100 + o->flags.level * 2 + o->flags.on + o->weight[0] - o->weight[22]);
#else
  return (int)(o->flags.kind * 100 + o->flags.level * 3 + o->flags.on + o->weight[0] - o->weight[22]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
