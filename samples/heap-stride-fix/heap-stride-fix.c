/*
 * heap-stride-fix: negative twin of heap-stride. The same array of cells built by the first
 * hp_run call, but struct cell has its third field `c` in both versions (12-byte elements
 * that cells_fill writes whole); v2's cells_sum starts adding c, a field old code already
 * wrote in every cell. Old and new cells_sum walk the array in the same 12-byte steps, so the
 * stride verdict (compiler/diff/element-stride.ts) must not fire: hotpatchable, and patched
 * live the sums include c.
 * Changed functions: cells_sum.
 *
 * objdump -d: gcc's cells_sum steps `add $0xc,%rcx` in both versions; v2 adds `-0x4(%rcx)`.
 */
#define HP_NAME "heap-stride-fix"
#include "../common/harness.h"

struct cell {
  int a;
  int b;
  int c;
};

static union {
  char bytes[256];
  long long align;
} g_pool;
static struct cell *g_cells;
static int g_made;
static volatile long g_lock;

HP_FN void cells_fill(struct cell *p, int n) {
  for (int i = 0; i < n; i++) {
    p[i].a = i + 1;
    p[i].b = 10 * (i + 1);
    p[i].c = 3;
  }
}

HP_FN int cells_sum(const struct cell *p, int n) {
  int s = 0;
  for (int i = 0; i < n; i++) {
#if HP_VERSION == 1
    s += p[i].a * p[i].b;
#else
    s += p[i].a * p[i].b + p[i].c;
#endif
  }
  return s;
}

static void hp_vectors(hp_out *o) {
  hp_lock(&g_lock);
  if (!g_made) {
    g_cells = (struct cell *)g_pool.bytes;
    cells_fill(g_cells, 4);
    g_made = 1;
  }
  for (int n = 2; n <= 4; n++) {
    out_str(o, "cells_sum(");
    out_int(o, n);
    out_str(o, ") = ");
    out_int(o, cells_sum(g_cells, n));
    out_nl(o);
  }
  hp_unlock(&g_lock);
}
