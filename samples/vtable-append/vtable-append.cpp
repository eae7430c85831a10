/*
 * vtable-append: a class gains a virtual method at the end of its vtable, and objects built
 * before the patch live on. The shapes sit in a static pool that the first hp_run call fills
 * (make_shape, placement new: each object's vptr points at its class's vtable in .rdata) and
 * every later call reuses. v2 appends `perimeter` to struct shape, so each vtable grows from
 * one code slot to two, and report newly calls slot 1 (`call *0x8(%rax)`). Patched live, new
 * report would call slot 1 of the OLD vtable the objects still point at: past its end, into
 * whatever .rdata follows. The compiler must refuse ("code pointer table ... 1 -> 2 slots;
 * objects built before the patch keep the old table", compiler/diff/code-tables.ts).
 * Negative twin: vtable-body-fix (same classes, a virtual method's body changes, same layout).
 * Changed functions: report (calls the new slot), make_shape (same code, it installs the
 * changed vtables); added: rect::perimeter, tri::perimeter.
 *
 * objdump -d: report calls `*(%rax)` in v1 and `*(%rax)`, `*0x8(%rax)` in v2; objdump -s -j
 * .rdata: _ZTV4rect/_ZTV3tri hold one code pointer after the typeinfo pointer in v1, two in v2.
 */
#define HP_NAME "vtable-append"
#include "../common/harness.h"
#include <new>

struct shape {
  long long w, h;
  virtual long long area() const = 0;
#if HP_VERSION >= 2
  virtual long long perimeter() const = 0;
#endif
};

struct rect : shape {
  HP_FN long long area() const override { return w * h; }
#if HP_VERSION >= 2
  HP_FN long long perimeter() const override { return 2 * (w + h); }
#endif
};

struct tri : shape {
  HP_FN long long area() const override { return w * h / 2; }
#if HP_VERSION >= 2
  HP_FN long long perimeter() const override { return w + h + (w > h ? w : h); }
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

HP_EXTERN_C HP_FN long long report(const shape *s) {
#if HP_VERSION == 1
  return s->area() * 10;
#else
  return s->area() * 10 + s->perimeter();
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
