/*
 * bitfield-reorder-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-reorder at gcc -O1. The layout stays (kind bits 0-2, level 3-7); v2's pack masks
 * level to 4 bits (the vectors' levels 2, 5, 8 all fit, so the packed words are the same) and
 * unpack changes its formula (level * 2 -> level * 3). gcc -O1 packs the low byte whole
 * (`mov [rcx],dl`), and its fields differ (level lands in bits 3-6, not 3-7), but unpack
 * decodes the same bits as before (0-2 and 3-7): no moved field is read, hotpatchable, and
 * patched live the process prints v2's lines.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-reorder-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
};

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = kind;
#if HP_VERSION == 1
  f->level = level;
#else
  f->level = level & 0xf;
#endif
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
