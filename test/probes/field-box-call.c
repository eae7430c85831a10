/*
 * field-box-call (a probe, test/probe-field-box-live.test.ts): field-box with the box's member
 * stored before an earlier call. A field added at the end of a struct (v1 {a, b}, v2 {a, b, c}),
 * read by v2's show. show stores its argument in a local box (`b.obj = r`), then calls tag_of
 * for b.tag and only then hands &b to reroute, which points b.obj at another object; show reads
 * that object's +0x10. gcc -O0..-Os and clang -O0/-O1 store b.obj before the call to tag_of: an
 * object's extent cannot be cut at the call before its handoff (b.obj would pass for a separate
 * spill of r, and the old `[b.obj+0x10]` would cover v2's `[r+0x10]`). Changed: make, show.
 */
#define HP_NAME "field-box-call"
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

/* The same in both versions: the box's tag, computed after b.obj is stored. */
HP_FN long long tag_of(long long k) { return k + 1; }

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
  struct box b;
  b.obj = r;
  b.tag = tag_of(r->b);
  reroute(&b);
  long long s = r->a + ((const struct other *)b.obj)->z;
#if HP_VERSION == 2
  s = s * 2 + r->c;
#endif
  return s;
}

#include "red-pool.h"
