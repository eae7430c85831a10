/*
 * global-bitfield-fix (a probe, test/probe-globals-live.test.ts): the negative twin of
 * global-bitfield-reorder. The global struct keeps one layout in both versions and pack is the same;
 * the fix in unpack tests another flag bit (v1: on, v2: hot), so only a READ mask of the
 * global's word changes. GLOBAL_BITFIELD_CHANGED (compiler/diff/bitfield-globals.ts) must let
 * it through, and patched live the process prints v2's line for the word v1 packed.
 * Changed function: unpack.
 */
#define HP_NAME "global-bitfield-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

static struct flags g_word;

HP_FN void pack(unsigned kind, unsigned level) {
  g_word.kind = kind;
  g_word.level = level;
  g_word.on = 1;
  g_word.hot = level & 1;
}

HP_FN int unpack(void) {
#if HP_VERSION == 1
  return (int)(g_word.kind * 100 + g_word.level * 2 + g_word.on);
#else
  return (int)(g_word.kind * 100 + g_word.level * 2 + g_word.hot * 7);
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
