/*
 * red-trip-base (a probe): red-tail-end's trailing array grown (v1 {int n; int arr[16]}, v2
 * {int n; int arr[24]}), written by a loop whose counter starts at an argument and indexes
 * the array itself, less its start (`for (i = k; i < k + N; i++) o->arr[i - k] = i;`): the
 * access is `[o + idx*4 + disp]` with idx the counter or a register stepping beside it, and
 * no compare names a constant bound, only the counter and its end (`k + N`). Objects old
 * code allocated are the old size; the new loop runs past them. Changed: fill, sum.
 */
#define HP_NAME "red-trip-base"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
#define N 16
#else
#define N 24
#endif

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  for (int i = k; i < k + N; i++) o->arr[i - k] = i;
}

/* The count does not depend on k (red-importer.c calls sum(o) with whatever rdx holds). */
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
