/*
 * bitfield-immediate-wide (a probe, test/probe-bitfield-gaps-live.test.ts): a 64-bit bit-field
 * word assigned from constants. No `mov qword [m],imm` takes a 64-bit immediate, so the
 * compilers build it in a register (`movabs rax,imm64; mov [rcx],rax`), which the one-immediate
 * rule did not see. kind and level swap places (v1 kind bits 0-2, level 3-7; v2 level 0-4,
 * kind 5-7), tag (bits 8-47) keeps its place and value. Patched live, new unpack decodes the
 * word old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-wide"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned long long kind : 3;
  unsigned long long level : 5;
#else
  unsigned long long level : 5;
  unsigned long long kind : 3;
#endif
  unsigned long long tag : 40;
  unsigned long long on : 1;
};

HP_FN void init(struct flags *f) {
  *f = (struct flags){ .kind = 3, .level = 11, .tag = 0x123456789aull, .on = 1 };
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on + (f->tag & 0xff));
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on + (f->tag & 0xff));
#endif
}

#include "bitfield-immediate-vectors.h"
