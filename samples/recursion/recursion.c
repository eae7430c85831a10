/*
 * recursion: a recursive function changes. v1's count_paths (lattice paths in a w x h grid)
 * gets its base case wrong (a zero-width grid counts 0 paths instead of 1); v2 fixes it.
 * It recurses twice per call, so at least one real `call <count_paths>` stays in its body:
 * once redirected, the recursive calls in the new body must go to the new body too (they
 * are relative calls to the function's own new address).
 * Changed function: count_paths.
 *
 * objdump -d: `call <count_paths>` inside <count_paths>.
 */
#define HP_NAME "recursion"
#include "../common/harness.h"

HP_FN long long count_paths(int w, int h) {
#if HP_VERSION == 1
  if (w == 0) return 0;
  if (h == 0) return 1;
#else
  if (w == 0 || h == 0) return 1;
#endif
  return count_paths(w - 1, h) + count_paths(w, h - 1);
}

static void hp_vectors(hp_out *o) {
  static const int sizes[][2] = { { 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 2 }, { 0, 5 } };
  for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    out_str(o, "count_paths(");
    out_int(o, sizes[k][0]);
    out_str(o, ", ");
    out_int(o, sizes[k][1]);
    out_str(o, ") = ");
    out_int(o, count_paths(sizes[k][0], sizes[k][1]));
    out_nl(o);
  }
}
