/*
 * A module compiled against entry-args-fswap v1 (and entry-args-fswap-fix), as an importer
 * outside the patched DLL would be: it calls the export fratio(num, den) in v1's order.
 * test/probe-float-args-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"' and
 * loads it next to the probe DLL (host.exe --also): fratio(60, 8) = 37500 (x1000) from v1's
 * body, 4133 from entry-args-fswap v2's (8 / 60 + 8 * 0.5), 11500 from the fix's.
 */
#define HP_NAME "entry-args-fswap-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef double (*fratio_fn)(double, double);
typedef double (*five_fn)(int, int, int, int, double, double);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  fratio_fn fratio = (fratio_fn)(void *)GetProcAddress(m, "fratio");
  if (!fratio) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  for (int d = 8; d <= 10; d += 2) {
    out_str(o, "importer fratio(60, "); out_int(o, d); out_str(o, ") = "); out_int(o, (long long)(fratio(60.0, (double)d) * 1000)); out_nl(o);
  }
  /* entry-args-fswap only: five(1, 2, 3, 4, 60, d) = 10 + 60 / d in v1's order. */
  five_fn five = (five_fn)(void *)GetProcAddress(m, "five");
  for (int d = 8; five && d <= 10; d += 2) {
    out_str(o, "importer five(60, "); out_int(o, d); out_str(o, ") = "); out_int(o, (long long)(five(1, 2, 3, 4, 60.0, (double)d) * 1000)); out_nl(o);
  }
}
