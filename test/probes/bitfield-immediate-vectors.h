/*
 * The hp_run body of the bit-field immediate, fill, rodata and memcpy probes
 * (bitfield-immediate-*.c, bitfield-fill*.c, bitfield-rodata*.c, bitfield-memcpy*.c), included
 * after their init and unpack of an HP_VECTORS_ITEM (default: struct flags): the first call
 * initialises an object in .bss, every call prints unpack of it.
 */
#ifndef HP_VECTORS_ITEM
#define HP_VECTORS_ITEM struct flags
#endif
static HP_VECTORS_ITEM g_item;
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
