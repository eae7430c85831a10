/*
 * red-tail-local (the over-refusal check of red-tail's loop rules): a loop over a LOCAL array
 * whose bound grows (N 4 -> 8 of a `volatile int a[8]` on the stack), next to a field of the
 * argument read once. No structure changed: the loop's accesses are on the frame, not through
 * the pointer the function received, so it stays hotpatchable. Changed: loc.
 */
#define HP_NAME "red-tail-local"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
#define N 4
#else
#define N 8
#endif

struct t { int n; int arr[2]; };

HP_EXPORT HP_FN int loc(const struct t *o, int k) {
  volatile int a[8] = { 0 };
  for (int i = 0; i < N; i++) a[i] = k + i + o->n;
  int s = 0;
  for (int i = 0; i < 8; i++) s += a[i];
  return s;
}

static void hp_vectors(hp_out *o) {
  struct t x = { 5, { 1, 2 } };
  out_str(o, "loc = ");
  out_int(o, loc(&x, 3));
  out_nl(o);
}
