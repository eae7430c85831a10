/*
 * flag-add-fix (a probe, test/probe-globals-live.test.ts): the negative twin of
 * flag-move-count. v2 adds a third one-bit flag (cold, bit 2) that pack sets, and moves none:
 * pack's flag stores grow from 4 to 5 with the old ones on the same bits. Hotpatchable
 * (compiler/diff/flag-moves.ts sets the added flag aside), and patched live it prints v2.
 * Changed function: pack.
 */
#define HP_NAME "flag-add-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned on : 1;
  unsigned hot : 1;
#if HP_VERSION == 2
  unsigned cold : 1;
  unsigned rest : 29;
#else
  unsigned rest : 30;
#endif
};

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->on = 1;
  __asm__ volatile("" ::: "memory");
  f->hot = 1;
  __asm__ volatile("" ::: "memory");
#if HP_VERSION == 2
  f->cold = 1;
  __asm__ volatile("" ::: "memory");
#endif
  if (!(kind & 1)) f->on = 0;
  __asm__ volatile("" ::: "memory");
  if (!(level & 2)) f->hot = 0;
}

HP_FN int unpack(const struct flags *f) {
  return (int)(f->on * 10 + f->hot * 3);
}

#include "bitfield-vectors.h"
