/*
 * bitfield-word-move-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-word-move. One layout (c in bits 8-18) in both versions; get_c changes its formula
 * (c*3 -> c*4): hotpatchable, and patched live it prints v2.
 * Changed function: get_c.
 */
#define HP_NAME "bitfield-word-move-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned a : 4;
  unsigned b : 4;
  unsigned c : 11;
  unsigned e : 13;
};

HP_FN void init(struct flags *w, unsigned a, unsigned b) {
  w->a = a;
  w->b = b;
  w->c = 0;
  w->e = 0;
}

HP_FN void set_c(struct flags *w, unsigned c) {
  w->c = c;
}

HP_FN int get_ab(const struct flags *w) {
  return (int)(w->a * 10 + w->b);
}

HP_FN int get_c(const struct flags *w) {
#if HP_VERSION == 1
  return (int)(w->c * 3);
#else
  return (int)(w->c * 4);
#endif
}

#include "bitfield-low-vectors.h"
