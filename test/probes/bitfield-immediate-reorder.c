/*
 * bitfield-immediate-reorder (a probe, test/probe-bitfield-gaps-live.test.ts): a bit-field word
 * stored as one immediate. init assigns the whole struct from constants (`*f = (struct
 * flags){...}`): every compiler folds the fields into one `mov dword [rcx],imm` (v1 0x15b, v2
 * 0x16b), no shift, no mask, no read of the word, so neither the read-modify-write rule
 * (bitfield-layout.ts) nor the packing-store rules (bitfield-packed*.ts) see a field. The
 * fields swap places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind 5-7); unpack's formula
 * also changes, so v1 and v2 print different lines. Patched live, new unpack decodes the word
 * old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-reorder"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

HP_FN void init(struct flags *f) {
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1 };
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on);
#endif
}

#include "bitfield-immediate-vectors.h"
