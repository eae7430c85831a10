/*
 * A module compiled against entry-args-params v1 (and entry-args-params-fix), as an importer
 * outside the patched DLL would be: it calls the exports moveto(to, from), mix(a, b, c) and
 * fmix3(x, y, z) in v1's order. test/probe-args-live.test.ts compiles it with
 * -DHP_TARGET='"<dll file name>"' and loads it next to the probe DLL (host.exe --also).
 * v1 answers moveto = 11 60 7, mix(1, 2, 13) = 133, fmix3(1, 2, 3) = 123000; entry-args-params
 * v2's bodies, reached the old way, 1 2 5 (the store goes to the other struct), 102 and 102000;
 * the fix's 11 80 8, 120 and 143000.
 */
#define HP_NAME "entry-args-params-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

struct pt { int x, y; long long tag; };
typedef void (*moveto_fn)(struct pt *, const struct pt *);
typedef int (*mix_fn)(int, int, int);
typedef double (*fmix3_fn)(double, double, double);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  moveto_fn moveto = (moveto_fn)(void *)GetProcAddress(m, "moveto");
  mix_fn mix = (mix_fn)(void *)GetProcAddress(m, "mix");
  fmix3_fn fmix3 = (fmix3_fn)(void *)GetProcAddress(m, "fmix3");
  if (!moveto || !mix || !fmix3) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  struct pt a = { 1, 2, 5 }, b = { 10, 20, 7 };
  moveto(&a, &b);
  out_str(o, "importer moveto = "); out_int(o, a.x); out_str(o, " "); out_int(o, a.y); out_str(o, " "); out_int(o, a.tag); out_nl(o);
  out_str(o, "importer mix(1, 2, 13) = "); out_int(o, mix(1, 2, 13)); out_nl(o);
  out_str(o, "importer fmix3(1, 2, 3) = "); out_int(o, (long long)(fmix3(1.0, 2.0, 3.0) * 1000)); out_nl(o);
}
