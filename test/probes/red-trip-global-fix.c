/*
 * red-trip-global-fix (the twin of red-trip-global): the same struct in both versions, written
 * and read by the same loops whose counter starts from a global, an index stepping beside it;
 * v2's fill stores twice the counter (a logic fix, no layout change). Changed: fill.
 */
#define HP_NAME "red-trip-global-fix"
#include "../../samples/common/harness.h"

#define N 16

struct t { int n; int arr[N]; };

int g_base = 10;

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  int i = 0;
  (void)k;
#if HP_VERSION == 1
  for (int j = g_base; j != g_base + N; j++, i++) o->arr[i] = j;
#else
  for (int j = g_base; j != g_base + N; j++, i++) o->arr[i] = 2 * j;
#endif
}

HP_EXPORT HP_FN int sum(const struct t *o, int k) {
  int s = 0, i = 0;
  (void)k;
  for (int j = g_base; j != g_base + N; j++, i++) s += o->arr[i];
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x, 0));
  out_nl(o);
}
