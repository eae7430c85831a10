/*
 * rodata-escape-safe: negative twin of rodata-escape. The const table levels changes contents
 * (level 2's scale 4 -> 9), and old code takes its address only to load through it
 * (`lea reg, levels(%rip)` then `[reg + idx*8 + 4]`): no pointer to the OLD table outlives a
 * call, so the package carries a copy and scale_of reads the new values. Hotpatchable; live
 * output equals NEW. Changed function: scale_of (code the same, the table changed).
 *
 * objdump -t: levels in .rdata (32 bytes); objdump -d: `lea levels(%rip)` and an indexed load
 * in scale_of.
 */
#define HP_NAME "rodata-escape-safe"
#include "../common/harness.h"

struct level {
  int limit;
  int scale;
};

#if HP_VERSION == 1
static const struct level levels[4] = { { 10, 1 }, { 20, 2 }, { 30, 4 }, { 40, 8 } };
#else
static const struct level levels[4] = { { 10, 1 }, { 20, 2 }, { 30, 9 }, { 40, 8 } };
#endif

HP_FN int scale_of(int i) { return levels[i & 3].scale; }

static void hp_vectors(hp_out *o) {
  for (int i = 0; i < 4; i++) {
    out_str(o, "scale_of(");
    out_int(o, i);
    out_str(o, ") = ");
    out_int(o, scale_of(i));
    out_nl(o);
  }
}
