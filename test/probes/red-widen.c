/*
 * red-widen (a probe): an int field widens to long long at the same offset, over the padding
 * before the next 8-byte field (v1 {int a; long long b}, v2 {long long a; long long b}).
 * Every new access lies at an old offset and the old body reaches past it, so neither the
 * added-field nor the grown-tail rule sees it; the new loads read 4 bytes more than any old
 * access there, bytes old code never touched. v1's make stores a negative a: v2's show reads
 * it with the padding's zeros above, a large positive number. Changed: make, show.
 */
#define HP_NAME "red-widen"
#include "../../samples/common/harness.h"

struct s {
#if HP_VERSION == 1
  int a;
#else
  long long a;
#endif
  long long b;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->a = -7 * k;
  o->b = k * 1000;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
  return o->a + o->b;
}

#include "red-pool.h"
