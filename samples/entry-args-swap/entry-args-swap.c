/*
 * entry-args-swap: an export whose two integer parameters swap places. The new body reads the
 * same registers in the same roles (both integers), so nothing in the callee tells it from a
 * fix that swaps two operands; the module's own caller, compiled against the new order, passes
 * the same constants in swapped registers. A module compiled against v1 calls `ratio(num, den)`;
 * after a patch its calls reach `ratio(den, num)`. Must be refused with ENTRY_ARGUMENTS_CHANGED
 * (compiler/diff/argument-permutation.ts).
 * (v2's second call also divides by 4, not 3, so that the recorded outputs differ.)
 * Changed functions: ratio, ratio_all.
 *
 * objdump -d: v1 ratio_all `mov $0x3c,%ecx; mov $0x7,%edx; call ratio`, v2 `mov $0x7,%ecx;
 * mov $0x3c,%edx; call ratio`; v1 ratio divides ecx by edx, v2 edx by ecx.
 */
#define HP_NAME "entry-args-swap"
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT int ratio(int num, int den) { return num / den + num % 5; }
HP_FN int ratio_all(int n) { return ratio(60, 7) + ratio(n, 3); }
#else
HP_FN HP_EXPORT int ratio(int den, int num) { return num / den + num % 5; }
HP_FN int ratio_all(int n) { return ratio(7, 60) + ratio(4, n); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "ratio_all(40) = ");
  out_int(o, ratio_all(40));
  out_nl(o);
}
