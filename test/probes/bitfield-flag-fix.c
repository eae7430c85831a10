/*
 * bitfield-flag-fix (a probe, test/probe-layout-live.test.ts): the negative twin of
 * bitfield-reorder. struct flags keeps one layout in both versions; pack is the same, and the
 * fix in unpack tests another flag bit (v1: on, v2: hot), so only a READ mask changes. The
 * bit-field verdict (compiler/diff/bitfield-layout.ts) must let it through, and patched live
 * the process prints v2's lines for the objects v1 packed.
 * Changed function: unpack.
 */
#define HP_NAME "bitfield-flag-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = kind;
  f->level = level;
  f->on = 1;
  f->hot = level & 1;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on);
#else
  return (int)(f->kind * 100 + f->level * 2 + f->hot * 7);
#endif
}

#include "bitfield-vectors.h"
