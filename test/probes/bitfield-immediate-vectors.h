/*
 * The hp_run body of the bit-field immediate probes (bitfield-immediate-reorder.c,
 * bitfield-immediate-fix.c), included after their struct flags, init and unpack: the first
 * call initialises an object in .bss, every call prints unpack of it.
 */
static struct flags g_item;
static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    init(&g_item);
    g_made = 1;
  }
  out_str(o, "unpack() = ");
  out_int(o, unpack(&g_item));
  out_nl(o);
  hp_unlock(&g_lock);
}
