/*
 * red-tail (a probe, with red-importer.c): an array field at the END of a struct grows
 * (v1 {int n; int arr[2]}, v2 {int n; int arr[4]}): no field moves, only the size grows.
 * The importer, compiled against v1, holds three adjacent 12-byte objects and calls fill
 * and sum; v2's fill writes arr[2] and arr[3] into the next object. Changed: fill, sum.
 */
#define HP_NAME "red-tail"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
#define N 2
#else
#define N 4
#endif

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  for (int i = 0; i < N; i++) o->arr[i] = k + i;
}

HP_EXPORT HP_FN int sum(const struct t *o) {
  int s = 0;
  for (int i = 0; i < N; i++) s += o->arr[i];
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x));
  out_nl(o);
}
