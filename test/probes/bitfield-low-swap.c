/*
 * bitfield-low-swap (a probe, test/probe-layout-live.test.ts): the bit-field readers' residual
 * gap, issue #14. struct flags packs a and b in bits 0-7 and c, d above; v2 swaps a and b (bits
 * 0-3 and 4-7) AND moves c (11 bits) from bit 8 to bit 13. a and b are written only by init's
 * whole-word store (`w->a = a; w->b = b`, the rest 0: one `mov [rcx],eax`, no read of the
 * word), c only by set_c's read-modify-write, whose keep mask moves (0xfff800ff -> 0xff001fff):
 * set_c is refused STRUCTURE_BITFIELD_CHANGED, and the layout may have moved from bit 8 up
 * (bitfield-layout.ts `from`). get_ab decodes bits 0-7 only (below `from`) with swapped
 * constants, and was carried by --skip-refused: patched live, it decodes the word old init
 * packed in the new order and prints neither version's line.
 * Each changed function has its own unchanged caller (make, show_ab, show_c), so --skip-refused
 * carried get_ab alone (compiler/diff/left-old.ts leaves out what shares a caller with old code).
 * Changed functions: init, set_c, get_ab, get_c.
 */
#define HP_NAME "bitfield-low-swap"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned a : 4;
  unsigned b : 4;
  unsigned c : 11;
  unsigned e : 5;
#else
  unsigned b : 4;
  unsigned a : 4;
  unsigned e : 5;
  unsigned c : 11;
#endif
  unsigned d : 8;
};

HP_FN void init(struct flags *w, unsigned a, unsigned b) {
  w->a = a;
  w->b = b;
  w->c = 0;
  w->d = 0;
  w->e = 0;
}

HP_FN void set_c(struct flags *w, unsigned c) {
  w->c = c;
}

HP_FN int get_ab(const struct flags *w) {
  return (int)(w->a * 10 + w->b);
}

HP_FN int get_c(const struct flags *w) {
  return (int)(w->c * 3);
}

#include "bitfield-low-vectors.h"
