/*
 * vtable-reorder: two virtual methods swap places in the vtable, so the slot count stays and
 * every method moves. struct shape declares area, sides in v1 and sides, area in v2; report
 * calls both in either version (v2 weighs the area more), so it calls the same two slot
 * offsets, in the other order. The objects sit in a static pool that the first hp_run call
 * fills (make_shape) and later calls reuse: after a live patch new report would call old
 * sides for area and old area for sides. The compiler must refuse ("code pointer table ...
 * 2 slots, reordered from slot 0", compiler/diff/code-tables.ts); the slot caller's old body
 * calls the same offsets, only in another order.
 * Changed functions: report (slot offsets swapped), make_shape (same code, it installs the
 * changed vtables).
 *
 * objdump -d: report calls `*(%rax)` then `*0x8(%rax)` in v1, `*0x8(%rax)` then `*(%rax)` in v2.
 */
#define HP_NAME "vtable-reorder"
#include "../common/harness.h"
#include <new>

struct shape {
  long long w, h;
#if HP_VERSION == 1
  virtual long long area() const = 0;
  virtual long long sides() const = 0;
#else
  virtual long long sides() const = 0;
  virtual long long area() const = 0;
#endif
};

struct rect : shape {
  HP_FN long long area() const override { return w * h; }
  HP_FN long long sides() const override { return 4; }
};

struct tri : shape {
  HP_FN long long area() const override { return w * h / 2; }
  HP_FN long long sides() const override { return 3; }
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

HP_EXTERN_C HP_FN long long report(const shape *s) {
#if HP_VERSION == 1
  return s->area() * 10 + s->sides();
#else
  return s->area() * 100 + s->sides();
#endif
}

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 2; k++) g_shapes[k] = make_shape(k, &g_pool[k], 3 + k, 4 + 2 * k);
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
