/*
 * entry-args-computed (a probe, test/entry-args-computed-live.test.ts): two int parameters of
 * one type swapped (callers unchanged), each first multiplied alike, so the only thing telling
 * them apart is the role the computed value plays in the non-commutative operation it meets,
 * not a global it reaches:
 * - c_sub: `a*a - b*b` (the products meet sub: minuend and subtrahend);
 * - c_div: `(a*8) / (b*8 + 1)` (dividend and divisor);
 * - c_cmp: unsigned `a*3 < b*3` (the sides of a compare);
 * - c_call: `pair(a*8, b*8)` (argument slots of a call to another export);
 * - c_idx: `tab[a*a - b]` through a table (the subtrahend of an index).
 * Each *_fix twin keeps its parameters in place and changes a constant; sum_fix exchanges the
 * terms of a commutative sum (`a*8 + b*8` -> `b*8 + a*8 + 1`).
 */
#define HP_NAME "entry-args-computed"
#include "../../samples/common/harness.h"

int tab[64];

HP_FN HP_EXPORT int pair(int x, int y) { return x - 2 * y; }

#if HP_VERSION == 1
HP_FN HP_EXPORT int c_sub(int a, int b) { return a * a - b * b; }
HP_FN HP_EXPORT int c_div(int a, int b) { return (a * 8) / (b * 8 + 1); }
HP_FN HP_EXPORT int c_cmp(unsigned a, unsigned b) { return a * 3 < b * 3; }
HP_FN HP_EXPORT int c_call(int a, int b) { return pair(a * 8, b * 8); }
HP_FN HP_EXPORT int c_idx(int a, int b) { return tab[a * a - b]; }
#else
HP_FN HP_EXPORT int c_sub(int b, int a) { return a * a - b * b; }
HP_FN HP_EXPORT int c_div(int b, int a) { return (a * 8) / (b * 8 + 1); }
HP_FN HP_EXPORT int c_cmp(unsigned b, unsigned a) { return a * 3 < b * 3; }
HP_FN HP_EXPORT int c_call(int b, int a) { return pair(a * 8, b * 8); }
HP_FN HP_EXPORT int c_idx(int b, int a) { return tab[a * a - b]; }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT int c_sub_fix(int a, int b) { return a * a - b * b; }
HP_FN HP_EXPORT int c_div_fix(int a, int b) { return (a * 8) / (b * 8 + 1); }
HP_FN HP_EXPORT int c_cmp_fix(unsigned a, unsigned b) { return a * 3 < b * 3; }
HP_FN HP_EXPORT int c_call_fix(int a, int b) { return pair(a * 8, b * 8); }
HP_FN HP_EXPORT int c_idx_fix(int a, int b) { return tab[a * a - b]; }
HP_FN HP_EXPORT int sum_fix(int a, int b) { return a * 8 + b * 8; }
#else
HP_FN HP_EXPORT int c_sub_fix(int a, int b) { return a * a - b * b * 2; }
HP_FN HP_EXPORT int c_div_fix(int a, int b) { return (a * 8) / (b * 4 + 1); }
HP_FN HP_EXPORT int c_cmp_fix(unsigned a, unsigned b) { return a * 3 < b * 6; }
HP_FN HP_EXPORT int c_call_fix(int a, int b) { return pair(a * 8, b * 4); }
HP_FN HP_EXPORT int c_idx_fix(int a, int b) { return tab[a * a - b * 2]; }
HP_FN HP_EXPORT int sum_fix(int a, int b) { return b * 8 + a * 8 + 1; }
#endif

static void *volatile hp_fns[] = { (void *)pair, (void *)c_sub, (void *)c_div, (void *)c_cmp, (void *)c_call, (void *)c_idx, (void *)c_sub_fix, (void *)c_div_fix, (void *)c_cmp_fix, (void *)c_call_fix, (void *)c_idx_fix, (void *)sum_fix };

static void hp_vectors(hp_out *o) {
  for (int k = 0; k < 64; k++) tab[k] = k * 10;
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
