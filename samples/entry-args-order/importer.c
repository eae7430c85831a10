/*
 * A module compiled against entry-args-order v1, as an importer outside the patched DLL would
 * be: it calls the exports area_of(b, s) and mix3(a, b, c) with v1's signatures. Not part of the
 * scenario build: test/entry-args-stack-live.test.ts compiles it with -DHP_VERSION=1
 * -DHP_TARGET='"<dll file name>"' and loads it next to the scenario DLL (host.exe --also), so
 * every round prints what an old importer gets: area_of(box(x, 4), scale(5)) = 20x from v1's
 * body, 1 from v2's (the scale read as the box: 5 * 0, plus 1); mix3(x, 5, 7) = 100x + 57 from
 * v1's, 100x + 55 from v2's (b read as c).
 */
#define HP_NAME "entry-args-order-importer"
#include <windows.h>
#include "../common/harness.h"

struct box { int w, h; };
struct scale { long long k; };
typedef long long (*area_fn)(const struct box *, const struct scale *);
typedef int (*mix3_fn)(int, int, int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  area_fn area_of = (area_fn)(void *)GetProcAddress(m, "area_of");
  mix3_fn mix3 = (mix3_fn)(void *)GetProcAddress(m, "mix3");
  if (!area_of || !mix3) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  const struct scale s = { 5 };
  for (int x = 1; x <= 2; x++) {
    const struct box b = { x, 4 };
    out_str(o, "importer area_of(box("); out_int(o, x); out_str(o, ", 4), scale(5)) = "); out_int(o, (int)area_of(&b, &s)); out_nl(o);
    out_str(o, "importer mix3("); out_int(o, x); out_str(o, ", 5, 7) = "); out_int(o, mix3(x, 5, 7)); out_nl(o);
  }
}
