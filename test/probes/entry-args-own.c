/*
 * entry-args-own (a probe, test/entry-args-own-live.test.ts): two parameters of one type
 * swapped (callers unchanged) while the expression each feeds is rewritten, so no use of either
 * keeps its old form but the global it ends in, and what reaches the global is computed from
 * the parameter's own value (not a value loaded through it) by an instruction that writes
 * another register than the one holding it, or modifies it with an operation not followed
 * before:
 * - own_lea: `a * 8 + 5`, `b * 4 + 3` -> `b * 2 + 7`, `a * 9` (lea index*scale+disp, lea base+index*8);
 * - own_imul: `a * 100`, `b * 1000` -> `b * 300`, `a * 70` (imul r,r,imm);
 * - own_wide: long long globals, `a + 1000`, `b * 3` -> `b * 5`, `a - 7` (an int widened: movsxd, cdqe);
 * - own_not: `~a`, `-b` -> `~(b * 4)`, `-(a * 2)` (not, neg);
 * - own_shift: `a << s`, `b >> s` -> `b >> (s + 1)`, `a << (s + 2)` (shlx, sarx with bmi2);
 * - own_rot: unsigned, rotate right by 5, 11 -> `b` by 7, `a` by 3 (rorx with bmi2).
 * Each *_fix twin keeps its parameters in place and only rewrites the expressions.
 * Each function writes its own pair of globals.
 */
#define HP_NAME "entry-args-own"
#include "../../samples/common/harness.h"

#define BMI2 __attribute__((target("bmi2")))
#define ROTR(x, k) (((x) >> (k)) | ((x) << (32 - (k))))

int g_l0, g_l1, g_m0, g_m1, g_n0, g_n1, g_h0, g_h1;
long long g_w0, g_w1;
unsigned g_r0, g_r1;
int g_lf0, g_lf1, g_mf0, g_mf1, g_nf0, g_nf1, g_hf0, g_hf1;
long long g_wf0, g_wf1;
unsigned g_rf0, g_rf1;

#if HP_VERSION == 1
HP_FN HP_EXPORT void own_lea(int a, int b) { g_l0 = a * 8 + 5; g_l1 = b * 4 + 3; }
HP_FN HP_EXPORT void own_imul(int a, int b) { g_m0 = a * 100; g_m1 = b * 1000; }
HP_FN HP_EXPORT void own_wide(int a, int b) { g_w0 = (long long)a + 1000; g_w1 = (long long)b * 3; }
HP_FN HP_EXPORT void own_not(int a, int b) { g_n0 = ~a; g_n1 = -b; }
HP_FN HP_EXPORT BMI2 void own_shift(int a, int b, int s) { g_h0 = a << s; g_h1 = b >> s; }
HP_FN HP_EXPORT BMI2 void own_rot(unsigned a, unsigned b) { g_r0 = ROTR(a, 5); g_r1 = ROTR(b, 11); }
HP_FN HP_EXPORT void own_lea_fix(int a, int b) { g_lf0 = a * 8 + 5; g_lf1 = b * 4 + 3; }
HP_FN HP_EXPORT void own_imul_fix(int a, int b) { g_mf0 = a * 100; g_mf1 = b * 1000; }
HP_FN HP_EXPORT void own_wide_fix(int a, int b) { g_wf0 = (long long)a + 1000; g_wf1 = (long long)b * 3; }
HP_FN HP_EXPORT void own_not_fix(int a, int b) { g_nf0 = ~a; g_nf1 = -b; }
HP_FN HP_EXPORT BMI2 void own_shift_fix(int a, int b, int s) { g_hf0 = a << s; g_hf1 = b >> s; }
HP_FN HP_EXPORT BMI2 void own_rot_fix(unsigned a, unsigned b) { g_rf0 = ROTR(a, 5); g_rf1 = ROTR(b, 11); }
#else
HP_FN HP_EXPORT void own_lea(int a, int b) { g_l0 = b * 2 + 7; g_l1 = a * 9; }
HP_FN HP_EXPORT void own_imul(int a, int b) { g_m0 = b * 300; g_m1 = a * 70; }
HP_FN HP_EXPORT void own_wide(int a, int b) { g_w0 = (long long)b * 5; g_w1 = (long long)a - 7; }
HP_FN HP_EXPORT void own_not(int a, int b) { g_n0 = ~(b * 4); g_n1 = -(a * 2); }
HP_FN HP_EXPORT BMI2 void own_shift(int a, int b, int s) { g_h0 = b >> (s + 1); g_h1 = a << (s + 2); }
HP_FN HP_EXPORT BMI2 void own_rot(unsigned a, unsigned b) { g_r0 = ROTR(b, 7); g_r1 = ROTR(a, 3); }
HP_FN HP_EXPORT void own_lea_fix(int a, int b) { g_lf0 = a * 2 + 7; g_lf1 = b * 9; }
HP_FN HP_EXPORT void own_imul_fix(int a, int b) { g_mf0 = a * 300; g_mf1 = b * 70; }
HP_FN HP_EXPORT void own_wide_fix(int a, int b) { g_wf0 = (long long)a * 5; g_wf1 = (long long)b - 7; }
HP_FN HP_EXPORT void own_not_fix(int a, int b) { g_nf0 = ~(a * 4); g_nf1 = -(b * 2); }
HP_FN HP_EXPORT BMI2 void own_shift_fix(int a, int b, int s) { g_hf0 = a >> (s + 1); g_hf1 = b << (s + 2); }
HP_FN HP_EXPORT BMI2 void own_rot_fix(unsigned a, unsigned b) { g_rf0 = ROTR(a, 7); g_rf1 = ROTR(b, 3); }
#endif

/* The globals in declaration order (k = 0..23), unchanged in both versions. */
HP_FN HP_EXPORT long long get_global(int k) {
  switch (k) {
  case 0: return g_l0;
  case 1: return g_l1;
  case 2: return g_m0;
  case 3: return g_m1;
  case 4: return g_w0;
  case 5: return g_w1;
  case 6: return g_n0;
  case 7: return g_n1;
  case 8: return g_h0;
  case 9: return g_h1;
  case 10: return g_r0;
  case 11: return g_r1;
  case 12: return g_lf0;
  case 13: return g_lf1;
  case 14: return g_mf0;
  case 15: return g_mf1;
  case 16: return g_wf0;
  case 17: return g_wf1;
  case 18: return g_nf0;
  case 19: return g_nf1;
  case 20: return g_hf0;
  case 21: return g_hf1;
  case 22: return g_rf0;
  default: return g_rf1;
  }
}

static void *volatile hp_fns[] = { (void *)own_lea, (void *)own_imul, (void *)own_wide, (void *)own_not, (void *)own_shift, (void *)own_rot, (void *)own_lea_fix, (void *)own_imul_fix, (void *)own_wide_fix, (void *)own_not_fix, (void *)own_shift_fix, (void *)own_rot_fix, (void *)get_global };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
