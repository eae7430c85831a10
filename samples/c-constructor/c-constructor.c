/*
 * c-constructor: a C `__attribute__((constructor))` function computes a value the exported
 * code reads. init_limits runs once when the DLL loads (mingw: a .ctors entry, called by
 * __do_global_ctors); v2 changes what it computes. Redirecting init_limits after the load
 * changes nothing a running process sees: g_limit keeps the old value. It must be refused
 * (compiler/diff/load-time-only.ts).
 * Changed function: init_limits.
 *
 * objdump -s -j .text: __CTOR_LIST__ (-1, a pointer to init_limits, 0) at the end of .text.
 */
#define HP_NAME "c-constructor"
#include "../common/harness.h"

static volatile long long g_limit;
static volatile long long g_step;

__attribute__((constructor)) HP_FN void init_limits(void) {
#if HP_VERSION == 1
  g_limit = 40;
  g_step = 3;
#else
  g_limit = 60;
  g_step = 5;
#endif
}

HP_FN long long clamp_steps(long long n) {
  long long v = n * g_step;
  return v > g_limit ? g_limit : v;
}

static void hp_vectors(hp_out *o) {
  for (int k = 1; k <= 25; k += 8) {
    out_str(o, "clamp_steps(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, clamp_steps(k));
    out_nl(o);
  }
}
