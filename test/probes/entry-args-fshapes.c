/*
 * entry-args-fshapes (a probe, test/probe-float-args-live.test.ts; built by gcc and clang at
 * -O1, -O2 and -Os): float parameters reordered in the shapes the callers' code takes.
 * - sratio(float num, float den) -> sratio(den, num): the caller passes float constants
 *   (`movss xmm0,[rip+c]`, 4 bytes).
 * - own(double a, double b) -> own(b, a): the caller passes its own xmm0 and xmm1 swapped
 *   (gcc -Os parks one in rbx: `movq rbx,xmm1` ... `movq xmm0,rbx`).
 * - mixed(int k, double x) -> mixed(double x, int k): the registers themselves move (rcx,
 *   xmm1 -> xmm0, rdx), which the live-in comparison sees.
 * - five(a, b, c, d, double e, double f) -> five(a, b, c, d, f, e): the fifth and sixth go on
 *   the stack; the caller stores the constants into swapped slots (gcc through rax:
 *   `mov rax,[rip+c]; mov [rsp+0x28],rax`).
 * All four are refused ENTRY_ARGUMENTS_CHANGED.
 * Changed functions: sratio, mixed, own, own_all, all, five, five_all.
 */
#define HP_NAME "entry-args-fshapes"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT float sratio(float num, float den) { return num / den + num * 0.5f; }
HP_FN HP_EXPORT double mixed(int k, double x) { return x * k + 1.0; }
HP_FN HP_EXPORT double own(double a, double b) { return a / b - a; }
HP_FN double own_all(double a, double b) { return own(a, b) + own(b, 2.0); }
HP_FN double all(double n) { return sratio(60.0f, 8.0f) + sratio((float)n, 4.0f) + mixed(3, 2.5); }
HP_FN HP_EXPORT double five(int a, int b, int c, int d, double e, double f) { return a + b + c + d + e / f; }
HP_FN double five_all(void) { return five(1, 2, 3, 4, 60.0, 8.0); }
#else
HP_FN HP_EXPORT float sratio(float den, float num) { return num / den + num * 0.5f; }
HP_FN HP_EXPORT double mixed(double x, int k) { return x * k + 1.0; }
HP_FN HP_EXPORT double own(double b, double a) { return a / b - a; }
HP_FN double own_all(double a, double b) { return own(b, a) + own(2.0, b); }
HP_FN double all(double n) { return sratio(8.0f, 60.0f) + sratio(4.0f, (float)n) + mixed(2.5, 3); }
HP_FN HP_EXPORT double five(int a, int b, int c, int d, double f, double e) { return a + b + c + d + e / f; }
HP_FN double five_all(void) { return five(1, 2, 3, 4, 8.0, 60.0); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "all(40) + own_all(3, 5) = ");
  out_int(o, (long long)(all(40.0) * 1000 + own_all(3.0, 5.0)));
  out_nl(o);
  out_str(o, "five_all() = ");
  out_int(o, (long long)(five_all() * 1000));
  out_nl(o);
}
