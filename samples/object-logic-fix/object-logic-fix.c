/*
 * object-logic-fix: the negative twin of object-layout. The same struct session, the same
 * functions, the same object in a fixed .bss pool; v2 fixes only session_score's logic (the
 * spent amount was counted twice), reading the same fields at the same offsets. Nothing in
 * the object moves, so it must stay hotpatchable: the layout verdict may not fire on a
 * change that keeps every field access in place.
 * Changed function: session_score.
 *
 * objdump -d: session_score reads [rcx+0x8]/[rcx+0x10]/[rcx+0x18] in both versions.
 */
#define HP_NAME "object-logic-fix"
#include "../common/harness.h"

struct session {
  long long id;
  long long name_len;
  long long budget;
  long long spent;
};

static union {
  struct session s;
  char bytes[128];
} g_pool;
/* hp_run runs on the host's worker thread too: one vector loop uses g_pool at a time. */
static volatile long g_pool_lock;

HP_FN void session_init(struct session *s, long long id, long long budget) {
  s->id = id;
  s->name_len = 8 + id;
  s->budget = budget;
  s->spent = budget / 4;
}

HP_FN long long session_score(const struct session *s) {
#if HP_VERSION == 1
  long long left = s->budget - 2 * s->spent;
#else
  long long left = s->budget - s->spent;
#endif
  return left * 3 + s->name_len;
}

static void hp_vectors(hp_out *o) {
  hp_lock(&g_pool_lock);
  for (int k = 1; k <= 3; k++) {
    session_init(&g_pool.s, k, 100 * k);
    out_str(o, "session_score(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, session_score(&g_pool.s));
    out_nl(o);
  }
  hp_unlock(&g_pool_lock);
}
