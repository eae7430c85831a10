/*
 * red-widen-fix (a probe, red-widen's twin): the same struct in both versions (an int, then
 * a long long); show's logic changes (v2 adds a twice). Hotpatchable; patched live it prints v2.
 * Changed: show.
 */
#define HP_NAME "red-widen-fix"
#include "../../samples/common/harness.h"

struct s {
  int a;
  long long b;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->a = -7 * k;
  o->b = k * 1000;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->a + o->b;
#else
  return 2 * o->a + o->b;
#endif
}

#include "red-pool.h"
