/*
 * A module compiled against entry-args v1, as an importer outside the patched DLL would be:
 * it calls the exports scale_by(x), api_scale(x) and weigh(a, b, c, d, e) with v1's
 * signatures. Not part of the scenario build: test/entry-args-live.test.ts compiles it with
 * -DHP_VERSION=1 -DHP_TARGET='"<dll file name>"' and loads it next to the scenario DLL
 * (host.exe --also), so every round prints what an old importer gets.
 */
#define HP_NAME "entry-args-importer"
#include <windows.h>
#include "../common/harness.h"

typedef int (*one_fn)(int);
typedef int (*five_fn)(int, int, int, int, int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  one_fn scale_by = (one_fn)(void *)GetProcAddress(m, "scale_by");
  one_fn api_scale = (one_fn)(void *)GetProcAddress(m, "api_scale");
  five_fn weigh = (five_fn)(void *)GetProcAddress(m, "weigh");
  if (!scale_by || !api_scale || !weigh) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  for (int x = 1; x <= 2; x++) {
    out_str(o, "importer scale_by("); out_int(o, x); out_str(o, ") = "); out_int(o, scale_by(x)); out_nl(o);
    out_str(o, "importer api_scale("); out_int(o, x); out_str(o, ") = "); out_int(o, api_scale(x)); out_nl(o);
    out_str(o, "importer weigh("); out_int(o, x); out_str(o, ", 2, 3, 4, 5) = "); out_int(o, weigh(x, 2, 3, 4, 5)); out_nl(o);
  }
}
