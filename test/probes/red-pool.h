/*
 * The hp_run body shared by the red-* layout probes (test/probe-red-live.test.ts), included
 * after the probe's `make(void *obj, int k)` and `show(const void *obj)`: the first call makes
 * four objects in a .bss pool (64 bytes each, opaque here, so this body is the same in every
 * version), every call prints show of each. Objects made by v1's make meet v2's show after
 * a patch.
 */
static long long g_pool[4][8];
static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 4; k++) make(g_pool[k], k + 1);
    g_made = 1;
  }
  for (int k = 0; k < 4; k++) {
    out_str(o, "show(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, show(g_pool[k]));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
