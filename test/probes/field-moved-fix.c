/*
 * field-moved-fix (the twin of field-moved, test/probe-field-moved-live.test.ts): the same
 * shape with a pure logic fix. inner {a, flag, b} in both versions; v2's show reads in->b
 * where v1's reads in->flag. show's one access moves from +0x8 to +0xc, which no other
 * function repeats (fill, unchanged, writes both fields): a lone move, as a layout change
 * seen in one function alone would be too, passes. Changed: show.
 */
#define HP_NAME "field-moved-fix"
#include "../../samples/common/harness.h"

struct inner {
  long long a;
  int flag;
  int b;
};

struct outer {
  long long n;
  struct inner *in;
};

HP_FN void fill(struct inner *in, int k) {
  in->a = 100 * k;
  in->flag = -k;
  in->b = 3 * k;
}

HP_FN void make(void *p, int k) {
  struct outer *o = p;
  o->n = k;
  o->in = (struct inner *)((long long *)p + 4);
  fill(o->in, k);
}

HP_FN long long show(const void *p) {
  const struct outer *o = p;
  const struct inner *in = o->in;
#if HP_VERSION == 1
  return o->n * 1000 + in->a + in->flag * 10;
#else
  return o->n * 1000 + in->a + in->b * 10;
#endif
}

#include "red-pool.h"
