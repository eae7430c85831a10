/*
 * bitfield-fill (a probe, test/probe-bitfield-gaps-live.test.ts): global-bitfield-fill through
 * a pointer. init sets kind to all ones (`f->kind = 7`: a lone in-place `or byte [rcx],0x7`,
 * no `and`, no read into a register); kind and level swap places (v1 kind bits 0-2, level
 * 3-7; v2 level 0-4, kind 5-7), so the immediate moves (0x7 -> 0xe0). Neither a bit-field
 * store nor a one-bit flag: hotpatchable before compiler/diff/bitfield-fills.ts. Patched live,
 * new unpack decodes the word old init set with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-fill"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

HP_FN void init(struct flags *f) {
  f->kind = 7;
}

HP_FN int unpack(const struct flags *f) {
  return (int)(f->kind * 100 + f->level * 2 + f->on);
}

#include "bitfield-immediate-vectors.h"
