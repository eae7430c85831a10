/*
 * bitfield-helper-units (a probe, test/probe-bitfield-gaps-live.test.ts): bitfield-helper-copy
 * with a helper that copies qwords, not bytes: init calls copy_qwords(o, &DEFAULTS, sizeof *o /
 * 8) (`lea rdx,[rip+DEFAULTS]; mov r8d,5; call copy_qwords`), a loop of `mov rax,[rdx+..];
 * mov [rcx+..],rax`. The count in r8 is in qwords; the bit-field word lies at +32, past the 5
 * bytes a copy of r8 bytes would move. Its fields swap places (v1: kind bits 0-2, level 3-7;
 * v2: level 0-4, kind 5-7). Patched live, new unpack decodes the word old init copied with the
 * new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-helper-units"
#include "../../samples/common/harness.h"
#include <stddef.h>
#include "bitfield-swapped-flags.h"

struct item {
  int weight[8];
  struct flags flags;
  int spare;
};

static const struct item DEFAULTS = { { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 }, { .kind = 3, .level = 11, .on = 1 }, 0 };

HP_FN void copy_qwords(void *dst, const void *src, size_t n) {
  unsigned long long *d = dst;
  const unsigned long long *s = src;
  while (n--) *d++ = *s++;
}

HP_FN void init(struct item *o) {
  copy_qwords(o, &DEFAULTS, sizeof *o / 8);
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
