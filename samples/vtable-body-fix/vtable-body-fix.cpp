/*
 * vtable-body-fix: negative twin of vtable-append. The same classes and the same static pool
 * of objects built by the first hp_run call (make_shape); v2 fixes the body of one virtual
 * method, tri::area (rounds half up), and no vtable changes layout. Patched live, a virtual
 * call on an object built before the patch goes through its OLD vtable to the OLD entry of
 * tri::area, which the redirect sends to the new body: hotpatchable, and the live output is
 * v2's.
 * Changed function: tri::area (_ZNK3tri4areaEv).
 *
 * objdump -d: _ZNK3tri4areaEv adds 1 before the halving in v2; objdump -s -j .rdata: both
 * vtables hold the same one code pointer in v1 and v2.
 */
#define HP_NAME "vtable-body-fix"
#include "../common/harness.h"
#include <new>

struct shape {
  long long w, h;
  virtual long long area() const = 0;
};

struct rect : shape {
  HP_FN long long area() const override { return w * h; }
};

struct tri : shape {
#if HP_VERSION == 1
  HP_FN long long area() const override { return w * h / 2; }
#else
  HP_FN long long area() const override { return (w * h + 1) / 2; }
#endif
};

/* Storage for objects that outlive one hp_run call (and the patch). */
static union {
  char bytes[64];
  long long align;
} g_pool[2];
static shape *g_shapes[2];
static int g_made;
/* hp_run runs on the host's worker thread too: one vector loop at a time. */
static volatile long g_lock;

HP_EXTERN_C HP_FN shape *make_shape(int kind, void *mem, long long w, long long h) {
  shape *s = kind ? static_cast<shape *>(new (mem) tri) : static_cast<shape *>(new (mem) rect);
  s->w = w;
  s->h = h;
  return s;
}

HP_EXTERN_C HP_FN long long report(const shape *s) { return s->area() * 10; }

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 2; k++) g_shapes[k] = make_shape(k, &g_pool[k], 3 + 2 * k, 5 + 2 * k);
    g_made = 1;
  }
  for (int k = 0; k < 2; k++) {
    out_str(o, "report(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, report(g_shapes[k]));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
