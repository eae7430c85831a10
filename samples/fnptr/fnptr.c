/*
 * fnptr: a changed function reached both through a table of callbacks and by direct calls
 * from unchanged callers. v1's op_halve rounds toward zero (-7 -> -3); v2 rounds down
 * (-7 -> -4). The table `handlers` (const, so .rdata, filled in by base relocations) holds
 * its address, and apply_twice / halve_sum call it directly: after a patch, both paths must
 * reach the new body, which a redirect at the old entry gives for free.
 * Changed function: op_halve.
 *
 * objdump -d: `call <op_halve>` in apply_twice and halve_sum, `call *(%rax,...)`-style
 * indirect calls in run_handler; objdump -p: .reloc entries (DIR64) for the table.
 */
#define HP_NAME "fnptr"
#include "../common/harness.h"

HP_FN int op_negate(int x) { return -x; }
HP_FN int op_square(int x) { return x * x; }

HP_FN int op_halve(int x) {
#if HP_VERSION == 1
  return x / 2;
#else
  return x >= 0 ? x / 2 : -((-x + 1) / 2);
#endif
}

typedef int (*handler_fn)(int);
static const handler_fn handlers[] = { op_negate, op_halve, op_square };
static const char *const handler_names[] = { "negate", "halve", "square" };

HP_FN int run_handler(int which, int x) { return handlers[which](x); }
HP_FN int apply_twice(int x) { return op_halve(op_halve(x)); }
HP_FN int halve_sum(int a, int b) { return op_halve(a) + op_halve(b); }

static void hp_vectors(hp_out *o) {
  static const int xs[] = { 9, -7 };
  for (int w = 0; w < 3; w++) {
    for (unsigned k = 0; k < sizeof xs / sizeof xs[0]; k++) {
      out_str(o, "run_handler(");
      out_str(o, handler_names[w]);
      out_str(o, ", ");
      out_int(o, xs[k]);
      out_str(o, ") = ");
      out_int(o, run_handler(w, xs[k]));
      out_nl(o);
    }
  }
  out_str(o, "apply_twice(-13) = ");
  out_int(o, apply_twice(-13));
  out_nl(o);
  out_str(o, "halve_sum(5, -5) = ");
  out_int(o, halve_sum(5, -5));
  out_nl(o);
}
