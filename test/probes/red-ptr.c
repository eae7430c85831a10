/*
 * red-ptr (a probe): a pointer field becomes an int64 at the same offset (v1 holds a pointer
 * to a static table entry, show dereferences it; v2 holds the value itself). v2's show
 * prints v1's pointers as numbers. Changed: make, show. (set_val writes the table in both
 * versions, so it stays in .data: otherwise v2, which never takes its address, moves it to
 * .rdata and the writable section shrinks, refused for that alone.)
 */
#define HP_NAME "red-ptr"
#include "../../samples/common/harness.h"

static long long g_vals[5] = { 10, 20, 30, 40, 50 };

HP_EXPORT HP_FN void set_val(int k, long long v) { g_vals[k % 5] = v; }

struct s {
  int n;
#if HP_VERSION == 1
  long long *v;
#else
  long long v;
#endif
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->n = k;
#if HP_VERSION == 1
  o->v = &g_vals[k];
#else
  o->v = g_vals[k];
#endif
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->n * 1000 + *o->v;
#else
  return o->n * 1000 + o->v;
#endif
}

#include "red-pool.h"
