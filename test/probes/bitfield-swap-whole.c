/*
 * bitfield-swap-whole (a probe, test/probe-bitfield-gaps-live.test.ts): two 4-bit fields of
 * one byte swap (v1: a bits 0-3, b 4-7; v2: b 0-3, a 4-7); the source of pack and unpack is
 * the same. gcc -O1 packs the byte whole (`mov [rcx],dl`, no read-modify-write). The packers'
 * field sets are equal ({0-3, 4-7}), and so are the bits unpack decodes: only which input
 * lands where, and which decoded bits get which weight, changed. Patched live, new unpack
 * decodes old pack's bytes swapped. Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-swap-whole"
#include "../../samples/common/harness.h"

struct flags {
#if HP_VERSION == 1
  unsigned kind : 4;
  unsigned level : 4;
#else
  unsigned level : 4;
  unsigned kind : 4;
#endif
  unsigned on : 1;
};

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = kind;
  f->level = level;
  f->on = 1;
}

HP_FN int unpack(const struct flags *f) {
  return (int)(f->kind * 100 + f->level * 2 + f->on);
}

#include "bitfield-vectors.h"
