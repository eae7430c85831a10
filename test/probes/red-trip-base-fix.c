/*
 * red-trip-base-fix (the twin of red-trip-base): the same struct in both versions, written
 * and read by the same loops whose counter starts at an argument and indexes the array less
 * its start; v2's fill stores twice the counter (a logic fix, no layout change). Changed: fill.
 */
#define HP_NAME "red-trip-base-fix"
#include "../../samples/common/harness.h"

#define N 16

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
#if HP_VERSION == 1
  for (int i = k; i < k + N; i++) o->arr[i - k] = i;
#else
  for (int i = k; i < k + N; i++) o->arr[i - k] = 2 * i;
#endif
}

HP_EXPORT HP_FN int sum(const struct t *o, int k) {
  int s = 0;
  for (int i = k; i < k + N; i++) s += o->arr[i - k];
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x, 0));
  out_nl(o);
}
