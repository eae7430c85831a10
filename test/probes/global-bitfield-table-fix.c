/*
 * global-bitfield-table-fix (a probe, test/probe-globals-live.test.ts): the negative twin of
 * global-bitfield-table. The indexed global array keeps one layout in both versions and pack
 * is the same; the fix in unpack tests another flag bit (v1: on, v2: hot), so only a READ
 * mask of the entries' word changes. Hotpatchable, and patched live the process prints v2's
 * lines for the entries v1 packed.
 * Changed function: unpack.
 */
#define HP_NAME "global-bitfield-table-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

static struct flags g_table[64];

HP_FN void pack(int i, unsigned kind, unsigned level) {
  g_table[i].kind = kind;
  g_table[i].level = level;
  g_table[i].on = 1;
  g_table[i].hot = level & 1;
}

HP_FN int unpack(int i) {
#if HP_VERSION == 1
  return (int)(g_table[i].kind * 100 + g_table[i].level * 2 + g_table[i].on);
#else
  return (int)(g_table[i].kind * 100 + g_table[i].level * 2 + g_table[i].hot * 7);
#endif
}

static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 3; k++) pack(k * 7 + 1, (unsigned)k + 3, (unsigned)(5 * k + 11));
    g_made = 1;
  }
  for (int k = 0; k < 3; k++) {
    out_str(o, "unpack(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, unpack(k * 7 + 1));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
