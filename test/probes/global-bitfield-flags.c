/*
 * global-bitfield-flags (a probe, test/probe-globals-live.test.ts): bitfield-flag-swap on a
 * writable GLOBAL. Two one-bit flags of a global word swap places (v1: on bit 0, hot bit 1;
 * v2: hot bit 0, on bit 1); pack sets each with a lone in-place `or [rip+g],imm` and clears it
 * with a lone `and [rip+g],imm`. Both versions print the same line; the patched process,
 * whose new unpack reads the word old pack wrote, prints another.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "global-bitfield-flags"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned on : 1;
  unsigned hot : 1;
#else
  unsigned hot : 1;
  unsigned on : 1;
#endif
  unsigned rest : 30;
};

static struct flags g_word;

HP_FN void pack(unsigned kind, unsigned level) {
  g_word.on = 1;
  __asm__ volatile("" ::: "memory");
  g_word.hot = 1;
  __asm__ volatile("" ::: "memory");
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
