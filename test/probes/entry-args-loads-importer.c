/*
 * A module compiled against entry-args-loads v1, as an importer outside the patched DLL would
 * be: it calls each export in v1's order and prints the answers (v1's, and v2's with an
 * importer compiled against v2): less(1, 2) = 1, less_at = 1, quot(7, 2) = 3, quotp = 3,
 * mod(7, 3) = 1, udiv(7, 2) = 3, shl2(3, 2) = 12, pdiff = 2, subp = 5; sum_fix = 9, less_fix(2, 2) = 0 (v2 1), quot_fix 3
 * (v2 4), subp_fix(7, 5) = 2 (v2 1). v2's bodies reached the old way swap each pair: 0, 0,
 * 0, 0, 3, 0, 16, -2, -5. test/probe-args-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-loads-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef int (*pp_fn)(const int *, const int *);
typedef int (*ppi_fn)(const int *, const int *, int);
typedef int (*ii_fn)(int, int);
typedef long long (*pd_fn)(const int *, const int *);

static void line(hp_out *o, const char *name, long long x) {
  out_str(o, "importer "); out_str(o, name); out_str(o, " = "); out_int(o, x); out_nl(o);
}

#define FN(t, n) ((t)(void *)GetProcAddress(m, n))

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const int arr[4] = { 9, 1, 12, 10 };
  int one = 1, two = 2, seven = 7, five = 5;
  pp_fn less = FN(pp_fn, "less"), quotp = FN(pp_fn, "quotp"), subp = FN(pp_fn, "subp");
  pp_fn sum_fix = FN(pp_fn, "sum_fix"), less_fix = FN(pp_fn, "less_fix"), subp_fix = FN(pp_fn, "subp_fix");
  ppi_fn less_at = FN(ppi_fn, "less_at");
  ii_fn quot = FN(ii_fn, "quot"), mod = FN(ii_fn, "mod"), udiv = FN(ii_fn, "udiv"), shl2 = FN(ii_fn, "shl2"), quot_fix = FN(ii_fn, "quot_fix");
  pd_fn pdiff = FN(pd_fn, "pdiff");
  if (!less || !quotp || !subp || !sum_fix || !less_fix || !subp_fix || !less_at || !quot || !mod || !udiv || !shl2 || !quot_fix || !pdiff) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  line(o, "less", less(&one, &two));
  line(o, "less_at", less_at(arr, arr + 2, 1));
  line(o, "quot", quot(7, 2));
  line(o, "quotp", quotp(&seven, &two));
  line(o, "mod", mod(7, 3));
  line(o, "udiv", udiv(7, 2));
  line(o, "shl2", shl2(3, 2));
  line(o, "pdiff", pdiff(arr + 2, arr));
  line(o, "subp", subp(&seven, &two));
  line(o, "sum_fix", sum_fix(&seven, &two));
  line(o, "less_fix", less_fix(&two, &two));
  line(o, "quot_fix", quot_fix(7, 2));
  line(o, "subp_fix", subp_fix(&seven, &five));
}
