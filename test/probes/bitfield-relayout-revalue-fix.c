/*
 * bitfield-relayout-revalue-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative
 * twin of bitfield-relayout-revalue. The layout stays (kind bits 0-2, level 3-7); v2's literal
 * gives every word another level (all 16 bytes change, none of the kind bits unpack decodes),
 * word 12's level 9 -> 8 as in the probe (a qword's count of set bits changes), and unpack
 * changes its formula (p[9].kind * 1 -> * 2) over the same bits. Hotpatchable, and patched
 * live new unpack decodes old init's words as v2 does its own: v2's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-relayout-revalue-fix"
#include "../../samples/common/harness.h"

struct pair {
  unsigned char kind : 3;
  unsigned char level : 5;
};

struct item {
  struct pair p[16];
};

#if HP_VERSION == 1
#define L(x) (x)
#define L12 9
#else
#define L(x) ((x) ^ 16)
#define L12 8
#endif

HP_FN void init(struct item *o) {
  *o = (struct item){ { { .kind = 3, .level = L(11) }, { .kind = 5, .level = L(17) }, { .kind = 1, .level = L(29) }, { .kind = 6, .level = L(2) },
                        { .kind = 2, .level = L(23) }, { .kind = 7, .level = L(5) }, { .kind = 4, .level = L(13) }, { .kind = 3, .level = L(19) },
                        { .kind = 1, .level = L(7) }, { .kind = 6, .level = L(12) }, { .kind = 5, .level = L(3) }, { .kind = 2, .level = L(27) },
                        { .kind = 7, .level = L12 }, { .kind = 4, .level = L(21) }, { .kind = 3, .level = L(14) }, { .kind = 5, .level = L(25) } } };
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->p[0].kind * 100 + o->p[5].kind * 10 + o->p[9].kind);
#else
  return (int)(o->p[0].kind * 100 + o->p[5].kind * 10 + o->p[9].kind * 2);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
