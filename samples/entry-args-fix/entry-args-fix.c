/*
 * entry-args-fix: negative twin of entry-args. `scale_by` gains a parameter too, but it is
 * neither exported nor address-taken, and its only caller, `scaled_sum`, changes with it:
 * after a patch every call that reaches the new body comes from the new scaled_sum, which
 * passes k. `bias` is exported and a changed logic fix that reads the same argument
 * register as before (ecx). Both are hotpatchable.
 * Changed functions: scale_by, scaled_sum, bias.
 *
 * objdump -d: v2 scale_by reads %ecx and %edx; `call scale_by` only in scaled_sum; no
 * relocation or lea names scale_by.
 */
#define HP_NAME "entry-args-fix"
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN int scale_by(int x) { return x * 3; }
HP_FN int scaled_sum(int a, int b) { return scale_by(a) + scale_by(b); }
HP_FN HP_EXPORT int bias(int x) { return x + 10; }
#else
HP_FN int scale_by(int x, int k) { return x * k; }
HP_FN int scaled_sum(int a, int b) { return scale_by(a, 3) + scale_by(b, 4); }
HP_FN HP_EXPORT int bias(int x) { return x > 100 ? 110 : x + 10; }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "scaled_sum(5, 7) = ");
  out_int(o, scaled_sum(5, 7));
  out_nl(o);
  out_str(o, "bias(150) = ");
  out_int(o, bias(150));
  out_nl(o);
}
