/*
 * red-trip-ptr-fix (the twin of red-trip-ptr): the same struct in both versions, written
 * and read by the same loops counted from k to k + N with a pointer stepping beside the
 * counter; v2's fill stores twice the counter (a logic fix, no layout change). Changed: fill.
 */
#define HP_NAME "red-trip-ptr-fix"
#include "../../samples/common/harness.h"

#define N 16

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  int *p = o->arr;
#if HP_VERSION == 1
  for (int j = k; j != k + N; j++) *p++ = j;
#else
  for (int j = k; j != k + N; j++) *p++ = 2 * j;
#endif
}

HP_EXPORT HP_FN int sum(const struct t *o, int k) {
  int s = 0;
  const int *p = o->arr;
  for (int j = k; j != k + N; j++) s += *p++;
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x, 0));
  out_nl(o);
}
