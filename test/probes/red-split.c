/*
 * red-split (a probe): an int field becomes two shorts at the same offset (v1 {int x; int y},
 * v2 {short x; short w; int y}), the new w set to 7 by make and added by show. v1's objects
 * hold x's upper half (0) where v2's show reads w. Changed: make, show.
 */
#define HP_NAME "red-split"
#include "../../samples/common/harness.h"

struct s {
#if HP_VERSION == 1
  int x;
#else
  short x;
  short w;
#endif
  int y;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->x = k + 1;
#if HP_VERSION == 2
  o->w = 7;
#endif
  o->y = k * 2;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->x * 1000 + o->y;
#else
  return o->x * 1000 + o->y + o->w;
#endif
}

#include "red-pool.h"
