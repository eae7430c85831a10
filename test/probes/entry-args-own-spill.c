/*
 * entry-args-own-spill (a probe, test/entry-args-own-live.test.ts): two parameters of one type
 * swapped (callers unchanged) while the expression each feeds is rewritten, as in
 * entry-args-own.c, but what reaches each global passes through memory first:
 * - spill_lea, spill_imul: the value computed from the parameter's own value is kept in a
 *   volatile local (a frame slot at every level: `lea eax,[rcx*8+5]; mov [rsp+8],eax; ...;
 *   mov eax,[rsp+8]; mov [rip+g],eax`) before it is stored to the global;
 * - idx_load: the value is loaded through a pointer computed from the parameter and an index
 *   (`mov eax,[rcx+r8*4]`, at -O0 `add rax,rdx; mov eax,[rax]`), then rewritten;
 * - idx_spill: such a loaded value, rewritten, kept in a volatile local before the global.
 * Each *_fix twin keeps its parameters in place and only rewrites the expressions.
 * Each function writes its own pair of globals.
 */
#define HP_NAME "entry-args-own-spill"
#include "../../samples/common/harness.h"

int g_s0, g_s1, g_i0, g_i1, g_x0, g_x1, g_y0, g_y1;
int g_sf0, g_sf1, g_if0, g_if1, g_xf0, g_xf1, g_yf0, g_yf1;

#if HP_VERSION == 1
HP_FN HP_EXPORT void spill_lea(int a, int b) { volatile int t0 = a * 8 + 5, t1 = b * 4 + 3; g_s0 = t0; g_s1 = t1; }
HP_FN HP_EXPORT void spill_imul(int a, int b) { volatile int t0 = a * 100, t1 = b * 1000; g_i0 = t0; g_i1 = t1; }
HP_FN HP_EXPORT void idx_load(const int *p, const int *q, int i) { g_x0 = p[i] * 3; g_x1 = q[i] + 5; }
HP_FN HP_EXPORT void idx_spill(const int *p, const int *q, int i) { volatile int t0 = p[i] * 3, t1 = q[i] + 5; g_y0 = t0; g_y1 = t1; }
HP_FN HP_EXPORT void spill_lea_fix(int a, int b) { volatile int t0 = a * 8 + 5, t1 = b * 4 + 3; g_sf0 = t0; g_sf1 = t1; }
HP_FN HP_EXPORT void spill_imul_fix(int a, int b) { volatile int t0 = a * 100, t1 = b * 1000; g_if0 = t0; g_if1 = t1; }
HP_FN HP_EXPORT void idx_load_fix(const int *p, const int *q, int i) { g_xf0 = p[i] * 3; g_xf1 = q[i] + 5; }
HP_FN HP_EXPORT void idx_spill_fix(const int *p, const int *q, int i) { volatile int t0 = p[i] * 3, t1 = q[i] + 5; g_yf0 = t0; g_yf1 = t1; }
#else
HP_FN HP_EXPORT void spill_lea(int a, int b) { volatile int t0 = b * 2 + 7, t1 = a * 9; g_s0 = t0; g_s1 = t1; }
HP_FN HP_EXPORT void spill_imul(int a, int b) { volatile int t0 = b * 300, t1 = a * 70; g_i0 = t0; g_i1 = t1; }
HP_FN HP_EXPORT void idx_load(const int *p, const int *q, int i) { g_x0 = q[i] * 7; g_x1 = p[i] - 2; }
HP_FN HP_EXPORT void idx_spill(const int *p, const int *q, int i) { volatile int t0 = q[i] * 7, t1 = p[i] - 2; g_y0 = t0; g_y1 = t1; }
HP_FN HP_EXPORT void spill_lea_fix(int a, int b) { volatile int t0 = a * 2 + 7, t1 = b * 9; g_sf0 = t0; g_sf1 = t1; }
HP_FN HP_EXPORT void spill_imul_fix(int a, int b) { volatile int t0 = a * 300, t1 = b * 70; g_if0 = t0; g_if1 = t1; }
HP_FN HP_EXPORT void idx_load_fix(const int *p, const int *q, int i) { g_xf0 = p[i] * 7; g_xf1 = q[i] - 2; }
HP_FN HP_EXPORT void idx_spill_fix(const int *p, const int *q, int i) { volatile int t0 = p[i] * 7, t1 = q[i] - 2; g_yf0 = t0; g_yf1 = t1; }
#endif

/* The globals in declaration order (k = 0..15), unchanged in both versions. */
HP_FN HP_EXPORT int get_global(int k) {
  switch (k) {
  case 0: return g_s0;
  case 1: return g_s1;
  case 2: return g_i0;
  case 3: return g_i1;
  case 4: return g_x0;
  case 5: return g_x1;
  case 6: return g_y0;
  case 7: return g_y1;
  case 8: return g_sf0;
  case 9: return g_sf1;
  case 10: return g_if0;
  case 11: return g_if1;
  case 12: return g_xf0;
  case 13: return g_xf1;
  case 14: return g_yf0;
  default: return g_yf1;
  }
}

static void *volatile hp_fns[] = { (void *)spill_lea, (void *)spill_imul, (void *)idx_load, (void *)idx_spill, (void *)spill_lea_fix, (void *)spill_imul_fix, (void *)idx_load_fix, (void *)idx_spill_fix, (void *)get_global };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
