/*
 * bitfield-readers (a probe, test/probe-layout-live.test.ts): which changed readers of a
 * word at the displacement a changed writer packs differently are refused with it
 * (compiler/diff/bitfield-readers.ts), issue #14. struct flags keeps a 4-bit tag in bits 0-3;
 * above it kind and level swap places (v1: kind bits 4-6, level 7-11; v2: level 4-8, kind
 * 9-11), so pack, which writes them (set_tag, the same in both, writes the tag), is refused
 * STRUCTURE_BITFIELD_CHANGED, and the layout may have moved from bit 4 up (the lowest bit its
 * keep mask clears). Three other changed functions read a word at +0:
 * - level_of reads the writer's own structure through a pointer held in another structure
 *   (struct holder, passed down by hp_vectors): it decodes level, bits 4 and up, with new
 *   constants: refused with pack (patched alone it would read old-packed words in the new
 *   order).
 * - weight_of reads struct bag's count at +0 whole and scales it (v1 *3, v2 *5): other
 *   constants at the same displacement, but no bit of the word is selected: hotpatchable
 *   (swc-html 1.16.1's Vec lengths at +0x28 beside a flag byte's writer).
 * - mode_of decodes struct mode's low 4 bits (v1 *2, v2 *7): bits below the lowest bit the
 *   writer may have moved: hotpatchable.
 * Patched live with --skip-refused, the process prints v2's weight and mode lines and v1's
 * unpack and level lines (pack, unpack and level_of stay old together).
 * Changed functions: pack, unpack, level_of, weight_of, mode_of.
 */
#define HP_NAME "bitfield-readers"
#include "../../samples/common/harness.h"

struct flags {
  unsigned tag : 4;
#if HP_VERSION == 1
  unsigned kind : 3;
  unsigned level : 5;
#else
  unsigned level : 5;
  unsigned kind : 3;
#endif
  unsigned on : 1;
};

struct holder {
  long long id;
  struct flags *f;
};

struct bag {
  unsigned count;
  unsigned cap;
};

struct mode {
  unsigned low : 4;
  unsigned high : 28;
};

HP_FN void set_tag(struct flags *f, unsigned tag) {
  f->tag = tag;
}

HP_FN void pack(struct flags *f, unsigned kind, unsigned level) {
  f->kind = kind;
  f->level = level;
  f->on = 1;
}

HP_FN int unpack(const struct flags *f) {
#if HP_VERSION == 1
  return (int)(f->kind * 100 + f->level * 2 + f->on + f->tag * 1000);
#else
  return (int)(f->kind * 100 + f->level * 3 + f->on + f->tag * 1000);
#endif
}

HP_FN int level_of(const struct holder *h) {
#if HP_VERSION == 1
  return (int)(h->f->level * 2 + h->id);
#else
  return (int)(h->f->level * 3 + h->id);
#endif
}

HP_FN unsigned weight_of(const struct bag *b) {
#if HP_VERSION == 1
  return b->count * 3;
#else
  return b->count * 5;
#endif
}

HP_FN unsigned mode_of(const struct mode *m) {
#if HP_VERSION == 1
  return m->low * 2;
#else
  return m->low * 7;
#endif
}

static struct flags g_items[3];
static struct holder g_holders[3];
static struct bag g_bags[3];
static struct mode g_modes[3];
static int g_made;
static volatile long g_lock;

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    for (int k = 0; k < 3; k++) {
      set_tag(&g_items[k], 9);
      pack(&g_items[k], (unsigned)k + 1, (unsigned)(3 * k + 2));
      g_holders[k].id = k;
      g_holders[k].f = &g_items[k];
      g_bags[k].count = (unsigned)(7 * k + 1);
      g_modes[k].low = (unsigned)(k + 3);
      g_modes[k].high = (unsigned)k;
    }
    g_made = 1;
  }
  for (int k = 0; k < 3; k++) {
    out_str(o, "unpack(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, unpack(&g_items[k]));
    out_str(o, " level = ");
    out_int(o, level_of(&g_holders[k]));
    out_nl(o);
    out_str(o, "weight(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, weight_of(&g_bags[k]));
    out_str(o, " mode = ");
    out_int(o, mode_of(&g_modes[k]));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
