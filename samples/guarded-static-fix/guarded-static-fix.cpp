/*
 * guarded-static-fix: the negative twin of guarded-static. The same function-local static
 * with a dynamic initialiser (rate_of's table, built by make_rate between
 * __cxa_guard_acquire and __cxa_guard_release), unchanged; v2 fixes rate_of's answer for an
 * index out of range (-1 -> 0), outside the guarded region. The function holding the region
 * changes, not the initialiser, so it must stay hotpatchable and patch live.
 * Changed function: rate_of.
 */
#define HP_NAME "guarded-static-fix"
#include "../common/harness.h"

HP_EXTERN_C HP_FN long long make_rate(int i) { return 10 * i + 1; }

struct rates {
  long long table[8];
  rates() {
    for (int i = 0; i < 8; i++) table[i] = make_rate(i);
  }
};

HP_EXTERN_C HP_FN long long rate_of(int i) {
  static rates r;
#if HP_VERSION == 1
  return i >= 0 && i < 8 ? r.table[i] : -1;
#else
  return i >= 0 && i < 8 ? r.table[i] : 0;
#endif
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
