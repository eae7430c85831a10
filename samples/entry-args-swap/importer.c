/*
 * A module compiled against entry-args-swap v1, as an importer outside the patched DLL would
 * be: it calls the export ratio(num, den) with v1's order. Not part of the scenario build:
 * test/entry-args-stack-live.test.ts compiles it with -DHP_VERSION=1 -DHP_TARGET='"<dll file
 * name>"' and loads it next to the scenario DLL (host.exe --also), so every round prints what an
 * old importer gets: ratio(60, 7) = 8 from v1's body, 2 from v2's (7 / 60 + 7 % 5).
 */
#define HP_NAME "entry-args-swap-importer"
#include <windows.h>
#include "../common/harness.h"

typedef int (*ratio_fn)(int, int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  ratio_fn ratio = (ratio_fn)(void *)GetProcAddress(m, "ratio");
  if (!ratio) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  for (int x = 1; x <= 2; x++) {
    out_str(o, "importer ratio(60, "); out_int(o, 6 + x); out_str(o, ") = "); out_int(o, ratio(60, 6 + x)); out_nl(o);
  }
}
