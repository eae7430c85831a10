/*
 * field-moved (a probe, test/probe-field-moved-live.test.ts): a field inserted before the
 * last field of a structure reached through a pointer loaded from another object (v1 inner
 * {a, flag}, v2 {a, extra, flag}: flag moves from +0x8 to +0x10). show reads o->in->flag and
 * fill writes in->flag: in each changed body one access moved, every other instruction the
 * same. layout-shift.ts needs two fields moved by one amount and added-field.ts sees an
 * argument's own fields only, so show was hotpatchable; patched live, v2's show reads +0x10 of
 * inners v1's fill wrote (zero there) and prints neither version's line. Changed: fill, show.
 */
#define HP_NAME "field-moved"
#include "../../samples/common/harness.h"

struct inner {
  long long a;
#if HP_VERSION == 2
  long long extra;
#endif
  int flag;
};

struct outer {
  long long n;
  struct inner *in;
};

HP_FN void fill(struct inner *in, int k) {
  in->a = 100 * k;
  in->flag = -k;
}

/* The same in both versions: the inner lives in the pool object's upper half. */
HP_FN void make(void *p, int k) {
  struct outer *o = p;
  o->n = k;
  o->in = (struct inner *)((long long *)p + 4);
  fill(o->in, k);
}

HP_FN long long show(const void *p) {
  const struct outer *o = p;
  const struct inner *in = o->in;
  return o->n * 1000 + in->a + in->flag * 10;
}

#include "red-pool.h"
