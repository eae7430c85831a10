/*
 * bitfield-immediate-bytes (a probe, test/probe-bitfield-gaps-live.test.ts): a bit-field word
 * stored as byte immediates. init sets every field of a 16-bit word from constants; gcc -O1
 * merges the field stores into `mov byte [rcx],imm; mov byte [rcx+1],imm` (gcc -O2 `mov
 * eax,imm; mov [rcx],ax`, clang and gcc -Os one `mov word [rcx],imm`). level straddles the two
 * bytes; level and mode swap places (v1: kind bits 0-2, level 3-8, mode 9-12, on 13-15; v2: kind 0-2,
 * mode 3-6, level 7-12), so both bytes' immediates change and unpack reads the word whole.
 * unpack's formula also changes, so v1 and v2 print different lines. Patched live, new unpack
 * decodes the word old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-bytes"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
#if HP_VERSION == 1
  unsigned level : 6;
  unsigned mode : 4;
#else
  unsigned mode : 4;
  unsigned level : 6;
#endif
  unsigned on : 3;
  unsigned short spare;
};

HP_FN void init(struct flags *f) {
  f->kind = 3;
  f->level = 45;
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
