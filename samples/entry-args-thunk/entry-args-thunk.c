/*
 * entry-args-thunk: stack arguments with another meaning reached through an unchanged export.
 * The export `gather_api(a, b, c, d, p, n)` is a tail jump to `gather_impl` in both builds
 * (the same bytes: `jmp gather_impl`); v2 swaps gather_impl's fifth and sixth parameters
 * (`gather(a, b, c, d, n, p)`, as in entry-args-stack) and gather_api's with them, so
 * gather_api is unchanged and gather_impl, which no caller outside the module names, changes.
 * A module compiled against v1 calls gather_api the v1 way, and the tail jump hands its stack
 * slots to the new gather_impl unmoved: the new body dereferences [rsp+0x30], the old callers'
 * index. Must be refused with ENTRY_ARGUMENTS_CHANGED (compiler/diff/entry-arguments.ts: the
 * stack roles of a changed function an unchanged root enters by tail jumps at its entry).
 * Changed functions: gather_impl, gather_sum, use_api.
 *
 * objdump -d: gather_api is `jmp gather_impl` in both builds; v1 gather_impl loads 0x28(%rsp)
 * into a 64-bit register and reads through it, with 0x30(%rsp) read as 32 bits; v2 the other
 * way round.
 */
#define HP_NAME "entry-args-thunk"
#include "../common/harness.h"

static const int table[4] = { 10, 20, 30, 40 };

#if HP_VERSION == 1
HP_FN int gather_impl(int a, int b, int c, int d, const int *p, int n) { return a * b + c * d + p[n & 3]; }
HP_FN HP_EXPORT int gather_api(int a, int b, int c, int d, const int *p, int n) { return gather_impl(a, b, c, d, p, n); }
HP_FN int gather_sum(int n) { return gather_impl(1, 2, 3, 4, table, n) + gather_impl(2, 3, 4, 5, table, n + 1); }
HP_FN int use_api(int n) { return gather_api(1, 2, 3, 4, table, n); }
#else
HP_FN int gather_impl(int a, int b, int c, int d, int n, const int *p) { return a * b + c * d + p[n & 3]; }
HP_FN HP_EXPORT int gather_api(int a, int b, int c, int d, int n, const int *p) { return gather_impl(a, b, c, d, n, p); }
HP_FN int gather_sum(int n) { return gather_impl(1, 2, 3, 4, n, table) + gather_impl(2, 3, 4, 5, n + 1, table); }
HP_FN int use_api(int n) { return gather_api(1, 2, 3, 4, n, table) + 1; }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "gather_sum(1) = ");
  out_int(o, gather_sum(1));
  out_nl(o);
  out_str(o, "use_api(2) = ");
  out_int(o, use_api(2));
  out_nl(o);
}
