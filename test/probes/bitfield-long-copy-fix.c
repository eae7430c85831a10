/*
 * bitfield-long-copy-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-long-copy. The layout stays (kind bits 0-2, level 3-7, on 8, hot 9); v2's 96-byte
 * initialiser also sets hot (the constant's first word 0x15b -> 0x35b) and unpack changes its
 * formula (level * 2 -> level * 3) over the same bits (hot is read by nobody). Hotpatchable,
 * and patched live new unpack decodes old init's word as v2 does its own: v2's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-long-copy-fix"
#include "../../samples/common/harness.h"
#include <string.h>

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

struct item {
  struct flags flags;
  int weight[23];
};

#if HP_VERSION == 1
static const struct item DEFAULTS = { { .kind = 3, .level = 11, .on = 1 }, { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079, 7103, 7109, 7121, 7127, 7129, 7151, 7159, 7177, 7187, 7193, 7207, 7211, 7213, 7219, 7229 } };
#else
static const struct item DEFAULTS = { { .kind = 3, .level = 11, .on = 1, .hot = 1 }, { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079, 7103, 7109, 7121, 7127, 7129, 7151, 7159, 7177, 7187, 7193, 7207, 7211, 7213, 7219, 7229 } };
#endif

HP_FN void init(struct item *o) {
  memcpy(o, &DEFAULTS, sizeof *o);
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.kind * 100 + o->flags.level * 2 + o->flags.on + o->weight[0] - o->weight[22]);
#else
  return (int)(o->flags.kind * 100 + o->flags.level * 3 + o->flags.on + o->weight[0] - o->weight[22]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
