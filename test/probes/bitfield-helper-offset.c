/*
 * bitfield-helper-offset (a probe, test/probe-bitfield-gaps-live.test.ts): bitfield-helper-copy
 * with a helper that is not a plain copy: init calls copy_body(o, &DEFAULTS, sizeof *o)
 * (`lea rdx,[rip+DEFAULTS]; mov r8d,0x24; call copy_body`), which skips the initialiser's
 * 4-byte tag and copies the n bytes after it. The item's bit-field word comes from
 * DEFAULTS+4; its fields swap places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind 5-7),
 * DEFAULTS' tag stays. A call taken for a copy of n bytes from rdx to rcx puts the tag at +0
 * (unchanged) and the word at +4, where unpack reads no bit-field. Patched live, new unpack
 * decodes the word old init copied with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-helper-offset"
#include "../../samples/common/harness.h"
#include <stddef.h>
#include "bitfield-swapped-flags.h"

struct item {
  struct flags flags;
  int weight[8];
};

struct tagged {
  int tag;
  struct item item;
};

static const struct tagged DEFAULTS = { 0x5a5a5a5a, { { .kind = 3, .level = 11, .on = 1 }, { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 } } };

HP_FN void copy_body(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = (const unsigned char *)src + sizeof(int);
  while (n--) *d++ = *s++;
}

HP_FN void init(struct item *o) {
  copy_body(o, &DEFAULTS, sizeof *o);
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
