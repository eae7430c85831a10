/*
 * entry-args-same (a probe, test/probe-args-live.test.ts): two pointer parameters of one type
 * whose uses are alike but for what goes through them, reordered, with no call to tell them
 * apart; the module calls the exports only through pointers (no call site shows the new order).
 * Each has a twin (`*_fix`) that keeps its signature and changes its logic.
 * - put(a, b) -> put(b, a): `*a = 1; *b = 2;`, two stores of constants at the same offset.
 * - put2(a, b, v) -> put2(b, a, v): `*a = v; *b = v + 1;`, two stores of values.
 * - diff(a, b) -> diff(b, a): `return *a - *b;`, two loads, one the subtrahend.
 * - lt(a, b) -> lt(b, a): `return a < b;`, two integers compared.
 */
#define HP_NAME "entry-args-same"
#include "../../samples/common/harness.h"

#if HP_VERSION == 1
HP_FN HP_EXPORT void put(int *a, int *b) { *a = 1; *b = 2; }
HP_FN HP_EXPORT void put2(int *a, int *b, int v) { *a = v; *b = v + 1; }
HP_FN HP_EXPORT int diff(const int *a, const int *b) { return *a - *b; }
HP_FN HP_EXPORT int lt(int a, int b) { return a < b; }
#else
HP_FN HP_EXPORT void put(int *b, int *a) { *a = 1; *b = 2; }
HP_FN HP_EXPORT void put2(int *b, int *a, int v) { *a = v; *b = v + 1; }
HP_FN HP_EXPORT int diff(const int *b, const int *a) { return *a - *b; }
HP_FN HP_EXPORT int lt(int b, int a) { return a < b; }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT void put_fix(int *a, int *b) { *a = 1; *b = 2; }
HP_FN HP_EXPORT void put2_fix(int *a, int *b, int v) { *a = v; *b = v + 1; }
HP_FN HP_EXPORT int diff_fix(const int *a, const int *b) { return *a - *b; }
HP_FN HP_EXPORT int lt_fix(int a, int b) { return a < b; }
#else
HP_FN HP_EXPORT void put_fix(int *a, int *b) { *a = 1; *b = 3; }
HP_FN HP_EXPORT void put2_fix(int *a, int *b, int v) { *a = v; *b = v + 2; }
HP_FN HP_EXPORT int diff_fix(const int *a, const int *b) { return *a - *b + 1; }
HP_FN HP_EXPORT int lt_fix(int a, int b) { return a <= b; }
#endif

static void *volatile hp_fns[] = { (void *)put, (void *)put2, (void *)diff, (void *)lt, (void *)put_fix, (void *)put2_fix, (void *)diff_fix, (void *)lt_fix };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
