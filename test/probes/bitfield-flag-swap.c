/*
 * bitfield-flag-swap (a probe, test/probe-layout-live.test.ts): two one-bit flags swap places
 * in one word (v1: on bit 0, hot bit 1; v2: hot bit 0, on bit 1). pack sets each flag with a
 * lone in-place `or` and clears it with a lone `and` (no read-modify-write through a register),
 * so the bit-field store evidence of bitfield-reorder is absent; only the bit each `or`/`and`
 * and each read test changes. Words packed by old pack decoded by new unpack misread the flags.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-flag-swap"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned on : 1;
  unsigned hot : 1;
#else
  unsigned hot : 1;
  unsigned on : 1;
#endif
  unsigned rest : 30;
};

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->on = 1;
  __asm__ volatile("" ::: "memory");
  f->hot = 1;
  __asm__ volatile("" ::: "memory");
  if (!(kind & 1)) f->on = 0;
  __asm__ volatile("" ::: "memory");
  if (!(level & 2)) f->hot = 0;
}

HP_FN int unpack(const struct flags *f) {
  return (int)(f->on * 10 + f->hot * 3);
}

#include "bitfield-vectors.h"
