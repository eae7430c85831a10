/*
 * The hp_run body shared by the bit-field probes (bitfield-reorder.c, bitfield-flag-fix.c),
 * included after their struct flags, pack and unpack: the first call packs three objects
 * into a .bss array, every call prints unpack of each.
 */
static struct flags g_items[3];
static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 3; k++) pack(&g_items[k], (unsigned)k + 1, (unsigned)(3 * k + 2));
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
