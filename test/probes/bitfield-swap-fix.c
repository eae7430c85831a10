/*
 * bitfield-swap-fix (a probe, test/probe-bitfield-gaps-live.test.ts): the negative twin of
 * bitfield-swap-whole. The layout stays (kind bits 0-3, level 4-7); v2's pack counts its
 * calls where v1's marks them (a global nobody prints: the packed words are the same) and
 * unpack changes its formula (level * 2 -> level * 3). clang packs by read-modify-write
 * (`and eax,[rcx]` with the keep mask, fields merged by `or`/`add`), gcc -O1 packs the byte
 * whole; either way each argument lands in the same bits in both bodies: no input moved,
 * hotpatchable, and patched live the process prints v2's lines.
 * Changed functions: pack, unpack.
 */
#define HP_NAME "bitfield-swap-fix"
#include "../../samples/common/harness.h"

struct flags {
  unsigned kind : 4;
  unsigned level : 4;
  unsigned on : 1;
};

static volatile int g_packs;

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = kind;
  f->level = level;
  f->on = 1;
#if HP_VERSION == 1
  g_packs = 1;
#else
  g_packs = g_packs + 1;
#endif
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on);
#endif
}

#include "bitfield-vectors.h"
