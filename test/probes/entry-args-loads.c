/*
 * entry-args-loads (a probe, test/probe-args-live.test.ts): two parameters of one type used
 * alike, whose values meet in one non-commutative operation, reordered; the module calls the
 * exports only through pointers. The compilers may read the two in the same order in both
 * builds: only which operand role each value reaches tells them apart.
 * - less(a, b) -> less(b, a): `return *a < *b;` (the loaded values compared).
 * - less_at(a, b, i) -> less_at(b, a, i): `return a[i] < b[i];`.
 * - quot(x, y) -> quot(y, x): `return x / y;` (dividend and divisor, registers only).
 * - quotp(a, b) -> quotp(b, a): `return *a / *b;`.
 * - mod(x, y) -> mod(y, x): `return x % y;`; udiv(x, y) -> udiv(y, x): unsigned `x / y`.
 * - shl2(x, y) -> shl2(y, x): `return x << y;`.
 * - pdiff(a, b) -> pdiff(b, a): `return a - b;` (pointer difference).
 * - subp(a, b) -> subp(b, a): `return *a - *b;`.
 * The twins keep their meaning: sum_fix's two loads reordered (`*a + *b` -> `*b + *a`, the
 * same sum), the others change a constant or a relation inside the same signature.
 */
#define HP_NAME "entry-args-loads"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT int less(const int *a, const int *b) { return *a < *b; }
HP_FN HP_EXPORT int less_at(const int *a, const int *b, int i) { return a[i] < b[i]; }
HP_FN HP_EXPORT int quot(int x, int y) { return x / y; }
HP_FN HP_EXPORT int quotp(const int *a, const int *b) { return *a / *b; }
HP_FN HP_EXPORT int mod(int x, int y) { return x % y; }
HP_FN HP_EXPORT unsigned udiv(unsigned x, unsigned y) { return x / y; }
HP_FN HP_EXPORT int shl2(int x, int y) { return x << y; }
HP_FN HP_EXPORT long long pdiff(const int *a, const int *b) { return a - b; }
HP_FN HP_EXPORT int subp(const int *a, const int *b) { return *a - *b; }
#else
HP_FN HP_EXPORT int less(const int *b, const int *a) { return *a < *b; }
HP_FN HP_EXPORT int less_at(const int *b, const int *a, int i) { return a[i] < b[i]; }
HP_FN HP_EXPORT int quot(int y, int x) { return x / y; }
HP_FN HP_EXPORT int quotp(const int *b, const int *a) { return *a / *b; }
HP_FN HP_EXPORT int mod(int y, int x) { return x % y; }
HP_FN HP_EXPORT unsigned udiv(unsigned y, unsigned x) { return x / y; }
HP_FN HP_EXPORT int shl2(int y, int x) { return x << y; }
HP_FN HP_EXPORT long long pdiff(const int *b, const int *a) { return a - b; }
HP_FN HP_EXPORT int subp(const int *b, const int *a) { return *a - *b; }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT int sum_fix(const int *a, const int *b) { return *a + *b; }
HP_FN HP_EXPORT int less_fix(const int *a, const int *b) { return *a < *b; }
HP_FN HP_EXPORT int quot_fix(int x, int y) { return x / y; }
HP_FN HP_EXPORT int subp_fix(const int *a, const int *b) { return *a - *b; }
#else
HP_FN HP_EXPORT int sum_fix(const int *a, const int *b) { return *b + *a; }
HP_FN HP_EXPORT int less_fix(const int *a, const int *b) { return *a <= *b; }
HP_FN HP_EXPORT int quot_fix(int x, int y) { return x / y + 1; }
HP_FN HP_EXPORT int subp_fix(const int *a, const int *b) { return *a - *b - 1; }
#endif

static void *volatile hp_fns[] = { (void *)less, (void *)less_at, (void *)quot, (void *)quotp, (void *)mod, (void *)udiv, (void *)shl2, (void *)pdiff, (void *)subp, (void *)sum_fix, (void *)less_fix, (void *)quot_fix, (void *)subp_fix };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
