/*
 * bitfield-immediate-wide-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative
 * twin of bitfield-immediate-wide. The layout stays (kind bits 0-2, level 3-7, tag 8-47, on
 * 48); v2's init stores another tag (the imm64 changes in bits 8-15) and unpack changes its
 * formula (level * 2 -> level * 3) over the same bits. Hotpatchable, and patched live new
 * unpack decodes old init's word as v2 decodes its own layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-wide-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned long long kind : 3;
  unsigned long long level : 5;
  unsigned long long tag : 40;
  unsigned long long on : 1;
};

HP_FN void init(struct flags *f) {
#if HP_VERSION == 1
  *f = (struct flags){ .kind = 3, .level = 11, .tag = 0x123456789aull, .on = 1 };
#else
  *f = (struct flags){ .kind = 3, .level = 11, .tag = 0x1234567807ull, .on = 1 };
#endif
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on + (f->tag & 0xff));
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on + (f->tag & 0xff));
#endif
}

#include "bitfield-immediate-vectors.h"
