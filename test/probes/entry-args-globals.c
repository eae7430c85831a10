/*
 * entry-args-globals (a probe, test/probe-args-live.test.ts): two pointer parameters of one
 * type whose loaded values are stored to two different zero-initialised globals, reordered;
 * the module calls the exports only through pointers (no call site shows the new order), and
 * the importer reads the globals back through the unchanged export get_global.
 * - store2: `if (a && b) { g_first = *a; g_second = *b; }` -> `... { g_first = *b; g_second =
 *   *a; }` (as if the parameters were swapped, callers unchanged): each value now lands in the
 *   other global. The null tests use both pointers first, in the same order in both bodies.
 * - store2_bare: the same without the null tests.
 * - store2_order: only the two stores reordered (`g_second = *b; g_first = *a;`): each value
 *   keeps its global.
 * - store2_fix: a fix inside the same signature (`g_first = *a + 1`).
 * Each function writes its own pair of globals.
 */
#define HP_NAME "entry-args-globals"
#include "../../samples/common/harness.h"

int g_first, g_second, g_bare_first, g_bare_second, g_order_first, g_order_second, g_fix_first, g_fix_second;

#if HP_VERSION == 1
HP_FN HP_EXPORT void store2(const int *a, const int *b) { if (a && b) { g_first = *a; g_second = *b; } }
HP_FN HP_EXPORT void store2_bare(const int *a, const int *b) { g_bare_first = *a; g_bare_second = *b; }
HP_FN HP_EXPORT void store2_order(const int *a, const int *b) { g_order_first = *a; g_order_second = *b; }
HP_FN HP_EXPORT void store2_fix(const int *a, const int *b) { if (a && b) { g_fix_first = *a; g_fix_second = *b; } }
#else
HP_FN HP_EXPORT void store2(const int *a, const int *b) { if (a && b) { g_first = *b; g_second = *a; } }
HP_FN HP_EXPORT void store2_bare(const int *a, const int *b) { g_bare_first = *b; g_bare_second = *a; }
HP_FN HP_EXPORT void store2_order(const int *a, const int *b) { g_order_second = *b; g_order_first = *a; }
HP_FN HP_EXPORT void store2_fix(const int *a, const int *b) { if (a && b) { g_fix_first = *a + 1; g_fix_second = *b; } }
#endif

/* The globals in declaration order (k = 0..7), unchanged in both versions. */
HP_FN HP_EXPORT int get_global(int k) {
  switch (k) {
  case 0: return g_first;
  case 1: return g_second;
  case 2: return g_bare_first;
  case 3: return g_bare_second;
  case 4: return g_order_first;
  case 5: return g_order_second;
  case 6: return g_fix_first;
  default: return g_fix_second;
  }
}

static void *volatile hp_fns[] = { (void *)store2, (void *)store2_bare, (void *)store2_order, (void *)store2_fix, (void *)get_global };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
