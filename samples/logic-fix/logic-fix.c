/*
 * logic-fix: a one-line logic fix. v1's loop stops one element early (off-by-one), v2 sums
 * the whole array. Changed function: sum_first.
 *
 * objdump -d: sum_first is its own function in both versions, called from hp_vectors; only
 * its loop bound differs (v1 compares against n-1, v2 against n).
 */
#define HP_NAME "logic-fix"
#include "../common/harness.h"

HP_FN int sum_first(const int *a, int n) {
  int s = 0;
#if HP_VERSION == 1
  for (int i = 0; i < n - 1; i++) s += a[i];
#else
  for (int i = 0; i < n; i++) s += a[i];
#endif
  return s;
}

static void hp_vectors(hp_out *o) {
  static const int data[] = { 5, 7, 11, 13, 17, 19, 23 };
  static const int counts[] = { 0, 1, 2, 4, 7 };
  for (unsigned k = 0; k < sizeof counts / sizeof counts[0]; k++) {
    out_str(o, "sum_first(n=");
    out_int(o, counts[k]);
    out_str(o, ") = ");
    out_int(o, sum_first(data, counts[k]));
    out_nl(o);
  }
}
