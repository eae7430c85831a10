/*
 * bitfield-literal-stack (a probe, test/probe-bitfield-gaps-live.test.ts): a 96-byte struct
 * holding a bit-field word assigned whole from a compound literal. clang -O0 builds so large a
 * literal in a stack temporary, copied from read-only bytes by `lea rdx,[rip+X]; mov r8d,0x60;
 * call memcpy` into `lea rcx,[rsp+..]`, then copies the temporary to the object by a second
 * memcpy from the frame. The word's fields swap places (v1: kind bits 0-2, level 3-7; v2:
 * level 0-4, kind 5-7). Patched live, new unpack decodes the word old init stored with the new
 * layout.
 * Changed functions: init, unpack.
 */
#define HP_NAME "bitfield-literal-stack"
#include "../../samples/common/harness.h"
#include "bitfield-swapped-flags.h"

struct item {
  int weight[16];
  struct flags flags;
  int tail[7];
};

HP_FN void init(struct item *o) {
  *o = (struct item){ { 7001, 7013, 7027, 7039, 7043, 7057, 7069, 7079, 7103, 7109, 7121, 7127, 7129, 7151, 7159, 7177 },
                      { .kind = 3, .level = 11, .on = 1 },
                      { 7187, 7193, 7207, 7211, 7213, 7219, 7229 } };
}

HP_FN int unpack(const struct item *o) {
#if HP_VERSION == 1
  return (int)(o->flags.kind * 100 + o->flags.level * 2 + o->flags.on + o->weight[0] - o->tail[6]);
#else
  return (int)(o->flags.kind * 100 + o->flags.level * 3 + o->flags.on + o->weight[0] - o->tail[6]);
#endif
}

#define HP_VECTORS_ITEM struct item
#include "bitfield-immediate-vectors.h"
