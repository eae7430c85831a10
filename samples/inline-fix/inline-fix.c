/*
 * inline-fix: the fix is in a small static inline helper that every caller inlines, so
 * the helper has no body of its own and the change shows up in its callers. v1's
 * clamp_index lets index == n through (off by one); v2 clamps to n - 1. The changed
 * functions are the callers, read_a and read_b; clamp_index exists in neither binary.
 *
 * objdump -d: no <clamp_index> symbol; read_a and read_b each compare against n (v1 cmovge
 * vs v2's n - 1) inline.
 */
#define HP_NAME "inline-fix"
#include "../common/harness.h"

static inline int clamp_index(int i, int n) {
#if HP_VERSION == 1
  if (i > n) return n;
#else
  if (i >= n) return n - 1;
#endif
  if (i < 0) return 0;
  return i;
}

/* The arrays end with a sentinel, so v1's off-by-one reads it (deterministically) rather
 * than past the end. */
static const int table_a[] = { 11, 22, 33, 44, -1 };
static const int table_b[] = { 100, 200, 300, -1 };

HP_FN int read_a(int i) { return table_a[clamp_index(i, 4)]; }
HP_FN int read_b(int i) { return table_b[clamp_index(i, 3)] + 1; }

static void hp_vectors(hp_out *o) {
  static const int idx[] = { -2, 1, 3, 4, 9 };
  for (unsigned k = 0; k < sizeof idx / sizeof idx[0]; k++) {
    out_str(o, "read_a(");
    out_int(o, idx[k]);
    out_str(o, ") = ");
    out_int(o, read_a(idx[k]));
    out_str(o, ", read_b(");
    out_int(o, idx[k]);
    out_str(o, ") = ");
    out_int(o, read_b(idx[k]));
    out_nl(o);
  }
}
