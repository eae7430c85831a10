/*
 * bitfield-relayout-revalue (a probe, test/probe-bitfield-gaps-live.test.ts): as
 * bitfield-relayout-partial, a 16-byte struct of sixteen one-byte bit-field words assigned whole
 * from constants, each word's fields swapped (v1: kind bits 0-2, level 3-7; v2: level 0-4,
 * kind 5-7), unpack decoding only kinds (bits 0-2 of bytes 0, 5 and 9, now 5-7); v2 also gives
 * word 12 another level (9 -> 8). That qword's count of set bits changes, so the relayout no
 * longer keeps each aligned qword's count (bitfield-immediates.ts rewrittenWhole), and the
 * reader's groups leave the moved level bits unexplained. Patched live, new unpack decodes the
 * words old init stored with the new layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-relayout-revalue"
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

#if HP_VERSION == 1
#define L12 9
#else
#define L12 8
#endif

HP_FN void init(struct item *o) {
  *o = (struct item){ { { .kind = 3, .level = 11 }, { .kind = 5, .level = 17 }, { .kind = 1, .level = 29 }, { .kind = 6, .level = 2 },
                        { .kind = 2, .level = 23 }, { .kind = 7, .level = 5 }, { .kind = 4, .level = 13 }, { .kind = 3, .level = 19 },
                        { .kind = 1, .level = 7 }, { .kind = 6, .level = 12 }, { .kind = 5, .level = 3 }, { .kind = 2, .level = 27 },
                        { .kind = 7, .level = L12 }, { .kind = 4, .level = 21 }, { .kind = 3, .level = 14 }, { .kind = 5, .level = 25 } } };
}

HP_FN int unpack(const struct item *o) {
  return (int)(o->p[0].kind * 100 + o->p[5].kind * 10 + o->p[9].kind);
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
