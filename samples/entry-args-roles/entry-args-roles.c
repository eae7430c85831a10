/*
 * entry-args-roles: exports whose new bodies read the same argument registers as the old ones
 * (or fewer), but with another meaning, and an unchanged export that reaches a grown
 * signature two calls deep. A module compiled against v1 calls each of them the v1 way; after
 * a patch its calls reach the new bodies. Must be refused with ENTRY_ARGUMENTS_CHANGED
 * (compiler/diff/entry-arguments.ts, argument roles: compiler/diff/argument-roles.ts):
 * - `pick(p, i)` becomes `pick(i, p)` (parameters reordered): the new body dereferences rdx,
 *   which old callers set to the index, and uses ecx, the old callers' pointer, as the index;
 * - `bump(tag, n)` becomes `bump(n)` (its first parameter removed): the new body uses ecx as an
 *   integer, which old callers set to the tag pointer;
 * - `make_trio(x)`'s result shrinks from 12 bytes (a hidden pointer in rcx, x in edx) to 8
 *   (`struct duo` in rax, x in ecx): the new body takes the old callers' result pointer for x
 *   and never writes their result;
 * - `deep_impl(x)` gains a parameter k; `deep_mid` (not exported) and the export `deep_api`
 *   pass it through with the same code in both builds, so old callers of deep_api reach the
 *   new deep_impl two calls deep without setting rdx.
 * Changed functions: pick, pick_sum, bump, bump_all, make_trio, trio_width, deep_impl, use_deep.
 *
 * objdump -d: v1 pick `mov (%rcx,%rdx,4)` after `and $3,%edx`, v2 `mov (%rdx,%rcx,4)`; v1
 * bump `movsbl (%rcx)`, v2 reads %ecx only; v1 make_trio stores through %rcx and returns it in
 * %rax, v2 computes from %ecx; deep_api and deep_mid are the same bytes in both builds.
 */
#define HP_NAME "entry-args-roles"
#include "../common/harness.h"

static const int table[4] = { 10, 20, 30, 40 };

#if HP_VERSION == 1
HP_FN HP_EXPORT int pick(const int *p, int i) { return p[i & 3] + 1; }
HP_FN int pick_sum(int i) { return pick(table, i) + pick(table, i + 1); }
#else
HP_FN HP_EXPORT int pick(int i, const int *p) { return p[i & 3] + 1; }
HP_FN int pick_sum(int i) { return pick(i, table) + pick(i + 1, table); }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT int bump(const char *tag, int n) { return tag[0] + n; }
HP_FN int bump_all(int n) { return bump("a", n) + bump("b", n); }
#else
HP_FN HP_EXPORT int bump(int n) { return n + 1; }
HP_FN int bump_all(int n) { return bump(n) + bump(n + 1); }
#endif

#if HP_VERSION == 1
struct trio { int lo, hi, mid; };
HP_FN HP_EXPORT struct trio make_trio(int x) { struct trio t = { x - 1, x + 1, x }; return t; }
HP_FN int trio_width(int x) { struct trio t = make_trio(x); return t.hi - t.lo + t.mid; }
#else
struct duo { int lo, hi; };
HP_FN HP_EXPORT struct duo make_trio(int x) { struct duo t = { x - 2, x + 2 }; return t; }
HP_FN int trio_width(int x) { struct duo t = make_trio(x); return t.hi - t.lo; }
#endif

/* deep_mid and deep_api compile to the same bytes in both builds: they pass rdx on untouched. */
#if HP_VERSION == 1
HP_FN int deep_impl(int x) { return x * 5; }
HP_FN int deep_mid(int x) { return deep_impl(x) + 1; }
HP_FN HP_EXPORT int deep_api(int x) { return deep_mid(x) * 2; }
HP_FN int use_deep(int x) { return deep_api(x) - 1; }
#else
HP_FN int deep_impl(int x, int k) { return x * k; }
HP_FN int deep_mid(int x, int k) { return deep_impl(x, k) + 1; }
HP_FN HP_EXPORT int deep_api(int x, int k) { return deep_mid(x, k) * 2; }
HP_FN int use_deep(int x) { return deep_api(x, 7) - 1; }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "pick_sum(1) = ");
  out_int(o, pick_sum(1));
  out_nl(o);
  out_str(o, "bump_all(5) = ");
  out_int(o, bump_all(5));
  out_nl(o);
  out_str(o, "trio_width(10) = ");
  out_int(o, trio_width(10));
  out_nl(o);
  out_str(o, "use_deep(3) = ");
  out_int(o, use_deep(3));
  out_nl(o);
}
