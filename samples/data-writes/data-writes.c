/*
 * data-writes: a program that writes its own .data before it is patched. `history` is
 * initialised, writable data (it lives in .data) and mix rewrites one of its words on every
 * call, so after the first round the running process's .data no longer equals the file's.
 * v2 changes mix's formula; mix also reads a read-only table (weights, in .rdata). A live
 * patch must rest only on code and read-only data: the identity and original-bytes checks
 * of `hotpatch live` still accept this process after many rounds (test/live-identity.test.ts).
 * Changed function: mix.
 */
#define HP_NAME "data-writes"
#include "../common/harness.h"

static volatile int history[8] = { 3, 1, 4, 1, 5, 9, 2, 6 };
static const int weights[4] = { 2, 3, 5, 7 };
static volatile unsigned calls;

HP_FN int mix(int x) {
  unsigned k = calls;
  calls = k + 1;
  history[k & 7] = x ^ (int)k; /* .data changes on every call */
  int w = weights[(unsigned)x & 3];
#if HP_VERSION == 1
  return x * w + 1;
#else
  return x * w - 1;
#endif
}

static void hp_vectors(hp_out *o) {
  static const int xs[] = { 0, 1, 2, 3, 10, -5 };
  for (unsigned k = 0; k < sizeof xs / sizeof xs[0]; k++) {
    out_str(o, "mix(");
    out_int(o, xs[k]);
    out_str(o, ") = ");
    out_int(o, mix(xs[k]));
    out_nl(o);
  }
}
