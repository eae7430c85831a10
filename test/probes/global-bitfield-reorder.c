/*
 * global-bitfield-reorder (a probe, test/probe-globals-live.test.ts): bitfield-reorder's struct as a
 * writable GLOBAL, reached through RIP (`mov eax,[rip+g_word]; and; or; mov [rip+g_word],eax`)
 * rather than through a pointer argument. The bit-fields swap places (v1: kind bits 0-2,
 * level 3-7; v2: level 0-4, kind 5-7); the global keeps its size, offsets and access sizes.
 * The first hp_run call packs the global (pack), every call decodes it (unpack, whose formula
 * also changes, so v1 and v2 print different lines). Patched live, new unpack decodes the
 * word old pack wrote with the new layout.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "global-bitfield-reorder"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

static struct flags g_word;

HP_FN void pack(unsigned kind, unsigned level) {
  g_word.kind = kind;
  g_word.level = level;
  g_word.on = 1;
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
    pack(3, 11);
    g_made = 1;
  }
  out_str(o, "unpack() = ");
  out_int(o, unpack());
  out_nl(o);
  hp_unlock(&g_lock);
}
