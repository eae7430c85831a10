/*
 * bitfield-immediate-second (a probe, test/probe-bitfield-gaps-live.test.ts): as
 * bitfield-immediate-reorder with the bit-field word second, after a 32-bit field. init
 * assigns the whole struct from constants: clang stores both words as one qword (`movabs
 * rax,0x15b00000000; mov [rcx],rax`, v2 0x16b00000000), while unpack loads the word at +4
 * alone, so the immediate and the reader's bit groups had no displacement in common. kind and
 * level swap places (v1 kind bits 0-2, level 3-7; v2 level 0-4, kind 5-7).
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-second"
#include "../../samples/common/harness.h"

struct flags {
  unsigned pad;
#if HP_VERSION == 1
  unsigned kind : 3;
  unsigned level : 5;
#else
  unsigned level : 5;
  unsigned kind : 3;
#endif
  unsigned on : 1;
};

HP_FN void init(struct flags *f) {
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1 };
}

HP_FN int unpack(const struct flags *f) {
  return (int)(f->kind * 100 + f->level * 2 + f->on);
}

#include "bitfield-immediate-vectors.h"
