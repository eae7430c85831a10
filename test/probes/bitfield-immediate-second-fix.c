/*
 * bitfield-immediate-second-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative
 * twin of bitfield-immediate-second. The layout stays (pad, then kind bits 0-2, level 3-7, on
 * 8 of the word at +4); v2's init stores another level (11 -> 12: the qword's high half
 * 0x15b -> 0x163) and unpack weighs level differently over the same bits. Hotpatchable.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-immediate-second-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned pad;
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
};

HP_FN void init(struct flags *f) {
#if HP_VERSION == 1
  *f = (struct flags){ .kind = 3, .level = 11, .on = 1 };
#else
  *f = (struct flags){ .kind = 3, .level = 12, .on = 1 };
#endif
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on);
#endif
}

#include "bitfield-immediate-vectors.h"
