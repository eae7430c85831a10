/*
 * bitfield-helper-units-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin
 * of bitfield-helper-units (the initialiser copied by the DLL's own copy_qwords, its count in
 * qwords). The layout stays (kind bits 0-2, level 3-7, on 8, hot 9); v2's initialiser also
 * sets hot (the word at +32: 0x15b -> 0x35b) and unpack changes its formula (level * 2 ->
 * level * 3) over the same bits (hot is read by nobody). Hotpatchable, and patched live new
 * unpack decodes old init's word as v2 does its own: v2's line.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-helper-units-fix"
#include "../../samples/common/harness.h"
#include <stddef.h>

struct flags {
  unsigned kind : 3;
  unsigned level : 5;
  unsigned on : 1;
  unsigned hot : 1;
};

struct item {
  int weight[8];
  struct flags flags;
  int spare;
};

#if HP_VERSION == 1
static const struct item DEFAULTS = { { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 }, { .kind = 3, .level = 11, .on = 1 }, 0 };
#else
static const struct item DEFAULTS = { { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079 }, { .kind = 3, .level = 11, .on = 1, .hot = 1 }, 0 };
#endif

HP_FN void copy_qwords(void *dst, const void *src, size_t n) {
  unsigned long long *d = dst;
  const unsigned long long *s = src;
  while (n--) *d++ = *s++;
}

HP_FN void init(struct item *o) {
  copy_qwords(o, &DEFAULTS, sizeof *o / 8);
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.kind * 100 + o->flags.level * 2 + o->flags.on + o->weight[0] - o->weight[7]);
#else
  return (int)(o->flags.kind * 100 + o->flags.level * 3 + o->flags.on + o->weight[0] - o->weight[7]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
