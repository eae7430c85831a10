/*
 * entry-args-params (a probe, test/probe-args-live.test.ts): exports whose parameters change
 * meaning while the registers they read keep their use shape, and no caller in the module
 * shows it (issue #14, safety). A module compiled against v1 (entry-args-params-importer.c)
 * calls them in v1's order.
 * - moveto(to, from) -> moveto(from, to): two pointers to one struct type swapped. The same
 *   fields are read and written, but through the other register: the store address moved to
 *   the register the loads came from.
 * - mix(a, b, c) -> mix(a, c): a middle parameter removed; c now arrives in rdx.
 * - fmix(x, y, n) -> fmix(y, n): a double removed; y moves from xmm1 to xmm0 and n from r8
 *   to rdx (Win64 positional slots).
 * - fmix3(x, y, z) -> fmix3(x, z): a middle double removed; z moves from xmm2 to xmm1.
 * The module calls them through pointers it cannot see through, so no call site shows the
 * new order. Refused ENTRY_ARGUMENTS_CHANGED. Changed functions: moveto, mix, fmix, fmix3.
 */
#define HP_NAME "entry-args-params"
#include "../../samples/common/harness.h"

struct pt { int x, y; long long tag; };

#if HP_VERSION == 1
HP_FN HP_EXPORT void moveto(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN HP_EXPORT int mix(int a, int b, int c) { return a * 100 + b * 10 + c; }
HP_FN HP_EXPORT double fmix(double x, double y, int n) { return x * 100.0 + y * 10.0 + n; }
HP_FN HP_EXPORT double fmix3(double x, double y, double z) { return x * 100.0 + y * 10.0 + z; }
#else
HP_FN HP_EXPORT void moveto(const struct pt *from, struct pt *to) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN HP_EXPORT int mix(int a, int c) { return a * 100 + c; }
HP_FN HP_EXPORT double fmix(double y, int n) { return y * 10.0 + n; }
HP_FN HP_EXPORT double fmix3(double x, double z) { return x * 100.0 + z; }
#endif

/* The module calls through pointers the compiler cannot see through: no call site shows the new order. */
static void *volatile hp_moveto = (void *)moveto, *volatile hp_mix = (void *)mix, *volatile hp_fmix = (void *)fmix, *volatile hp_fmix3 = (void *)fmix3;

static void hp_vectors(hp_out *o) {
  struct pt a = { 1, 2, 5 }, b = { 10, 20, 7 };
#if HP_VERSION == 1
  ((void (*)(struct pt *, const struct pt *))hp_moveto)(&a, &b);
  out_str(o, "mix = "); out_int(o, ((int (*)(int, int, int))hp_mix)(1, 2, 3)); out_nl(o);
  out_str(o, "fmix = "); out_int(o, (long long)(((double (*)(double, double, int))hp_fmix)(1.0, 2.0, 3) * 1000)); out_nl(o);
  out_str(o, "fmix3 = "); out_int(o, (long long)(((double (*)(double, double, double))hp_fmix3)(1.0, 2.0, 3.0) * 1000)); out_nl(o);
#else
  ((void (*)(const struct pt *, struct pt *))hp_moveto)(&b, &a);
  out_str(o, "mix = "); out_int(o, ((int (*)(int, int))hp_mix)(1, 3) + 20); out_nl(o);
  out_str(o, "fmix = "); out_int(o, (long long)((((double (*)(double, int))hp_fmix)(2.0, 3) + 100.0) * 1000)); out_nl(o);
  out_str(o, "fmix3 = "); out_int(o, (long long)((((double (*)(double, double))hp_fmix3)(1.0, 3.0) + 20.0) * 1000)); out_nl(o);
#endif
  out_str(o, "moveto = "); out_int(o, a.x); out_str(o, " "); out_int(o, a.y); out_str(o, " "); out_int(o, a.tag); out_nl(o);
}
