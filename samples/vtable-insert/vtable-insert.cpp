/*
 * vtable-insert: a virtual method is inserted in the middle of a vtable, so the slots after
 * it shift. struct shape has area, sides in v1; v2 inserts weight between them (slots: area
 * 0, weight 1, sides 2). The objects sit in a static pool that the first hp_run call fills
 * (make_shape) and later calls reuse, so after a live patch their vptrs still point at the
 * OLD vtables: new report would call slot 2 for sides (past the old table's end) and slot 1
 * for weight (the old table's sides). The compiler must refuse ("code pointer table ...
 * 2 -> 3 slots", compiler/diff/code-tables.ts).
 * Changed functions: report (slot offsets), make_shape (same code, it installs the changed
 * vtables); added: rect::weight, tri::weight.
 *
 * objdump -d: report calls `*(%rax)`, `*0x8(%rax)` in v1 and `*(%rax)`, `*0x8(%rax)`,
 * `*0x10(%rax)` in v2.
 */
#define HP_NAME "vtable-insert"
#include "../common/harness.h"
#include <new>

struct shape {
  long long w, h;
  virtual long long area() const = 0;
#if HP_VERSION >= 2
  virtual long long weight() const = 0;
#endif
  virtual long long sides() const = 0;
};

struct rect : shape {
  HP_FN long long area() const override { return w * h; }
#if HP_VERSION >= 2
  HP_FN long long weight() const override { return 7 * w; }
#endif
  HP_FN long long sides() const override { return 4; }
};

struct tri : shape {
  HP_FN long long area() const override { return w * h / 2; }
#if HP_VERSION >= 2
  HP_FN long long weight() const override { return 5 * h; }
#endif
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
  return s->area() * 10 + s->sides() + 100 * s->weight();
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
