/*
 * entry-args: an exported function gains a parameter. v1 `scale_by(x)` returns 3x; v2
 * `scale_by(x, k)` returns x*k, and the DLL's own caller `scaled_sum` passes k (it changes
 * with it). But scale_by is exported: a program or another module compiled against v1 calls
 * it with x alone, and after a patch its old calls reach the new body, which reads k from
 * rdx, a register those callers never set (whatever their last computation left there).
 * The same holds for `op_shift`, reached through the const callback table `ops` (.rdata,
 * base-relocated): v2's callbacks take a second argument; a pointer held outside the module
 * (handed out before the patch) keeps being called the old way. Must be refused with
 * ENTRY_ARGUMENTS_CHANGED (compiler/diff/entry-arguments.ts). Likewise `weigh`, which gains a
 * sixth argument (a stack slot, [rsp+0x30] at entry), and `scale_impl`, which gains one that
 * the unchanged export `api_scale` (the same `jmp scale_impl` in both builds) passes through,
 * and the export `make_span`, whose result grows from 8 bytes (rax) to 12 (a hidden pointer in
 * rcx), which moves x to rdx.
 * Changed functions: scale_by, scaled_sum, op_shift, run_op, weigh, weigh_all, scale_impl,
 * use_api, make_span, span_width.
 *
 * objdump -d: v1 scale_by reads only %ecx (`lea (%rcx,%rcx,2),%eax`); v2 reads %ecx and
 * %edx (`imul %edx,%ecx`); objdump -p: scale_by in the export table.
 */
#define HP_NAME "entry-args"
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT int scale_by(int x) { return x * 3; }
HP_FN int scaled_sum(int a, int b) { return scale_by(a) + scale_by(b); }
#else
HP_FN HP_EXPORT int scale_by(int x, int k) { return x * k; }
HP_FN int scaled_sum(int a, int b) { return scale_by(a, 3) + scale_by(b, 4); }
#endif

#if HP_VERSION == 1
HP_FN int op_neg(int x) { return -x; }
HP_FN int op_shift(int x) { return x << 1; }
typedef int (*op_fn)(int);
static const op_fn ops[] = { op_neg, op_shift };
HP_FN int run_op(int which, int x) { return 100 + ops[which & 1](x); } /* not a tail call */
#else
HP_FN int op_neg(int x, int by) { (void)by; return -x; }
HP_FN int op_shift(int x, int by) { return x << by; }
typedef int (*op_fn)(int, int);
static const op_fn ops[] = { op_neg, op_shift };
HP_FN int run_op(int which, int x) { return 100 + ops[which & 1](x, 3); }
#endif

/* A sixth argument, on the stack at [rsp+0x30]: old callers push five. */
#if HP_VERSION == 1
HP_FN HP_EXPORT int weigh(int a, int b, int c, int d, int e) { return a + 2 * b + 3 * c + 4 * d + 5 * e; }
HP_FN int weigh_all(int x) { return weigh(x, 2, 3, 4, 5); }
#else
HP_FN HP_EXPORT int weigh(int a, int b, int c, int d, int e, int f) { return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f; }
HP_FN int weigh_all(int x) { return weigh(x, 2, 3, 4, 5, 6); }
#endif

/* The export's code is the same in both builds (`jmp scale_impl`), while what it passes on
 * grew: scale_impl takes k in v2, so api_scale does too. */
#if HP_VERSION == 1
HP_FN int scale_impl(int x) { return x * 5; }
HP_FN HP_EXPORT int api_scale(int x) { return scale_impl(x); }
HP_FN int use_api(int x) { return api_scale(x) + 1; }
#else
HP_FN int scale_impl(int x, int k) { return x * k; }
HP_FN HP_EXPORT int api_scale(int x, int k) { return scale_impl(x, k); }
HP_FN int use_api(int x) { return api_scale(x, 6) + 1; }
#endif

/* The return side: v1 returns its 8-byte span in rax; v2's span has a third field, so it is
 * returned through a hidden pointer the caller passes in rcx, and x moves to rdx. */
#if HP_VERSION == 1
struct span { int lo, hi; };
HP_FN HP_EXPORT struct span make_span(int x) { struct span s = { x - 1, x + 1 }; return s; }
HP_FN int span_width(int x) { struct span s = make_span(x); return s.hi - s.lo; }
#else
struct span { int lo, hi, mid; };
HP_FN HP_EXPORT struct span make_span(int x) { struct span s = { x - 2, x + 2, x }; return s; }
HP_FN int span_width(int x) { struct span s = make_span(x); return s.hi - s.lo + s.mid; }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "span_width(10) = ");
  out_int(o, span_width(10));
  out_nl(o);
  out_str(o, "weigh_all(1) = ");
  out_int(o, weigh_all(1));
  out_nl(o);
  out_str(o, "use_api(7) = ");
  out_int(o, use_api(7));
  out_nl(o);
  out_str(o, "scaled_sum(5, 7) = ");
  out_int(o, scaled_sum(5, 7));
  out_nl(o);
  for (int w = 0; w < 2; w++) {
    out_str(o, "run_op(");
    out_int(o, w);
    out_str(o, ", 9) = ");
    out_int(o, run_op(w, 9));
    out_nl(o);
  }
}
