/*
 * A module compiled against entry-args-computed v1, as an importer outside the patched DLL
 * would be: it calls each export with a = 5, b = 3 and prints the answers (v1's: c_sub 16,
 * c_div 1, c_cmp 0, c_call -8, c_idx 220; the twins the same, sum_fix 64). v2's swapped bodies
 * reached the old way compute with a and b exchanged: -16, 0, 1, -56, 40.
 * test/entry-args-computed-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-computed-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef int (*ii_fn)(int, int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[11] = { "c_sub", "c_div", "c_cmp", "c_call", "c_idx", "c_sub_fix", "c_div_fix", "c_cmp_fix", "c_call_fix", "c_idx_fix", "sum_fix" };
  for (int k = 0; k < 11; k++) {
    ii_fn f = (ii_fn)(void *)GetProcAddress(m, names[k]);
    if (!f) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " = "); out_int(o, f(5, 3)); out_nl(o);
  }
}
