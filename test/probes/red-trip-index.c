/*
 * red-trip-index (a probe): red-tail-end's trailing array grown (v1 {int n; int arr[16]}, v2
 * {int n; int arr[24]}), written by a loop counted from k to k + N with an index stepping
 * beside the counter (`for (i = 0, j = k; j != k + N; j++, i++) o->arr[i] = j;`): no compare
 * names the index or a constant bound, only the counter and its end (`k + N`). Objects old
 * code allocated are the old size; the new loop runs past them. Changed: fill, sum.
 */
#define HP_NAME "red-trip-index"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
#define N 16
#else
#define N 24
#endif

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  int i = 0;
  for (int j = k; j != k + N; j++, i++) o->arr[i] = j;
}

/* The count does not depend on k (red-importer.c calls sum(o) with whatever rdx holds). */
HP_EXPORT HP_FN int sum(const struct t *o, int k) {
  int s = 0, i = 0;
  for (int j = k; j != k + N; j++, i++) s += o->arr[i];
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x, 0));
  out_nl(o);
}
