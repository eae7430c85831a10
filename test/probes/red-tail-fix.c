/*
 * red-tail-fix (the twin of red-tail): the same struct in both versions; v2's sum weighs
 * the last element twice. Changed: sum.
 */
#define HP_NAME "red-tail-fix"
#include "../../samples/common/harness.h"

struct t { int n; int arr[2]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  for (int i = 0; i < 2; i++) o->arr[i] = k + i;
}

HP_EXPORT HP_FN int sum(const struct t *o) {
#if HP_VERSION == 1
  return o->arr[0] + o->arr[1];
#else
  return o->arr[0] + 2 * o->arr[1];
#endif
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x));
  out_nl(o);
}
