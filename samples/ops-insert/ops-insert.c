/*
 * ops-insert: a C table of callbacks (`const struct ops`, in .rdata: each slot a code pointer
 * under a DIR64 base relocation) reached through a pointer that live, writable objects keep.
 * engine_init stores &g_fast or &g_slow in a struct engine of a .bss pool that the first
 * hp_run call fills and later calls reuse; engine_run calls through e->ops. v2 inserts a
 * callback, clamp, before bias: the tables grow from two slots to three and bias moves from
 * +0x8 to +0x10. Patched live, new engine_run would read +0x8 and +0x10 of the OLD table the
 * engines still point at (old bias, then past the end). The compiler must refuse ("code
 * pointer table ... 2 -> 3 slots", compiler/diff/code-tables.ts).
 * Changed functions: engine_run (slot offsets), engine_init (same code, it stores pointers to
 * the changed tables); added: fast_clamp, slow_clamp.
 *
 * objdump -d: engine_run calls `*(%rax)` and tail-jumps to the slot it loads from +0x8 in
 * v1; calls `*(%rax)`, `*0x8(%rax)` and tail-jumps to +0x10 in v2; objdump -s -j .rdata:
 * g_fast/g_slow hold two/three code pointers.
 */
#define HP_NAME "ops-insert"
#include "../common/harness.h"

struct ops {
  long long (*scale)(long long);
#if HP_VERSION >= 2
  long long (*clamp)(long long);
#endif
  long long (*bias)(long long);
};

HP_FN long long fast_scale(long long x) { return 2 * x; }
HP_FN long long fast_bias(long long x) { return x + 1; }
HP_FN long long slow_scale(long long x) { return 3 * x; }
HP_FN long long slow_bias(long long x) { return x - 7; }
#if HP_VERSION >= 2
HP_FN long long fast_clamp(long long x) { return x > 20 ? 20 : x; }
HP_FN long long slow_clamp(long long x) { return x > 30 ? 30 : x; }
#endif

#if HP_VERSION == 1
static const struct ops g_fast = { fast_scale, fast_bias };
static const struct ops g_slow = { slow_scale, slow_bias };
#else
static const struct ops g_fast = { fast_scale, fast_clamp, fast_bias };
static const struct ops g_slow = { slow_scale, slow_clamp, slow_bias };
#endif

struct engine {
  const struct ops *ops;
  long long base;
};

/* Objects that outlive one hp_run call (and the patch). */
static struct engine g_engines[2];
static int g_made;
/* hp_run runs on the host's worker thread too: one vector loop at a time. */
static volatile long g_lock;

HP_FN void engine_init(struct engine *e, int kind, long long base) {
  e->ops = kind ? &g_slow : &g_fast;
  e->base = base;
}

HP_FN long long engine_run(const struct engine *e, long long x) {
  long long v = e->ops->scale(x + e->base);
#if HP_VERSION >= 2
  v = e->ops->clamp(v);
#endif
  return e->ops->bias(v);
}

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 2; k++) engine_init(&g_engines[k], k, 4 + 3 * k);
    g_made = 1;
  }
  for (int k = 0; k < 2; k++) {
    for (long long x = 1; x <= 9; x += 4) {
      out_str(o, "engine_run(");
      out_int(o, k);
      out_str(o, ", ");
      out_int(o, x);
      out_str(o, ") = ");
      out_int(o, engine_run(&g_engines[k], x));
      out_nl(o);
    }
  }
  hp_unlock(&g_lock);
}
