/*
 * entry-args-fswap (a probe, test/probe-float-args-live.test.ts): an export whose two double
 * parameters swap places. Both bodies read xmm0 and xmm1, and argument roles follow no xmm
 * register, so the callee alone cannot tell it from a fix that swaps two operands; the
 * module's own caller, compiled against the new order, passes the same constants in swapped
 * xmm registers (compiler/diff/site-arguments.ts). A module compiled against v1
 * (entry-args-fswap-importer.c) calls fratio(num, den); patched, its calls reach
 * fratio(den, num). Refused ENTRY_ARGUMENTS_CHANGED. The same for five, whose fifth and sixth
 * (double, on the stack) swap: the caller stores its constants into swapped slots.
 * Changed functions: fratio, fratio_all, five, five_all.
 */
#define HP_NAME "entry-args-fswap"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT double fratio(double num, double den) { return num / den + num * 0.5; }
HP_FN double fratio_all(double n) { return fratio(60.0, 8.0) + fratio(n, 4.0); }
HP_FN HP_EXPORT double five(int a, int b, int c, int d, double e, double f) { return a + b + c + d + e / f; }
HP_FN double five_all(void) { return five(1, 2, 3, 4, 60.0, 8.0); }
#else
HP_FN HP_EXPORT double fratio(double den, double num) { return num / den + num * 0.5; }
HP_FN double fratio_all(double n) { return fratio(8.0, 60.0) + fratio(5.0, n); }
HP_FN HP_EXPORT double five(int a, int b, int c, int d, double f, double e) { return a + b + c + d + e / f; }
HP_FN double five_all(void) { return five(1, 2, 3, 4, 8.0, 60.0); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "fratio_all(40) = ");
  out_int(o, (long long)(fratio_all(40.0) * 1000));
  out_nl(o);
  out_str(o, "five_all() = ");
  out_int(o, (long long)(five_all() * 1000));
  out_nl(o);
}
