/*
 * bitfield-memcpy (a probe, test/probe-bitfield-gaps-live.test.ts): a bit-field word copied from
 * a named `static const` initialiser by memcpy. init copies the whole 36-byte item: gcc -O0 and
 * clang -O0 call memcpy (`lea rdx,[rip+DEFAULTS]; mov r8d,0x24; call memcpy`), gcc -Os copies
 * by `rep movsd` from the constant, gcc -O2 stores immediates, clang -O2/-Os copy vectors.
 * The word's fields swap places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind 5-7), so
 * the constant's first word changes (0x15b -> 0x16b) and unpack decodes other bits. Patched
 * live, new unpack decodes the word old init copied with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-memcpy"
#include "../../samples/common/harness.h"
#include <string.h>
#include "bitfield-swapped-flags.h"

struct item {
  struct flags flags;
  int weight[8];
};

static const struct item DEFAULTS = { { .kind = 3, .level = 11, .on = 1 }, { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 } };

HP_FN void init(struct item *o) {
  memcpy(o, &DEFAULTS, sizeof *o);
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.kind * 100 + o->flags.level * 2 + o->flags.on + o->weight[0] - o->weight[7]);
#else
  return (int)(o->flags.kind * 100 + o->flags.level * 3 + o->flags.on + o->weight[0] - o->weight[7]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
