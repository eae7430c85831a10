/*
 * The hp_run body shared by bitfield-low-swap.c and bitfield-low-fix.c, included after their
 * struct flags, init, set_c, get_ab and get_c: the first call packs three words (make: init,
 * then set_c), every call prints get_ab and get_c of each.
 */
/* Each changed function has its own unchanged caller: --skip-refused leaves out a carried
 * function that shares an unchanged caller with one it leaves old (compiler/diff/left-old.ts). */
HP_FN void make(struct flags *w, unsigned a, unsigned b, unsigned c) {
  init(w, a, b);
  set_c(w, c);
}

HP_FN int show_ab(const struct flags *w) {
  return get_ab(w) + 1000;
}

HP_FN int show_c(const struct flags *w) {
  return get_c(w) + 1000;
}

static struct flags g_items[3];
static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 3; k++) make(&g_items[k], (unsigned)k + 1, (unsigned)(2 * k + 5), (unsigned)(7 * k + 9));
    g_made = 1;
  }
  for (int k = 0; k < 3; k++) {
    out_str(o, "ab(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, show_ab(&g_items[k]));
    out_str(o, " c = ");
    out_int(o, show_c(&g_items[k]));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
