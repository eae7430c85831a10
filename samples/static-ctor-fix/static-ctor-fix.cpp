/*
 * static-ctor-fix: the negative twin of static-ctor and c-constructor. The same C++ global
 * object whose constructor fills a table (fill_rates), and a C-style constructor function
 * (init_bias), both unchanged; v2 fixes rate_sum, an ordinary function the exported code
 * calls (v1 stops one entry early). Only code that runs after the patch changed, so it must
 * stay hotpatchable and patch live: the load-time rule may not fire on a DLL just because it
 * has constructors. Three functions load-time code uses are not load-time-only: scaled, which
 * fill_rates and rate_sum both call; bias_step, which init_bias calls and rate_sum calls
 * through a pointer (its address taken by later code); and the destructor g_rates'
 * constructor registers with atexit (to run at exit).
 * Changed function: rate_sum.
 */
#define HP_NAME "static-ctor-fix"
#include "../common/harness.h"

HP_EXTERN_C HP_FN long long scaled(long long v) { return 10 * v; }

HP_EXTERN_C HP_FN void fill_rates(long long *t, int n) {
  for (int i = 0; i < n; i++) t[i] = scaled(i) + 1;
}

static volatile long long g_bias;

struct rates {
  long long table[8];
  rates() { fill_rates(table, 8); }
  ~rates() { g_bias = 0; }
};

static rates g_rates;

HP_EXTERN_C HP_FN long long bias_step(void) { return 50; }

HP_EXTERN_C __attribute__((constructor)) HP_FN void init_bias(void) { g_bias = 2 * bias_step(); }

HP_EXTERN_C HP_FN long long rate_sum(int n) {
  long long s = g_bias;
#if HP_VERSION == 1
  for (int i = 0; i < n - 1 && i < 8; i++) s += g_rates.table[i];
#else
  for (int i = 0; i < n && i < 8; i++) s += g_rates.table[i];
#endif
  long long (*volatile step)(void) = bias_step;
  return s + scaled(0) + step() - 50;
}

static void hp_vectors(hp_out *o) {
  for (int k = 1; k <= 7; k += 3) {
    out_str(o, "rate_sum(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, rate_sum(k));
    out_nl(o);
  }
}
