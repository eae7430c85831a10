/*
 * flag-move-count (a probe, test/probe-globals-live.test.ts): bitfield-flag-swap with a change in the number of flags: v2 swaps
 * on and hot AND adds a third one-bit flag that pack sets, so pack's sequence of in-place
 * flag stores grows from 4 to 5 (bitfield-layout.ts compares sequences of equal length only).
 * Both versions print the same lines; patched, the new unpack reads old pack's `on` as `hot`.
 * Refused STRUCTURE_BITFIELD_CHANGED (compiler/diff/flag-moves.ts).
 * Changed functions: pack, unpack.
 */
#define HP_NAME "flag-move-count"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned on : 1;
  unsigned hot : 1;
  unsigned rest : 30;
#else
  unsigned hot : 1;
  unsigned on : 1;
  unsigned cold : 1;
  unsigned rest : 29;
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
