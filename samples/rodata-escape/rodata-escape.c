/*
 * rodata-escape: a const object whose contents change, and whose OLD address old code kept.
 * The unchanged use_default stores &default_cfg in g_cfg on the first run, before any patch;
 * v2 changes default_cfg's contents (scale 2 -> 3). A package would carry a copy of the new
 * object: is_default would compare g_cfg (the OLD address) with the copy's address (false,
 * where NEW says 1), and scaled would read the old scale through g_cfg (10, where NEW says
 * 15): neither OLD's nor NEW's behaviour, and no single address serves both. It must be
 * refused (compiler/diff/rodata-escape.ts: OLD use_default's `lea` of default_cfg reaches a
 * store to g_cfg). Changed functions: use_default and is_default (code the same, the object
 * they reference changed). Negative twin: rodata-escape-safe.
 *
 * objdump -t: default_cfg in .rdata (8 bytes); objdump -d: `lea default_cfg(%rip)` in
 * use_default (then a store to g_cfg) and is_default.
 */
#define HP_NAME "rodata-escape"
#include "../common/harness.h"

struct cfg {
  int limit;
  int scale;
};

#if HP_VERSION == 1
static const struct cfg default_cfg = { 10, 2 };
#else
static const struct cfg default_cfg = { 10, 3 };
#endif

static const struct cfg *volatile g_cfg;

HP_FN void use_default(void) {
  if (g_cfg == 0) g_cfg = &default_cfg;
}

HP_FN int is_default(void) { return g_cfg == &default_cfg; }

HP_FN int scaled(int x) { return x * g_cfg->scale; }

static void hp_vectors(hp_out *o) {
  use_default();
  out_str(o, "is_default() = ");
  out_int(o, is_default());
  out_nl(o);
  out_str(o, "scaled(5) = ");
  out_int(o, scaled(5));
  out_nl(o);
}
