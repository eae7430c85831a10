/*
 * new-helper: the fix adds a static helper that only the fixed function calls. v1's
 * average_percent averages raw readings (out-of-range readings skew it); v2 clamps each
 * reading to 0..100 through the new clamp_percent, which stays a function of its own.
 * Changed function: average_percent; added function: clamp_percent.
 *
 * objdump -d v2: a `call <clamp_percent>` inside average_percent, and clamp_percent as a
 * separate body; v1 has no clamp_percent at all.
 */
#define HP_NAME "new-helper"
#include "../common/harness.h"

#if HP_VERSION >= 2
static HP_FN int clamp_percent(int v) {
  if (v < 0) return 0;
  if (v > 100) return 100;
  return v;
}
#endif

HP_FN int average_percent(const int *v, int n) {
  long long s = 0;
  if (n <= 0) return 0;
  for (int i = 0; i < n; i++) {
#if HP_VERSION == 1
    s += v[i];
#else
    s += clamp_percent(v[i]);
#endif
  }
  return (int)(s / n);
}

static void hp_vectors(hp_out *o) {
  static const int a[] = { 10, 20, 30, 40 };
  static const int b[] = { 50, 250, 90 };
  static const int c[] = { -40, 60, 100, 100 };
  static const struct { const int *v; int n; const char *label; } cases[] = {
    { a, 4, "in-range" }, { b, 3, "high" }, { c, 4, "negative" }, { a, 0, "empty" },
  };
  for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    out_str(o, "average_percent(");
    out_str(o, cases[k].label);
    out_str(o, ") = ");
    out_int(o, average_percent(cases[k].v, cases[k].n));
    out_nl(o);
  }
}
