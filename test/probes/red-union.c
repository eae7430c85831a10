/*
 * red-union (a probe): a union's reading changes: v1 stores and reads member `i` (int), v2
 * stores and reads member `f` (float) of the same union at the same offset. v2's show reads
 * v1's int bits as a float. Changed: make, show.
 */
#define HP_NAME "red-union"
#include "../../samples/common/harness.h"

struct s {
  int tag;
  union { int i; float f; } u;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->tag = k;
#if HP_VERSION == 1
  o->u.i = k * 11;
#else
  o->u.f = (float)(k * 11);
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->tag * 1000 + o->u.i;
#else
  return o->tag * 1000 + (long long)o->u.f;
#endif
}

#include "red-pool.h"
