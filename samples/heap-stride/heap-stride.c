/*
 * heap-stride: an array of structures built before the patch meets new code whose element
 * grew. v2's struct cell gains `c` at its end (8 -> 12
 * bytes); no field moves and nothing is accessed at a constant offset past the old ones
 * through the argument itself: gcc walks the array with `add $0xc,%rcx` (v1: `add $0x8`) and
 * reads the new field at -0x4 of the advanced pointer; clang indexes `[rcx+3i*4+8]` (v1:
 * `[rcx+i*8]`, vectorised). The first hp_run call fills four cells in a .bss pool
 * (cells_fill), every later call sums them (cells_sum). Patched live, new cells_sum walks v1's
 * 8-byte cells in 12-byte steps and printed neither version's sums
 * (test/probe-layout-live.test.ts). The compiler must refuse both ("structure layout changed:
 * walks the array at arg1 in 0xc-byte elements ..., the old function in 0x8-byte ones",
 * compiler/diff/element-stride.ts). Negative twin: heap-stride-fix.
 * Changed functions: cells_fill, cells_sum.
 *
 * objdump -d: gcc's cells_sum `add $0x8,%rcx` (v1) / `add $0xc,%rcx` (v2); cells_fill
 * `mov %eax,-0x8(%rcx,%rax,8)` (v1) / `add $0xc,%rcx` (v2).
 */
#define HP_NAME "heap-stride"
#include "../common/harness.h"

struct cell {
  int a;
  int b;
#if HP_VERSION >= 2
  int c;
#endif
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
#if HP_VERSION >= 2
    p[i].c = 3;
#endif
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
