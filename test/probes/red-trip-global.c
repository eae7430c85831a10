/*
 * red-trip-global (a probe): red-tail-end's trailing array grown (v1 {int n; int arr[16]}, v2
 * {int n; int arr[24]}), written by a loop whose counter starts from a global, with an index
 * stepping beside it (`for (i = 0, j = g_base; j != g_base + N; j++, i++) o->arr[i] = j;`):
 * the start is read from memory, not an argument, yet the count N does not depend on it.
 * Objects old code allocated are the old size; the new loop runs past them. Changed: fill, sum.
 */
#define HP_NAME "red-trip-global"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
#define N 16
#else
#define N 24
#endif

struct t { int n; int arr[N]; };

int g_base = 10;

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  int i = 0;
  (void)k;
  for (int j = g_base; j != g_base + N; j++, i++) o->arr[i] = j;
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
