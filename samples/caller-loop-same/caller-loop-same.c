/*
 * caller-loop-same: negative twin of caller-loop. step's fix keeps its one argument (v1 3a + 1,
 * v2 3a + 2) and run changes with it (a different step count), so old run's calls pass what new
 * step reads: a thread inside old run at patch time runs on correctly into the new step, and
 * the package lists no quiescent range.
 * Changed functions: step, run.
 */
#define HP_NAME "caller-loop-same"
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN int step(int a) { return a * 3 + 1; }
#else
HP_FN int step(int a) { return a * 3 + 2; }
#endif

HP_FN int run(int n) {
  int s = 0;
#if HP_VERSION == 1
  for (int i = 0; i < n; i++) s += step(i & 0xff);
#else
  for (int i = 0; i < n; i += 2) s += step(i & 0xff);
#endif
  return s;
}

static void hp_vectors(hp_out *o) {
  out_str(o, "run(2000000) = ");
  out_int(o, run(2000000));
  out_nl(o);
}
