/*
 * bitfield-immediate-halves (a probe, test/probe-bitfield-gaps-live.test.ts): a 16-bit
 * bit-field word whose two bytes each hold two fields, all set from constants; gcc -O1 stores
 * it as two byte immediates (`mov byte [rcx],imm; mov byte [rcx+1],imm`). The high byte's
 * fields swap (v1: kind bits 0-2, level 3-7, mode 8-11, on 12-15; v2: on 8-11, mode 12-15), so
 * only the immediate at +1 changes while unpack reads them in the word at +0. unpack's formula also changes, so v1 and v2 print different lines. Patched
 * live, new unpack decodes the word old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-halves"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned kind : 3;
  unsigned level : 5;
  unsigned mode : 4;
  unsigned on : 4;
#else
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 4;
  unsigned mode : 4;
#endif
  unsigned short spare;
};

HP_FN void init(struct flags *f) {
  f->kind = 3;
  f->level = 11;
  f->mode = 9;
  f->on = 5;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 1000 + f->level * 10 + f->mode + f->on * 100);
#else
  return (int)(f->kind * 1000 + f->level * 11 + f->mode + f->on * 100);
#endif
}

#include "bitfield-immediate-vectors.h"
