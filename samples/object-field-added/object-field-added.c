/*
 * object-field-added: a structure that lives across calls gains a field at its end, so no
 * field moves. v2's struct session adds bonus (8 bytes) after spent: session_init writes it,
 * session_score newly reads it, both through their pointer argument; the object sits in a
 * .bss pool of fixed size, so no writable section changes and no offset shifts (the shift
 * rule of object-layout has nothing to see). Patching the two functions would let the new
 * session_score read +0x20 of an object the old session_init built, where old code never
 * wrote anything; the compiler must refuse ("structure layout changed: accesses
 * [arg1+0x20] (8 bytes), past the old function's last field access +0x18 on that pointer",
 * compiler/diff/added-field.ts). Its negative twin is object-logic-fix (same struct and
 * functions, a logic fix that reads no new field: hotpatchable).
 * Changed functions: session_init, session_score.
 *
 * objdump -d: session_score reads [rcx+0x8]/[rcx+0x10]/[rcx+0x18] in v1, and [rcx+0x20]
 * too in v2; session_init stores at +0x0..+0x18 in v1, and at +0x20 too in v2.
 */
#define HP_NAME "object-field-added"
#include "../common/harness.h"

struct session {
  long long id;
  long long name_len;
  long long budget;
  long long spent;
#if HP_VERSION >= 2
  long long bonus;
#endif
};

/* Fixed-size storage: the object grows, the writable section does not. */
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
#if HP_VERSION >= 2
  s->bonus = 5 * id;
#endif
}

HP_FN long long session_score(const struct session *s) {
  long long left = s->budget - s->spent;
#if HP_VERSION >= 2
  left += s->bonus;
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
