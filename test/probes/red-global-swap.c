/*
 * red-global-swap (a probe): a .bss global struct's two int fields swap places (v1 {a, b},
 * v2 {b, a}). set fills it on the first call, get reads it on every call: after a patch, v2's
 * get reads the values v1's set left. Changed: set, get.
 */
#define HP_NAME "red-global-swap"
#include "../../samples/common/harness.h"

static struct {
#if HP_VERSION == 1
  int a;
  int b;
#else
  int b;
  int a;
#endif
} g_pair;

HP_FN void set(int k) {
  g_pair.a = k * 3;
  g_pair.b = k * 5 + 1;
}

HP_FN long long get(void) {
  return g_pair.a * 100 + g_pair.b;
}

static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    set(4);
    g_made = 1;
  }
  out_str(o, "get() = ");
  out_int(o, get());
  out_nl(o);
  hp_unlock(&g_lock);
}
