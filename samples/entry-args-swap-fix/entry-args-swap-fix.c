/*
 * entry-args-swap-fix: negative twin of entry-args-swap. The export `ratio(num, den)` keeps its
 * parameter order and gets a fix (another remainder); its caller changes the constants it
 * passes (61 for 60), not their order. Hotpatchable: old callers outside the module still call
 * it correctly.
 * Changed functions: ratio, ratio_all.
 */
#define HP_NAME "entry-args-swap-fix"
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT int ratio(int num, int den) { return num / den + num % 5; }
HP_FN int ratio_all(int n) { return ratio(60, 7) + ratio(n, 3); }
#else
HP_FN HP_EXPORT int ratio(int num, int den) { return num / den + num % 6; }
HP_FN int ratio_all(int n) { return ratio(61, 7) + ratio(n, 3); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "ratio_all(40) = ");
  out_int(o, ratio_all(40));
  out_nl(o);
}
