/*
 * bitfield-low-fix (a probe, test/probe-layout-live.test.ts): the negative twin of
 * bitfield-low-swap. c still moves from bit 8 to bit 13 (set_c and get_c refused
 * STRUCTURE_BITFIELD_CHANGED), but a and b keep bits 0-3 and 4-7, so init packs them as
 * before (unchanged); get_ab changes its formula (a*10+b -> a*11+b) and decodes only bits
 * below the moved ones: hotpatchable, and patched live with --skip-refused the process prints
 * v2's lines (get_c's formula is the same in both).
 * Changed functions: set_c, get_ab, get_c.
 */
#define HP_NAME "bitfield-low-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned a : 4;
  unsigned b : 4;
#if HP_VERSION == 1
  unsigned c : 11;
  unsigned e : 5;
#else
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
#if HP_VERSION == 1
  return (int)(w->a * 10 + w->b);
#else
  return (int)(w->a * 11 + w->b);
#endif
}

HP_FN int get_c(const struct flags *w) {
  return (int)(w->c * 3);
}

#include "bitfield-low-vectors.h"
