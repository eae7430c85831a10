/*
 * red-global-widen (a probe): a .bss counter widens from int to long long. bump adds to it on
 * every call (the first call from -5); total reads it. v1's value sign-extended is what v2
 * would hold; read as 8 bytes after a patch, its upper half is whatever v1 kept beside it.
 * Changed: bump, total.
 */
#define HP_NAME "red-global-widen"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
static int g_total;
#else
static long long g_total;
#endif
static int g_next = 77;

HP_FN void bump(int k) {
  g_total += k;
  g_next += 1;
}

HP_FN long long total(void) {
  return g_total * 10 + g_next;
}

static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    bump(-50);
    g_made = 1;
  }
  bump(3);
  out_str(o, "total() = ");
  out_int(o, total());
  out_nl(o);
  hp_unlock(&g_lock);
}
