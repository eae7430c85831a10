/*
 * bitfield-helper-copy (a probe, test/probe-bitfield-gaps-live.test.ts): bitfield-memcpy with the
 * copy done by a helper of the DLL's own, not an import: init calls copy_bytes(o, &DEFAULTS,
 * sizeof *o) (`lea rdx,[rip+DEFAULTS]; mov r8d,0x24; call copy_bytes`), a byte loop (gcc -O2
 * turns it into a tail jump to memcpy). The word's fields swap places (v1: kind bits 0-2,
 * level 3-7; v2: level 0-4, kind 5-7), the constant's first word 0x15b -> 0x16b. Patched live,
 * new unpack decodes the word old init copied with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-helper-copy"
#include "../../samples/common/harness.h"
#include <stddef.h>
#include "bitfield-swapped-flags.h"

struct item {
  struct flags flags;
  int weight[8];
};

static const struct item DEFAULTS = { { .kind = 3, .level = 11, .on = 1 }, { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 } };

HP_FN void copy_bytes(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
}

HP_FN void init(struct item *o) {
  copy_bytes(o, &DEFAULTS, sizeof *o);
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
