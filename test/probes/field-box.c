/*
 * field-box (a probe, test/probe-field-box-live.test.ts): a field added at the end of a struct
 * (v1 {a, b}, v2 {a, b, c}), read by v2's show. show keeps its argument in a local struct whose
 * address it hands to a helper (`struct box b = {0, r}; reroute(&b)`), which points b.obj at
 * another object; show then reads that object's +0x10. The call receives the box's first byte,
 * b.obj lies 8 bytes above it: the reload of b.obj after the call is not the argument, so the
 * old show's `[b.obj+0x10]` is no access of r and does not cover v2's `[r+0x10]`. Objects
 * v1's make built have no c. Changed: make, show.
 */
#define HP_NAME "field-box"
#include "../../samples/common/harness.h"

struct rec {
  long long a;
  long long b;
#if HP_VERSION == 2
  long long c;
#endif
};

struct other { long long x, y, z; };
static struct other g_other = { 1, 2, 700 };

struct box { long long tag; const void *obj; };

/* The same in both versions: points the box at g_other. */
HP_FN void reroute(struct box *b) {
  b->tag = 1;
  b->obj = &g_other;
}

HP_FN void make(void *p, int k) {
  struct rec *o = p;
  o->a = k;
  o->b = k * 3;
#if HP_VERSION == 2
  o->c = k * 1000;
#endif
}

HP_FN long long show(const void *p) {
  const struct rec *r = p;
  struct box b = { 0, r };
  reroute(&b);
  long long s = r->a + ((const struct other *)b.obj)->z;
#if HP_VERSION == 2
  s = s * 2 + r->c;
#endif
  return s;
}

#include "red-pool.h"
