/*
 * bitfield-word-move (a probe, test/probe-bitfield-gaps-live.test.ts): a bit-field whose store
 * moves to another word. c (11 bits) moves from bits 8-18 to bits 21-31; gcc writes it with a
 * dword read-modify-write at +0 in v1 and a word one at +2 in v2 (and get_c reads a dword at
 * +0, then a word at +2), so bitfield-layout.ts, which compares stores at one displacement,
 * saw nothing and set_c and get_c were hotpatchable (clang keeps a dword at +0 and was
 * refused). Both versions print the same lines; patched live, new get_c reads old set_c's c
 * at the new bits. Now a store word gone at X with an overlapping new one at Y is a change at
 * both (bitfield-layout.ts movedWords).
 * Changed functions: set_c, get_c.
 */
#define HP_NAME "bitfield-word-move"
#include "../../samples/common/harness.h"

struct flags {
  unsigned a : 4;
  unsigned b : 4;
#if HP_VERSION == 1
  unsigned c : 11;
  unsigned e : 13;
#else
  unsigned e : 13;
  unsigned c : 11;
#endif
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
  return (int)(w->c * 3);
}

#include "bitfield-low-vectors.h"
