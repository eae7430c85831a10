/*
 * bitfield-rotate (a probe, test/probe-bitfield-gaps-live.test.ts): a read-modify-write whose
 * fields move without a swap. Three 4-bit fields rotate (v1: a bits 0-3, b 4-7, c 8-11; v2: c
 * 0-3, a 4-7, b 8-11); pack writes all three in one body, so its mask and shift constants are
 * equal as a set in both versions (4-bit masks, shifts 4 and 8): what the constant-set
 * comparison (bitfield-layout.ts) cannot see, only which input lands where. unpack's formula
 * also changes (on weighs 2 in v2), so v1 and v2 print different lines. Patched live, new
 * unpack decodes old pack's words in the rotated layout.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-rotate"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned a : 4;
  unsigned b : 4;
  unsigned c : 4;
#else
  unsigned c : 4;
  unsigned a : 4;
  unsigned b : 4;
#endif
  unsigned on : 1;
};

HP_FN void pack(struct flags *f, unsigned a, unsigned b, unsigned c) {
  f->a = a;
  f->b = b;
  f->c = c;
  f->on = 1;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->a * 100 + f->b * 10 + f->c + f->on * 1000);
#else
  return (int)(f->a * 100 + f->b * 10 + f->c + f->on * 2000);
#endif
}

static struct flags g_items[3];
static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 3; k++) pack(&g_items[k], (unsigned)k + 1, (unsigned)k + 4, (unsigned)k + 7);
    g_made = 1;
  }
  for (int k = 0; k < 3; k++) {
    out_str(o, "unpack(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, unpack(&g_items[k]));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
