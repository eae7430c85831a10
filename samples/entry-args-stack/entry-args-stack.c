/*
 * entry-args-stack: exports whose stack arguments (the fifth on, [rsp+0x28], [rsp+0x30], ...
 * at entry) change meaning while the new body reads the same slots or fewer. A module compiled
 * against v1 calls each of them the v1 way; after a patch its calls reach the new bodies. Must
 * be refused with ENTRY_ARGUMENTS_CHANGED (compiler/diff/entry-arguments.ts, stack roles:
 * compiler/diff/stack-arguments.ts):
 * - `gather(a, b, c, d, p, n)` becomes `gather(a, b, c, d, n, p)` (the fifth and sixth
 *   parameters swapped): the new body dereferences [rsp+0x30], which old callers set to the
 *   index, and reads [rsp+0x28], the old callers' pointer, as a 32-bit index;
 * - `span(a, b, c, d, s, n)` becomes `span(a, b, c, d, n)` (its fifth parameter removed): the
 *   new body reads [rsp+0x28], the old callers' string pointer, as the 32-bit n.
 * Changed functions: gather, gather_sum, span, span_all.
 *
 * objdump -d: v1 gather loads 0x28(%rsp) into a 64-bit register and reads through it, with
 * 0x30(%rsp) read as 32 bits; v2 the other way round; v1 span reads through 0x28(%rsp) and
 * 0x30(%rsp) as 32 bits, v2 reads 0x28(%rsp) as 32 bits only.
 */
#define HP_NAME "entry-args-stack"
#include "../common/harness.h"

static const int table[4] = { 10, 20, 30, 40 };

#if HP_VERSION == 1
HP_FN HP_EXPORT int gather(int a, int b, int c, int d, const int *p, int n) { return a * b + c * d + p[n & 3]; }
HP_FN int gather_sum(int n) { return gather(1, 2, 3, 4, table, n) + gather(2, 3, 4, 5, table, n + 1); }
#else
HP_FN HP_EXPORT int gather(int a, int b, int c, int d, int n, const int *p) { return a * b + c * d + p[n & 3]; }
HP_FN int gather_sum(int n) { return gather(1, 2, 3, 4, n, table) + gather(2, 3, 4, 5, n + 1, table); }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT int span(int a, int b, int c, int d, const char *s, int n) { return a * b + c * d + s[0] + n; }
HP_FN int span_all(int n) { return span(1, 2, 3, 4, "a", n) + span(2, 3, 4, 5, "b", n); }
#else
HP_FN HP_EXPORT int span(int a, int b, int c, int d, int n) { return a * b + c * d + n * 3; }
HP_FN int span_all(int n) { return span(1, 2, 3, 4, n) + span(2, 3, 4, 5, n); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "gather_sum(1) = ");
  out_int(o, gather_sum(1));
  out_nl(o);
  out_str(o, "span_all(5) = ");
  out_int(o, span_all(5));
  out_nl(o);
}
