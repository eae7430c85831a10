/*
 * red-tail-end-fix (the twin of red-tail-end): the same struct in both versions, walked by
 * the same end-pointer loops; v2's sum weighs each element twice (a logic fix, no layout
 * change). Changed: sum.
 */
#define HP_NAME "red-tail-end-fix"
#include "../../samples/common/harness.h"

#define N 16

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  for (int *p = o->arr; p != o->arr + N; p++) *p = k++;
}

HP_EXPORT HP_FN int sum(const struct t *o) {
  int s = 0;
#if HP_VERSION == 1
  for (const int *p = o->arr; p != o->arr + N; p++) s += *p;
#else
  for (const int *p = o->arr; p != o->arr + N; p++) s += 2 * *p;
#endif
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x));
  out_nl(o);
}
