/*
 * red-swap-writer (a probe, test/probe-red-live.test.ts): two int fields swap places (v1
 * {a, b}, v2 {b, a}) and v2's make also changes its logic (c clamped to 1000 through a new
 * local, the same for every k the probe makes), so make's old and new bodies do not align
 * around its stores: the values it stores (k*3, k*5 + 1) trade offsets, but no aligned store
 * shows it. show only reads, and its reads exchange offsets exactly as red-swap-expr's fix
 * does. Objects v1's make filled, read by v2's show, answer with a and b exchanged.
 * Changed: make, show.
 */
#define HP_NAME "red-swap-writer"
#include "../../samples/common/harness.h"

struct s {
#if HP_VERSION == 1
  int a;
  int b;
#else
  int b;
  int a;
#endif
  long long c;
};

HP_FN void make(void *p, int k) {
#if HP_VERSION == 2
  long long limit = 1000;
#endif
  struct s *o = p;
  o->a = k * 3;
  o->b = k * 5 + 1;
#if HP_VERSION == 1
  o->c = k;
#else
  o->c = k > limit ? limit : k;
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->a * 100 + o->b * 10 + o->c;
}

#include "red-pool.h"
