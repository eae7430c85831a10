/*
 * entry-args-fswap-fix (a probe, test/probe-float-args-live.test.ts): the negative twin of
 * entry-args-fswap. fratio keeps its signature; the fix swaps which operand is halved in its
 * body, and its caller passes the same constants in the same xmm registers. Hotpatchable, and
 * patched live the DLL prints v2's line and a module compiled against v1 gets v2's answers.
 * Changed function: fratio.
 */
#define HP_NAME "entry-args-fswap-fix"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT double fratio(double num, double den) { return num / den + num * 0.5; }
#else
HP_FN HP_EXPORT double fratio(double num, double den) { return num / den + den * 0.5; }
#endif
HP_FN double fratio_all(double n) { return fratio(60.0, 8.0) + fratio(n, 4.0); }

static void hp_vectors(hp_out *o) {
  out_str(o, "fratio_all(40) = ");
  out_int(o, (long long)(fratio_all(40.0) * 1000));
  out_nl(o);
}
