/*
 * red-float (a probe): a field keeps its offset and size but changes type, int -> float.
 * v1's make stores k * 7 as an int, v2's as a float; both shows print 10 times it. v2's show
 * reading an int v1 stored sees a denormal float (about 0). Changed: make, show.
 */
#define HP_NAME "red-float"
#include "../../samples/common/harness.h"

struct s {
  int n;
#if HP_VERSION == 1
  int v;
#else
  float v;
#endif
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
  o->v = k * 7;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->n * 1000 + (long long)(o->v * 10);
}

#include "red-pool.h"
