/*
 * icf-safe: the negative twin of icf-fold. scale_a and scale_b have one body in both versions
 * (clang's build folds them: scenarios.json foldIdentical); only offset_of changes. The folded
 * body is one old function that is one new function: nothing splits, the patch is plain.
 * Changed function: offset_of.
 */
#define HP_NAME "icf-safe"
#include "../common/harness.h"

HP_FN int scale_a(int x) { return x * 7 + 3; }
HP_FN int scale_b(int x) { return x * 7 + 3; }

HP_FN int offset_of(int x) {
#if HP_VERSION == 1
  return x + 10;
#else
  return x + 20;
#endif
}

HP_FN int use_a(int x) { return scale_a(x) + offset_of(x); }
HP_FN int use_b(int x) { return scale_b(x) + 2; }

static int (*volatile const op_b)(int) = scale_b;
static int (*volatile saved_b)(int);

static void hp_vectors(hp_out *o) {
  if (saved_b == 0) saved_b = op_b;
  for (int x = 0; x < 3; x++) {
    out_str(o, "use_a=");
    out_int(o, use_a(x));
    out_str(o, " use_b=");
    out_int(o, use_b(x));
    out_str(o, " op_b=");
    out_int(o, op_b(x));
    out_str(o, " saved_b=");
    out_int(o, saved_b(x));
    out_nl(o);
  }
}
