/*
 * bitfield-signed (a probe, test/probe-bitfield-gaps-live.test.ts): bitfield-reorder with
 * SIGNED fields. struct flags keeps its size; kind (3 bits) and level (5 bits) swap places.
 * A signed field is read by sign-extending it: `shl eax,n; sar eax,m` (the field shifted to
 * the top of the register and back) or `movsx eax,byte [m]; sar eax,n`, not by the unsigned
 * `shr`/`and`. The first hp_run call packs three objects (pack), every call decodes them
 * (unpack, whose formula also changes). Patched live, new unpack decodes v1's words with
 * v2's layout. Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-signed"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  signed kind : 3;
  signed level : 5;
#else
  signed level : 5;
  signed kind : 3;
#endif
  unsigned on : 1;
};

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = (int)kind - 2;
  f->level = (int)level - 7;
  f->on = 1;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return f->level * 2;
#else
  return f->level * 3;
#endif
}

/* The packing runs in its own unchanged function: hp_run, which decodes, references unpack
 * alone, so --skip-refused may carry unpack while pack stays old. */
static struct flags g_items[3];
static int g_made;
static volatile long g_lock;

HP_FN void make_items(void) {
  for (int k = 0; k < 3; k++) pack(&g_items[k], (unsigned)k + 1, (unsigned)(3 * k + 2));
}

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    make_items();
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
