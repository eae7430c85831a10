/*
 * icf-fold: identical code folding. scale_a and scale_b have one body in v1, so clang's build
 * (scenarios.json foldIdentical: lld --icf=all) keeps one copy X at one address that is both
 * names (and the pointer op_b, and the pointer hp_vectors keeps in saved_b from its first run,
 * point at X). v2 changes scale_a only: NEW has scale_a' (changed) and scale_b (X's body).
 * Redirecting X to scale_a' would send every call of scale_b that reaches X (use_b's old body,
 * saved_b kept from before the patch) into scale_a's new code: X must stay scale_b, and only
 * scale_a's callers (use_a) move to the new scale_a. GNU ld has no ICF: the GCC build keeps
 * two bodies and only scale_a changes. Negative twin: icf-safe.
 *
 * objdump -t (clang v1): scale_a and scale_b at the same address; v2: two addresses.
 */
#define HP_NAME "icf-fold"
#include "../common/harness.h"

HP_FN int scale_a(int x) {
#if HP_VERSION == 1
  return x * 7 + 3;
#else
  return x * 7 - 3;
#endif
}

HP_FN int scale_b(int x) { return x * 7 + 3; }

HP_FN int use_a(int x) { return scale_a(x) + 1; }
HP_FN int use_b(int x) { return scale_b(x) + 2; }

/* A pointer to scale_b in read-only data, and one the first run keeps in writable data. */
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
