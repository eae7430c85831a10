/*
 * tls-resize: a thread-local array grows (2 -> 4 slots) and the code indexing it changes with
 * it. Each thread's copy was allocated by v1's layout: a thread that ran hist_add before the
 * patch keeps a 16-byte block the new code would index up to 32 bytes. gcc (mingw: emulated
 * TLS) keeps the size in the writable control object __emutls_v.t_hist, whose initial value
 * changes: refused GLOBAL_INITIAL_VALUE_CHANGED, and both functions USES_CHANGED_GLOBAL. clang
 * (native TLS: .tls and the TLS directory) changes the TLS template's size: refused
 * TLS_CHANGED and WRITABLE_SECTION_RESIZED. A pin: no rule was added for it.
 * Changed functions: hist_add, hist_sum, hist_reset.
 *
 * objdump -s -j .data (gcc): __emutls_v.t_hist's size word 0x10 (v1) / 0x20 (v2);
 * objdump -p (clang): the TLS directory's template grows.
 */
#define HP_NAME "tls-resize"
#include "../common/harness.h"
#if HP_VERSION == 1
#define SLOTS 2
#else
#define SLOTS 4
#endif
static __thread long long t_hist[SLOTS];
static __thread int t_calls;

HP_FN void hist_add(long long v) {
  t_hist[t_calls % SLOTS] += v;
  t_calls++;
}

HP_FN long long hist_sum(void) {
  long long s = 0;
  for (int i = 0; i < SLOTS; i++) s += t_hist[i] * (i + 1);
  return s;
}

/* Every call starts from empty slots, so each call (on any thread) prints the same lines. */
HP_FN void hist_reset(void) {
  for (int i = 0; i < SLOTS; i++) t_hist[i] = 0;
  t_calls = 0;
}

static void hp_vectors(hp_out *o) {
  hist_reset();
  for (int k = 1; k <= 3; k++) {
    hist_add(k);
    out_str(o, "hist_sum(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, hist_sum());
    out_nl(o);
  }
}
