/*
 * bitfield-reorder (a probe, test/probe-layout-live.test.ts): objects built before the patch
 * meet new code that packs their bit-fields in another order. struct flags keeps its size
 * (4 bytes) and every access stays a 4-byte load or store at +0 of the pointer argument;
 * only the shift and mask constants change (v1: kind bits 0-2, level 3-7; v2: level 0-4,
 * kind 5-7). The first hp_run call packs three objects into a .bss array (pack), every later
 * call reads them (unpack, whose formula also changes, so v1 and v2 print different lines).
 * Patched live, new unpack decodes v1's bits with v2's layout. Refused now: pack stores into
 * the word it read, through an `and`, with other shift and mask constants
 * (STRUCTURE_BITFIELD_CHANGED, compiler/diff/bitfield-layout.ts), and unpack decodes that
 * word with other constants (compiler/diff/bitfield-readers.ts): --skip-refused carries neither.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-reorder"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = kind;
  f->level = level;
  f->on = 1;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on);
#endif
}

#include "bitfield-vectors.h"
