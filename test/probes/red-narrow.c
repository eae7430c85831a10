/*
 * red-narrow (a probe): an int field narrows to unsigned char and a new byte field `tag`
 * follows it in the old int's bytes (v1 {int kind; int y}, v2 {unsigned char kind;
 * unsigned char tag; int y}); make sets tag = 9, show adds it. v1's objects hold 0 there.
 * Changed: make, show.
 */
#define HP_NAME "red-narrow"
#include "../../samples/common/harness.h"

struct s {
#if HP_VERSION == 1
  int kind;
#else
  unsigned char kind;
  unsigned char tag;
#endif
  int y;
};

HP_FN void make(void *p, int k) {
  struct s *o = p;
  o->kind = k + 2;
#if HP_VERSION == 2
  o->tag = 9;
#endif
  o->y = k * 4;
}

HP_FN long long show(const void *p) {
  const struct s *o = p;
#if HP_VERSION == 1
  return o->kind * 100 + o->y;
#else
  return o->kind * 100 + o->y + o->tag;
#endif
}

#include "red-pool.h"
