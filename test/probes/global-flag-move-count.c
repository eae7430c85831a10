/*
 * global-flag-move-count (a probe, test/probe-globals-live.test.ts): flag-move-count on a
 * writable GLOBAL, issue #14. v2 swaps the global word's one-bit flags on and hot AND adds a
 * third (cold) that pack sets, so pack's in-place flag stores (`or/and [rip+g],imm`) grow
 * from 4 to 5: bitfield-globals.ts compares equal counts only, flag-moves.ts words through a
 * register base only. Both versions print the same line; patched, the new unpack reads old
 * pack's `on` as `hot`.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "global-flag-move-count"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned on : 1;
  unsigned hot : 1;
  unsigned rest : 30;
#else
  unsigned hot : 1;
  unsigned on : 1;
  unsigned cold : 1;
  unsigned rest : 29;
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
