/*
 * A module compiled against entry-args-alike v1, as an importer outside the patched DLL would
 * be: it calls the unchanged exports calc_api(to, from) and calc_api_fix(to, from) in v1's
 * order, with two-element arrays (calc_api works on element 1 of each).
 * test/probe-args-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"' and loads it
 * next to the probe DLL (host.exe --also). v1 answers `11 60 7 / 10 20 7` for both (the second
 * element of `to`, then of `from`); entry-args-alike v2's calc_impl, reached the old way,
 * writes into `from` (`1 2 5 / 2 6 5`); the fix's calc_impl_fix answers `12 60 7 / 10 20 7`.
 * It also calls order2(&x, &y) and order2_fix(&x, &y): v1 stamps x first; entry-args-alike v2's
 * order2(b, a), reached the old way, stamps y first (an importer compiled against v2 passes
 * (&y, &x) and gets x first); order2_fix v2 (stamp(a), stamp(b), stamp(a)) stamps x twice, so
 * x ends larger ("y first", as v2 answers).
 */
#define HP_NAME "entry-args-alike-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

struct pt { int x, y; long long tag; };
typedef void (*calc_fn)(void *, void *);

static void show(hp_out *o, const char *name, calc_fn f) {
  struct pt to[2] = { { 1, 2, 5 }, { 1, 2, 5 } }, from[2] = { { 10, 20, 7 }, { 10, 20, 7 } };
  f(to, from);
  out_str(o, "importer "); out_str(o, name); out_str(o, " = ");
  out_int(o, to[1].x); out_str(o, " "); out_int(o, to[1].y); out_str(o, " "); out_int(o, to[1].tag); out_str(o, " / ");
  out_int(o, from[1].x); out_str(o, " "); out_int(o, from[1].y); out_str(o, " "); out_int(o, from[1].tag); out_nl(o);
}

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  calc_fn calc = (calc_fn)(void *)GetProcAddress(m, "calc_api");
  calc_fn fix = (calc_fn)(void *)GetProcAddress(m, "calc_api_fix");
  if (!calc || !fix) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  show(o, "calc_api", calc);
  show(o, "calc_api_fix", fix);
  calc_fn order2 = (calc_fn)(void *)GetProcAddress(m, "order2");
  calc_fn order2_fix = (calc_fn)(void *)GetProcAddress(m, "order2_fix");
  if (order2 && order2_fix) {
    /* stamp() adds 10 times its running count: the argument stamped first grows less. */
    int x = 0, y = 0;
    order2(&x, &y);
    out_str(o, x < y ? "importer order2 stamps x first\n" : "importer order2 stamps y first\n");
    x = y = 0;
    order2_fix(&x, &y);
    out_str(o, x < y ? "importer order2_fix stamps x first\n" : "importer order2_fix stamps y first\n");
  }
}
