/*
 * global-bitfield-immediate (a probe, test/probe-globals-live.test.ts): bitfield-immediate-reorder's
 * word as a writable GLOBAL: init assigns it from constants, one `mov dword [rip+g_word],imm`
 * (v1 0x15b, v2 0x16b: kind and level swap places), unpack decodes it through RIP. Patched
 * live, new unpack decodes the word old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "global-bitfield-immediate"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

static struct flags g_word;

HP_FN void init(void) {
  g_word = (struct flags){ .kind = 3, .level = 11, .on = 1 };
}

HP_FN int unpack(void) {
#if HP_VERSION == 1
  return (int)(g_word.kind * 100 + g_word.level * 2 + g_word.on);
#else
  return (int)(g_word.kind * 100 + g_word.level * 3 + g_word.on);
#endif
}

static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    init();
    g_made = 1;
  }
  out_str(o, "unpack() = ");
  out_int(o, unpack());
  out_nl(o);
  hp_unlock(&g_lock);
}
