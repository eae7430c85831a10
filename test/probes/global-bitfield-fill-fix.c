/*
 * global-bitfield-fill-fix (a probe, test/probe-globals-live.test.ts): the negative twin of
 * global-bitfield-fill. The layout stays (kind bits 0-2, level 3-7); v2's fill fills kind on
 * another condition (which & 3) and unpack weighs kind and level differently: the same lone in-place
 * immediates in both bodies. Hotpatchable, and patched live it prints v2's line.
 * Changed functions: fill, unpack.
 */
#define HP_NAME "global-bitfield-fill-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned rest : 24;
};

static struct flags g_word;

HP_FN void fill(unsigned which) {
#if HP_VERSION == 1
  if (which & 1) g_word.kind = 7;
#else
  if (which & 3) g_word.kind = 7;
#endif
  __asm__ volatile("" ::: "memory");
  if (which & 2) g_word.level = 31;
}

HP_FN int unpack(void) {
#if HP_VERSION == 1
  return (int)(g_word.kind * 100 + g_word.level);
#else
  return (int)(g_word.kind * 10 + g_word.level * 2);
#endif
}

static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    fill(1);
    g_made = 1;
  }
  out_str(o, "unpack() = ");
  out_int(o, unpack());
  out_nl(o);
  hp_unlock(&g_lock);
}
