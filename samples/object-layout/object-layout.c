/*
 * object-layout: a structure that lives across calls changes layout, with no global
 * involved. v2's struct session gains a field (retries, 8 bytes) after id, so name_len,
 * budget and spent move by +8. session_init writes the object, session_score reads it
 * through its pointer argument; the object itself sits in a .bss pool of fixed size, so no
 * writable section changes. Patching the two functions would let the new session_score read
 * an object the old session_init built (or the reverse) at the wrong offsets; the compiler
 * must refuse ("structure layout changed: field offsets shift by +8 from 0x8").
 * Changed functions: session_init, session_score.
 *
 * objdump -d: session_score reads [rcx+0x8]/[rcx+0x10]/[rcx+0x18] in v1 and
 * [rcx+0x10]/[rcx+0x18]/[rcx+0x20] in v2; session_init stores at the same shifted offsets.
 */
#define HP_NAME "object-layout"
#include "../common/harness.h"

struct session {
  long long id;
#if HP_VERSION >= 2
  long long retries;
#endif
  long long name_len;
  long long budget;
  long long spent;
};

/* Fixed-size storage: the object's layout changes, the writable section does not. */
static union {
  struct session s;
  char bytes[128];
} g_pool;
/* hp_run runs on the host's worker thread too: one vector loop uses g_pool at a time. */
static volatile long g_pool_lock;

HP_FN void session_init(struct session *s, long long id, long long budget) {
  s->id = id;
#if HP_VERSION >= 2
  s->retries = id;
#endif
  s->name_len = 8 + id;
  s->budget = budget;
  s->spent = budget / 4;
}

HP_FN long long session_score(const struct session *s) {
  long long left = s->budget - s->spent;
#if HP_VERSION >= 2
  left -= s->retries;
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
