/*
 * red-swap-fix (the twin of red-swap): the same struct in both versions; v2's show fixes its
 * arithmetic (b weighs 20, not 10). Changed: show.
 */
#define HP_NAME "red-swap-fix"
#include "../../samples/common/harness.h"

struct s {
  int a;
  int b;
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
#if HP_VERSION == 1
  return o->a * 100 + o->b * 10 + o->c;
#else
  return o->a * 100 + o->b * 20 + o->c;
#endif
}

#include "red-pool.h"
