/*
 * red-tail-end (a probe): red-tail's trailing array grown (v1 {int n; int arr[16]}, v2
 * {int n; int arr[24]}), walked by end-pointer loops (`for (p = o->arr; p != o->arr + N; p++)`):
 * the loop compares a pointer with `base + 4 + 4*N` (gcc: `lea end,[rcx+0x44]`, `cmp p,end`),
 * or a byte offset with `4*N` (`cmp rax,0x40`), never an index with N. Objects old code
 * allocated are the old size; the new loops run past them. Changed: fill, sum.
 */
#define HP_NAME "red-tail-end"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
#define N 16
#else
#define N 24
#endif

struct t { int n; int arr[N]; };

HP_EXPORT HP_FN void fill(struct t *o, int k) {
  for (int *p = o->arr; p != o->arr + N; p++) *p = k++;
}

HP_EXPORT HP_FN int sum(const struct t *o) {
  int s = 0;
  for (const int *p = o->arr; p != o->arr + N; p++) s += *p;
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 0 };
  fill(&x, 10);
  out_str(o, "sum = ");
  out_int(o, sum(&x));
  out_nl(o);
}
