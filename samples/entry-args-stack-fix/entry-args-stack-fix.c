/*
 * entry-args-stack-fix: negative twin of entry-args-stack. Every export keeps the role of each
 * stack argument, so old callers outside the module still call the new bodies correctly; all
 * of it is hotpatchable:
 * - `gather(a, b, c, d, p, n)`: the pointer in [rsp+0x28] is still dereferenced (at another
 *   offset), the index in [rsp+0x30] still read as 32 bits;
 * - `span(a, b, c, d, s, n)`: n in another arithmetic, s still dereferenced;
 * - `trim(a, b, c, d, n, m)` becomes `trim(a, b, c, d, n)`: its last parameter removed (the new
 *   body stops reading [rsp+0x30]), and its caller changes with it.
 * Changed functions: gather, span, trim, trim_all.
 */
#define HP_NAME "entry-args-stack-fix"
#include "../common/harness.h"

static const int table[5] = { 10, 20, 30, 40, 50 };

#if HP_VERSION == 1
HP_FN HP_EXPORT int gather(int a, int b, int c, int d, const int *p, int n) { return a * b + c * d + p[n & 3]; }
#else
HP_FN HP_EXPORT int gather(int a, int b, int c, int d, const int *p, int n) { return a * b + c * d + p[(n & 3) + 1]; }
#endif
HP_FN int gather_sum(int n) { return gather(1, 2, 3, 4, table, n) + gather(2, 3, 4, 5, table, n + 1); }

#if HP_VERSION == 1
HP_FN HP_EXPORT int span(int a, int b, int c, int d, const char *s, int n) { return a * b + c * d + s[0] + n; }
#else
HP_FN HP_EXPORT int span(int a, int b, int c, int d, const char *s, int n) { return a * b + c * d + s[0] * n; }
#endif
HP_FN int span_all(int n) { return span(1, 2, 3, 4, "a", n) + span(2, 3, 4, 5, "b", n); }

#if HP_VERSION == 1
HP_FN HP_EXPORT int trim(int a, int b, int c, int d, int n, int m) { return a + b * c + d + n - m; }
HP_FN int trim_all(int n) { return trim(1, 2, 3, 4, n, 2) + trim(2, 3, 4, 5, n, 2); }
#else
HP_FN HP_EXPORT int trim(int a, int b, int c, int d, int n) { return a + b * c + d + n - 2; }
HP_FN int trim_all(int n) { return trim(1, 2, 3, 4, n) + trim(2, 3, 4, 5, n); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "gather_sum(1) = ");
  out_int(o, gather_sum(1));
  out_nl(o);
  out_str(o, "span_all(5) = ");
  out_int(o, span_all(5));
  out_nl(o);
  out_str(o, "trim_all(7) = ");
  out_int(o, trim_all(7));
  out_nl(o);
}
