/*
 * tiny-function: a function shorter than a 5-byte jump changes. v1's feature_level is
 * `xor %eax,%eax; ret` (3 bytes); v2's is `mov $0x2,%eax; ret` (6 bytes). A redirect
 * at its entry overwrites bytes past its end: only the alignment padding gcc leaves
 * after it (function starts are 16-byte aligned) makes that possible, and the patcher must
 * check the padding is there and unused. Its .pdata entry (gcc emits one for every
 * function on mingw, leaves too) spans exactly the 3 bytes. noipa keeps it out of line and
 * its callers blind to its body.
 * Changed function: feature_level.
 *
 * objdump -d: <feature_level> is 3 bytes (31 c0 c3) then nop padding up to the next
 * 16-byte boundary.
 */
#define HP_NAME "tiny-function"
#include "../common/harness.h"

HP_FN int feature_level(void) {
#if HP_VERSION == 1
  return 0;
#else
  return 2;
#endif
}

HP_FN int describe_level(int base) { return base * 10 + feature_level(); }

static void hp_vectors(hp_out *o) {
  out_str(o, "feature_level() = ");
  out_int(o, feature_level());
  out_nl(o);
  for (int base = 1; base <= 3; base++) {
    out_str(o, "describe_level(");
    out_int(o, base);
    out_str(o, ") = ");
    out_int(o, describe_level(base));
    out_nl(o);
  }
}
