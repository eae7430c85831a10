/*
 * bitfield-relayout-partial (a probe, test/probe-bitfield-gaps-live.test.ts): as
 * bitfield-relayout-copy, a 16-byte struct of sixteen one-byte bit-field words assigned whole
 * from constants, each word's fields swapped (v1: kind bits 0-2, level 3-7; v2: level 0-4,
 * kind 5-7), but unpack decodes only kinds: its groups (bits 0-2 of three bytes, now 5-7)
 * leave the moved level bits undecoded, so they do not explain every changed bit of the bytes
 * they span (bitfield-immediates.ts explained), the cut that keeps a per-build type hash out.
 * Nothing in the DLL reads level (a host would, through the struct). Patched live, new unpack
 * decodes the words old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-relayout-partial"
#include "../../samples/common/harness.h"

struct pair {
#if HP_VERSION == 1
  unsigned char kind : 3;
  unsigned char level : 5;
#else
  unsigned char level : 5;
  unsigned char kind : 3;
#endif
};

struct item {
  struct pair p[16];
};

HP_FN void init(struct item *o) {
  *o = (struct item){ { { .kind = 3, .level = 11 }, { .kind = 5, .level = 17 }, { .kind = 1, .level = 29 }, { .kind = 6, .level = 2 },
                        { .kind = 2, .level = 23 }, { .kind = 7, .level = 5 }, { .kind = 4, .level = 13 }, { .kind = 3, .level = 19 },
                        { .kind = 1, .level = 7 }, { .kind = 6, .level = 12 }, { .kind = 5, .level = 3 }, { .kind = 2, .level = 27 },
                        { .kind = 7, .level = 9 }, { .kind = 4, .level = 21 }, { .kind = 3, .level = 14 }, { .kind = 5, .level = 25 } } };
}

HP_FN int unpack(const struct item *o) {
  return (int)(o->p[0].kind * 100 + o->p[5].kind * 10 + o->p[9].kind);
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
