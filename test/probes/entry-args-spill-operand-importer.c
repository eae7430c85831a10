/*
 * A module compiled against entry-args-spill-operand v1, as an importer outside the patched DLL
 * would be: it calls ld_sub, ld_div, ld_cmp (and their twins) with the arrays {1, 2, 3} and
 * {10, 20, 30} and the index 1, fl_sub (and its twin) with {1.5, 2.5, 3.5} and {10, 20, 30},
 * rmw_add (and its twin) with 2 and 7, and prints the globals each writes (read back through
 * the export get_global); v2's swapped functions reached the old way give the other order's
 * difference, quotient, comparison, and each global the other argument.
 * test/entry-args-spill-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-spill-operand-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef void (*ints)(const int *, const int *, int);
typedef void (*floats)(const float *, const float *, int);
typedef void (*adds)(int, int);
typedef int (*get_fn)(int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[10] = { "ld_sub", "ld_div", "ld_cmp", "fl_sub", "ld_sub_fix", "ld_div_fix", "ld_cmp_fix", "fl_sub_fix", "rmw_add", "rmw_add_fix" };
  static const int p[3] = { 1, 2, 3 }, q[3] = { 10, 20, 30 };
  static const float pf[3] = { 1.5f, 2.5f, 3.5f }, qf[3] = { 10.0f, 20.0f, 30.0f };
  get_fn get = (get_fn)(void *)GetProcAddress(m, "get_global");
  for (int k = 0; k < 10; k++) {
    void *f = (void *)GetProcAddress(m, names[k]);
    if (!f || !get) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " =");
    if (k >= 8) {
      ((adds)f)(2, 7);
      out_str(o, " "); out_int(o, get(8 + 2 * (k - 8)));
      out_str(o, " "); out_int(o, get(9 + 2 * (k - 8)));
    } else {
      if (k % 4 == 3) ((floats)f)(pf, qf, 1);
      else ((ints)f)(p, q, 1);
      out_str(o, " "); out_int(o, get(k));
    }
    out_nl(o);
  }
}
