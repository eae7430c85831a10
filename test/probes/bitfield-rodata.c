/*
 * bitfield-rodata (a probe, test/probe-bitfield-gaps-live.test.ts): a bit-field word copied
 * from a constant in .rodata. init assigns a 16-byte struct from constants; the compilers
 * copy it from a read-only literal (`movdqa xmm0,[rip+X]; movups [rcx],xmm0`, or `mov
 * rax,[rip+X]; mov [rcx],rax`) instead of storing immediates. The bit-field word's fields
 * swap places (v1: kind bits 0-2, level 3-7; v2: level 0-4, kind 5-7), so the constant's
 * bytes differ (0x15b -> 0x16b) and unpack decodes other bits. Patched live, new unpack
 * decodes the word old init copied with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-rodata"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned kind : 3;
  unsigned level : 5;
#else
  unsigned level : 5;
  unsigned kind : 3;
#endif
  unsigned on : 1;
  int weight;
  int count;
  int limit;
};

HP_FN void init(struct flags *f) {
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1, .weight = 7001, .count = 7013, .limit = 7027 };
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on + f->weight - f->count + f->limit);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on + f->weight - f->count + f->limit);
#endif
}

#include "bitfield-immediate-vectors.h"
