/*
 * red-swap-order (a twin of red-swap): the same struct in both versions; v2's make assigns
 * c, b, then a (statements reordered, the same values in the same fields) and show adds its
 * terms in another order, plus one (so v2 prints other lines). Objects v1 made read the same by v2's show. Changed: make, show
 * (when the compiler keeps the order).
 */
#define HP_NAME "red-swap-order"
#include "../../samples/common/harness.h"

struct s {
  int a;
  int b;
  long long c;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
#if HP_VERSION == 1
  o->a = k * 3;
  o->b = k * 5 + 1;
  o->c = k;
#else
  o->c = k;
  o->b = k * 5 + 1;
  o->a = k * 3;
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->a * 100 + o->b * 10 + o->c;
#else
  return o->c + o->b * 10 + o->a * 100 + 1;
#endif
}

#include "red-pool.h"
