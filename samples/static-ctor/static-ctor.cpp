/*
 * static-ctor: a C++ global object whose constructor computes state the exported code reads.
 * g_rates is a dynamically initialised global: its constructor fills a table from
 * fill_rates (kept out of line), and rate_of reads the table. v2 changes fill_rates' formula.
 * The constructor ran when the DLL loaded (mingw: its _GLOBAL__sub_I_ function is a .ctors
 * entry, called once by __do_global_ctors), so a patch that redirects fill_rates changes
 * nothing a running process sees: the table keeps the values the old formula built. It must
 * be refused (compiler/diff/load-time-only.ts).
 * Changed function: fill_rates.
 *
 * objdump -s -j .text: __CTOR_LIST__ (-1, a pointer to _GLOBAL__sub_I_..., 0) at the end of
 * .text; objdump -d: _GLOBAL__sub_I_* calls fill_rates, nothing else does.
 */
#define HP_NAME "static-ctor"
#include "../common/harness.h"

HP_EXTERN_C HP_FN void fill_rates(long long *t, int n) {
  for (int i = 0; i < n; i++) {
#if HP_VERSION == 1
    t[i] = 10 * i + 1;
#else
    t[i] = 10 * i + 7;
#endif
  }
}

struct rates {
  long long table[8];
  rates() { fill_rates(table, 8); }
};

static rates g_rates;

HP_EXTERN_C HP_FN long long rate_of(int i) { return i >= 0 && i < 8 ? g_rates.table[i] : -1; }

static void hp_vectors(hp_out *o) {
  for (int k = 0; k < 9; k += 2) {
    out_str(o, "rate_of(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, rate_of(k));
    out_nl(o);
  }
}
