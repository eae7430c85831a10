/*
 * guarded-static: a function-local static with dynamic initialisation. rate_of's table is
 * built by make_rate on the first call (g++/clang: __cxa_guard_acquire / __cxa_guard_release
 * around the initialiser, a guard variable in .bss; MSVC: _Init_thread_header/_footer);
 * v2 changes make_rate's formula. Once any call ran, the guard is set: a redirected
 * make_rate never runs again in that process and the table keeps the old values.
 * It must be refused (compiler/diff/guarded-statics.ts finds the region from the code: the
 * guard byte read inline, then its address passed to two different calls around the
 * initialiser; compiler/diff/load-time-only.ts refuses what only that region reaches).
 * Changed function: make_rate.
 *
 * objdump -d: rate_of calls __cxa_guard_acquire, make_rate, __cxa_guard_release.
 */
#define HP_NAME "guarded-static"
#include "../common/harness.h"

HP_EXTERN_C HP_FN long long make_rate(int i) {
#if HP_VERSION == 1
  return 10 * i + 1;
#else
  return 10 * i + 7;
#endif
}

struct rates {
  long long table[8];
  rates() {
    for (int i = 0; i < 8; i++) table[i] = make_rate(i);
  }
};

HP_EXTERN_C HP_FN long long rate_of(int i) {
  static rates r;
  return i >= 0 && i < 8 ? r.table[i] : -1;
}

static void hp_vectors(hp_out *o) {
  for (int k = 0; k < 9; k += 2) {
    out_str(o, "rate_of(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, rate_of(k));
    out_nl(o);
  }
}
