/*
 * global-bitfield-table (a probe, test/probe-globals-live.test.ts): global-bitfield-reorder
 * on an indexed writable GLOBAL ARRAY, issue #14. `static struct flags table[64];
 * table[i].level = x` is reached through the table's address in a register and an index
 * (`lea rdx,[rip+table]; mov eax,[rdx+rcx*4]; and; or; mov [rdx+rcx*4],eax`), neither a RIP
 * operand (bitfield-globals.ts) nor a register base without index (bitfield-layout.ts). The
 * bit-fields swap places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind 5-7). The first
 * hp_run call packs three entries (pack), every call decodes them (unpack, whose formula also
 * changes, so v1 and v2 print different lines). Patched live, new unpack decodes words old
 * pack wrote with the new layout.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "global-bitfield-table"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

static struct flags g_table[64];

HP_FN void pack(int i, unsigned kind, unsigned level) {
  g_table[i].kind = kind;
  g_table[i].level = level;
  g_table[i].on = 1;
}

HP_FN int unpack(int i) {
#if HP_VERSION == 1
  return (int)(g_table[i].kind * 100 + g_table[i].level * 2 + g_table[i].on);
#else
  return (int)(g_table[i].kind * 100 + g_table[i].level * 3 + g_table[i].on);
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
