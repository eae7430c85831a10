/*
 * red-swap-writer-fix (the twin of red-swap-writer): the same struct in both versions; v2's
 * make changes its logic the same way (c clamped to 1000) and stores k*3 and k*5 + 1 where
 * v1 did; v2's show fixes which weight each field takes (b*100 + a*10 for a*100 + b*10), a
 * lone read-only exchange. No writer stores the exchanged values: hotpatchable, and patched
 * it prints v2. Changed: make, show.
 */
#define HP_NAME "red-swap-writer-fix"
#include "../../samples/common/harness.h"

struct s {
  int a;
  int b;
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
#if HP_VERSION == 1
  return o->a * 100 + o->b * 10 + o->c;
#else
  return o->b * 100 + o->a * 10 + o->c;
#endif
}

#include "red-pool.h"
