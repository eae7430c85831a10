/*
 * field-box-call-fix (a probe, field-box-call's twin): the same struct in both versions, the same
 * box stored before the call to tag_of and handed to reroute; v2's show doubles the sum (a pure
 * logic change, no new field). Must stay hotpatchable. Changed: show.
 */
#define HP_NAME "field-box-call-fix"
#include "../../samples/common/harness.h"

struct rec { long long a; long long b; };

struct other { long long x, y, z; };
static struct other g_other = { 1, 2, 700 };

struct box { long long tag; const void *obj; };

HP_FN void reroute(struct box *b) {
  b->tag = 1;
  b->obj = &g_other;
}

HP_FN long long tag_of(long long k) { return k + 1; }

HP_FN void make(void *p, int k) {
  struct rec *o = p;
  o->a = k;
  o->b = k * 3;
}

HP_FN long long show(const void *p) {
  const struct rec *r = p;
  struct box b;
  b.obj = r;
  b.tag = tag_of(r->b);
  reroute(&b);
  long long s = r->a + ((const struct other *)b.obj)->z;
#if HP_VERSION == 2
  s = s * 2 + r->a;
#endif
  return s;
}

#include "red-pool.h"
