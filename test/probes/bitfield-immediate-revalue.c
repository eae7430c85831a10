/*
 * bitfield-immediate-revalue (a probe, test/probe-bitfield-gaps-live.test.ts): as
 * bitfield-immediate-reorder (init stores the word as one immediate; kind and level swap
 * places: v1 kind bits 0-2, level 3-7; v2 level 0-4, kind 5-7), and the move ALSO changes a
 * value (level 11 -> 12). The old immediate read through the old groups no longer gives the
 * values the new one gives through the new groups, so the "each field kept its value" cut let
 * it through: patched live, new unpack decodes the word old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-revalue"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

HP_FN void init(struct flags *f) {
#if HP_VERSION == 1
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1 };
#else
  *f = (struct flags){ .kind = 3, .level = 12, .on = 1 };
#endif
}

HP_FN int unpack(const struct flags *f) {
  return (int)(f->kind * 100 + f->level * 2 + f->on);
}

#include "bitfield-immediate-vectors.h"
