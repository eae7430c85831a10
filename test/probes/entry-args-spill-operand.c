/*
 * entry-args-spill-operand (a probe, test/entry-args-spill-live.test.ts): two pointer
 * parameters of one type whose roles v2 exchanges (callers unchanged), where the values loaded
 * through them reach the global only from a frame slot read as a memory operand of the
 * operation they meet: kept in volatile locals (and -O0 locals), the loaded values are spilled
 * and then read back by the arithmetic itself (`sub eax,[rsp+0xc]`, `idiv dword [rbp-8]`,
 * `cmp eax,[rsp+0xc]; setl`, `subss xmm0,[rsp+0xc]`) where a compiler folds the reload into it.
 * - ld_sub: the difference of the two loaded values; v2 the other way round;
 * - ld_div: their quotient; v2 the other way round;
 * - ld_cmp: whether the first is less than the second; v2 the other way round;
 * - fl_sub: ld_sub with floats;
 * - rmw_add: both int parameters added to in place (gcc -O0 `add dword [rbp+0x10],5`), then
 *   stored to two globals; v2 stores each to the other global.
 * Each *_fix twin keeps its parameters' roles and only rewrites the expression.
 * Each function writes its own global.
 */
#define HP_NAME "entry-args-spill-operand"
#include "../../samples/common/harness.h"

int g_sub, g_div, g_cmp, g_sub_fix, g_div_fix, g_cmp_fix, g_r0, g_r1, g_rf0, g_rf1;
float g_fl, g_fl_fix;

#if HP_VERSION == 1
HP_FN HP_EXPORT void ld_sub(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_sub = t0 - t1; }
HP_FN HP_EXPORT void ld_div(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_div = t0 / t1; }
HP_FN HP_EXPORT void ld_cmp(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_cmp = t0 < t1; }
HP_FN HP_EXPORT void fl_sub(const float *p, const float *q, int i) { volatile float t0 = p[i], t1 = q[i]; g_fl = t0 - t1; }
HP_FN HP_EXPORT void ld_sub_fix(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_sub_fix = t0 - t1; }
HP_FN HP_EXPORT void ld_div_fix(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_div_fix = t0 / t1; }
HP_FN HP_EXPORT void ld_cmp_fix(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_cmp_fix = t0 < t1; }
HP_FN HP_EXPORT void fl_sub_fix(const float *p, const float *q, int i) { volatile float t0 = p[i], t1 = q[i]; g_fl_fix = t0 - t1; }
HP_FN HP_EXPORT void rmw_add(int a, int b) { a += 5; b += 5; g_r0 = a; g_r1 = b; }
HP_FN HP_EXPORT void rmw_add_fix(int a, int b) { a += 5; b += 5; g_rf0 = a; g_rf1 = b; }
#else
HP_FN HP_EXPORT void ld_sub(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_sub = t1 - t0; }
HP_FN HP_EXPORT void ld_div(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_div = t1 / t0; }
HP_FN HP_EXPORT void ld_cmp(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_cmp = t1 < t0; }
HP_FN HP_EXPORT void fl_sub(const float *p, const float *q, int i) { volatile float t0 = p[i], t1 = q[i]; g_fl = t1 - t0; }
HP_FN HP_EXPORT void ld_sub_fix(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_sub_fix = t0 - t1 + 100; }
HP_FN HP_EXPORT void ld_div_fix(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_div_fix = t0 % t1; }
HP_FN HP_EXPORT void ld_cmp_fix(const int *p, const int *q, int i) { volatile int t0 = p[i], t1 = q[i]; g_cmp_fix = (t0 < t1) + 2; }
HP_FN HP_EXPORT void fl_sub_fix(const float *p, const float *q, int i) { volatile float t0 = p[i], t1 = q[i]; g_fl_fix = (t0 - t1) * 4.0f; }
HP_FN HP_EXPORT void rmw_add(int a, int b) { a += 5; b += 5; g_r0 = b; g_r1 = a; }
HP_FN HP_EXPORT void rmw_add_fix(int a, int b) { a += 6; b += 6; g_rf0 = a; g_rf1 = b; }
#endif

/* The globals in declaration order (k = 0..7), unchanged in both versions; the floats truncated. */
HP_FN HP_EXPORT int get_global(int k) {
  switch (k) {
  case 0: return g_sub;
  case 1: return g_div;
  case 2: return g_cmp;
  case 3: return (int)g_fl;
  case 4: return g_sub_fix;
  case 5: return g_div_fix;
  case 6: return g_cmp_fix;
  case 7: return (int)g_fl_fix;
  case 8: return g_r0;
  case 9: return g_r1;
  case 10: return g_rf0;
  default: return g_rf1;
  }
}

static void *volatile hp_fns[] = { (void *)ld_sub, (void *)ld_div, (void *)ld_cmp, (void *)fl_sub, (void *)ld_sub_fix, (void *)ld_div_fix, (void *)ld_cmp_fix, (void *)fl_sub_fix, (void *)rmw_add, (void *)rmw_add_fix, (void *)get_global };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
