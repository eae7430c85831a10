/*
 * red-ptr-fix (the twin of red-ptr): the field stays a pointer in both versions; v2's make
 * clamps the index (the same entries for the pool's k) and v2's show adds the entry after the
 * one pointed at, the pointer passed to a helper instead of dereferenced in place. Changed:
 * make, show.
 */
#define HP_NAME "red-ptr-fix"
#include "../../samples/common/harness.h"

static long long g_vals[6] = { 10, 20, 30, 40, 50, 60 };

struct s {
  int n;
  long long *v;
};

HP_FN long long next_of(const long long *p) { return p[0] + p[1]; }

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
#if HP_VERSION == 1
  o->v = &g_vals[k];
#else
  o->v = &g_vals[k < 0 ? 0 : k > 4 ? 4 : k];
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->n * 1000 + *o->v;
#else
  return o->n * 1000 + next_of(o->v);
#endif
}

#include "red-pool.h"
