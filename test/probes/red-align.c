/*
 * red-align (a probe): a field's alignment grows (`int x` -> `_Alignas(8) int x`) after a
 * leading int, moving x from +4 to +8 and y from +8 to +12; no field is added. Changed: make, show.
 */
#define HP_NAME "red-align"
#include "../../samples/common/harness.h"

struct s {
  int n;
#if HP_VERSION == 1
  int x;
#else
  _Alignas(8) int x;
#endif
  int y;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
  o->x = k * 10 + 3;
  o->y = k * 7;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->n * 100000LL + o->x * 100LL + o->y;
}

#include "red-pool.h"
