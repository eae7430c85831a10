/*
 * global-flag-add-fix (a probe, test/probe-globals-live.test.ts): the negative twin of
 * global-flag-move-count. v2 adds a third one-bit flag (cold, bit 2) to the global word that
 * pack sets, and moves none: pack's flag stores grow from 4 to 5 with the old ones on the same
 * bits. Hotpatchable, and patched live it prints v2.
 * Changed function: pack.
 */
#define HP_NAME "global-flag-add-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned on : 1;
  unsigned hot : 1;
#if HP_VERSION == 2
  unsigned cold : 1;
  unsigned rest : 29;
#else
  unsigned rest : 30;
#endif
};

static struct flags g_word;

HP_FN void pack(unsigned kind, unsigned level) {
  g_word.on = 1;
  __asm__ volatile("" ::: "memory");
  g_word.hot = 1;
  __asm__ volatile("" ::: "memory");
#if HP_VERSION == 2
  g_word.cold = 1;
  __asm__ volatile("" ::: "memory");
#endif
  if (!(kind & 1)) g_word.on = 0;
  __asm__ volatile("" ::: "memory");
  if (!(level & 2)) g_word.hot = 0;
}

HP_FN int unpack(void) {
  return (int)(g_word.on * 10 + g_word.hot * 3);
}

static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    pack(3, 4);
    g_made = 1;
  }
  out_str(o, "unpack() = ");
  out_int(o, unpack());
  out_nl(o);
  hp_unlock(&g_lock);
}
