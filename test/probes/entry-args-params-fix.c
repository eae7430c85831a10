/*
 * entry-args-params-fix (a probe, test/probe-args-live.test.ts): the negative twin of
 * entry-args-params. Same signatures in both versions; the fixes change what the bodies do:
 * moveto triples y no more but quadruples it and bumps the tag (the same loads and stores
 * through the same registers), mix stops using its last parameter (r8 falls unused, but rdx
 * keeps its own use: no parameter moved), fmix3 weighs y by 20. Hotpatchable, and patched live
 * the DLL prints v2's lines and a module compiled against v1 (entry-args-params-importer.c)
 * gets v2's answers. Changed functions: moveto, mix, fmix3.
 */
#define HP_NAME "entry-args-params-fix"
#include "../../samples/common/harness.h"

struct pt { int x, y; long long tag; };

#if HP_VERSION == 1
HP_FN HP_EXPORT void moveto(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 3; to->tag = from->tag; }
HP_FN HP_EXPORT int mix(int a, int b, int c) { return a * 100 + b * 10 + c; }
HP_FN HP_EXPORT double fmix3(double x, double y, double z) { return x * 100.0 + y * 10.0 + z; }
#else
HP_FN HP_EXPORT void moveto(struct pt *to, const struct pt *from) { to->x = from->x + 1; to->y = from->y * 4; to->tag = from->tag + 1; }
HP_FN HP_EXPORT int mix(int a, int b, int c) { (void)c; return a * 100 + b * 10; }
HP_FN HP_EXPORT double fmix3(double x, double y, double z) { return x * 100.0 + y * 20.0 + z; }
#endif

/* The module calls through pointers the compiler cannot see through, as entry-args-params does. */
static void *volatile hp_moveto = (void *)moveto, *volatile hp_mix = (void *)mix, *volatile hp_fmix3 = (void *)fmix3;

static void hp_vectors(hp_out *o) {
  struct pt a = { 1, 2, 5 }, b = { 10, 20, 7 };
  ((void (*)(struct pt *, const struct pt *))hp_moveto)(&a, &b);
  out_str(o, "mix = "); out_int(o, ((int (*)(int, int, int))hp_mix)(1, 2, 13)); out_nl(o);
  out_str(o, "fmix3 = "); out_int(o, (long long)(((double (*)(double, double, double))hp_fmix3)(1.0, 2.0, 3.0) * 1000)); out_nl(o);
  out_str(o, "moveto = "); out_int(o, a.x); out_str(o, " "); out_int(o, a.y); out_str(o, " "); out_int(o, a.tag); out_nl(o);
}
