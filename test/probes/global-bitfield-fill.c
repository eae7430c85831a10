/*
 * global-bitfield-fill (a probe, test/probe-globals-live.test.ts): fields of a writable GLOBAL
 * set to all ones by lone in-place `or [rip+g],imm` of several bits (`g_word.kind = 7`: `or
 * byte [rip+g_word],0x7`), no `and`, no read into a register. kind and level swap places (v1
 * kind bits 0-2, level 3-7; v2 level 0-4, kind 5-7): fill's immediates move (0x7 -> 0xe0 and
 * 0xf8 -> 0x1f) but a lone `or` of several bits was neither a bit-field store nor a one-bit
 * flag. Patched live, the new unpack decodes the word old fill set with the new layout.
 * Changed functions: fill, unpack.
 */
#define HP_NAME "global-bitfield-fill"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned kind : 3;
  unsigned level : 5;
#else
  unsigned level : 5;
  unsigned kind : 3;
#endif
  unsigned rest : 24;
};

static struct flags g_word;

HP_FN void fill(unsigned which) {
  if (which & 1) g_word.kind = 7;
  __asm__ volatile("" ::: "memory");
  if (which & 2) g_word.level = 31;
}

HP_FN int unpack(void) {
  return (int)(g_word.kind * 100 + g_word.level);
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
