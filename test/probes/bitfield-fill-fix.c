/*
 * bitfield-fill-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-fill. The layout stays (kind bits 0-2, level 3-7, on 8); v2's init also counts its
 * calls in a global (the same `or byte [rcx],0x7` fill) and unpack weighs the fields differently.
 * Hotpatchable, and patched live new unpack decodes old init's word as v2 decodes its own.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-fill-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
};

static volatile int g_inits;

HP_FN void init(struct flags *f) {
  f->kind = 7;
#if HP_VERSION == 2
  g_inits = g_inits + 1;
#endif
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on + g_inits);
#else
  return (int)(f->kind * 10 + f->level * 3 + f->on + g_inits);
#endif
}

#include "bitfield-immediate-vectors.h"
