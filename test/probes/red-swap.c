/*
 * red-swap (a probe, test/probe-red-live.test.ts): two int fields swap places (v1 {a, b},
 * v2 {b, a}); no size or offset set changes, only which field each offset holds. Objects v1's
 * make filled, read by v2's show, answer with a and b exchanged. Changed: make, show.
 */
#define HP_NAME "red-swap"
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
  struct s *o = p;
  o->a = k * 3;
  o->b = k * 5 + 1;
  o->c = k;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->a * 100 + o->b * 10 + o->c;
}

#include "red-pool.h"
