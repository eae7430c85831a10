/*
 * entry-args-rewrite (a probe, test/entry-args-rewrite-live.test.ts): two parameters of one
 * type swapped (callers unchanged) while the expression each feeds is rewritten, so no use of
 * either keeps its old form but the destination: each value now lands in the other global.
 * The module calls the exports only through pointers, and the importer reads the globals back
 * through the unchanged export get_global. The rewritten values reach their stores through
 * instructions that write another register than the one holding the value (or only modify it):
 * - rw_lea: `*a * 5`, `*b * 9` -> `*b * 3`, `*a * 17` (lea base+index*k into another register;
 *   shl/add or imul r,r,imm);
 * - rw_bits: `a ^ 0x55`, `b | 0x100` -> `b & 0xff0`, `a ^ 0x33` (xor/or/and with an immediate);
 * - rw_imul: shorts, `*a * 100`, `*b * 1000` -> `*b * 300`, `*a * 70` (movsx, imul r,r,imm);
 * - rw_sum: `*a + 4 * *b`, `*b - 1` -> `*b + 2 * *a`, `*a - 3`... as a swap: g_s0 from a's
 *   role to b's (lea base+index into another register).
 * Each *_fix twin keeps its parameters in place and only rewrites the expressions.
 * Each function writes its own pair of globals.
 */
#define HP_NAME "entry-args-rewrite"
#include "../../samples/common/harness.h"

int g_l0, g_l1, g_b0, g_b1, g_i0, g_i1, g_s0, g_s1;
int g_lf0, g_lf1, g_bf0, g_bf1, g_if0, g_if1, g_sf0, g_sf1;

#if HP_VERSION == 1
HP_FN HP_EXPORT void rw_lea(const int *a, const int *b) { g_l0 = *a * 5; g_l1 = *b * 9; }
HP_FN HP_EXPORT void rw_bits(int a, int b) { g_b0 = a ^ 0x55; g_b1 = b | 0x100; }
HP_FN HP_EXPORT void rw_imul(const short *a, const short *b) { g_i0 = *a * 100; g_i1 = *b * 1000; }
HP_FN HP_EXPORT void rw_sum(const int *a, const int *b) { g_s0 = *a + 4 * *b; g_s1 = *b - 1; }
HP_FN HP_EXPORT void rw_lea_fix(const int *a, const int *b) { g_lf0 = *a * 5; g_lf1 = *b * 9; }
HP_FN HP_EXPORT void rw_bits_fix(int a, int b) { g_bf0 = a ^ 0x55; g_bf1 = b | 0x100; }
HP_FN HP_EXPORT void rw_imul_fix(const short *a, const short *b) { g_if0 = *a * 100; g_if1 = *b * 1000; }
HP_FN HP_EXPORT void rw_sum_fix(const int *a, const int *b) { g_sf0 = *a + 4 * *b; g_sf1 = *b - 1; }
#else
HP_FN HP_EXPORT void rw_lea(const int *a, const int *b) { g_l0 = *b * 3; g_l1 = *a * 17; }
HP_FN HP_EXPORT void rw_bits(int a, int b) { g_b0 = b & 0xff0; g_b1 = a ^ 0x33; }
HP_FN HP_EXPORT void rw_imul(const short *a, const short *b) { g_i0 = *b * 300; g_i1 = *a * 70; }
HP_FN HP_EXPORT void rw_sum(const int *a, const int *b) { g_s0 = *b + 2 * *a; g_s1 = *a - 3; }
HP_FN HP_EXPORT void rw_lea_fix(const int *a, const int *b) { g_lf0 = *a * 3; g_lf1 = *b * 17; }
HP_FN HP_EXPORT void rw_bits_fix(int a, int b) { g_bf0 = a & 0xff0; g_bf1 = b ^ 0x33; }
HP_FN HP_EXPORT void rw_imul_fix(const short *a, const short *b) { g_if0 = *a * 300; g_if1 = *b * 70; }
HP_FN HP_EXPORT void rw_sum_fix(const int *a, const int *b) { g_sf0 = *a + 2 * *b; g_sf1 = *b - 3; }
#endif

/* The globals in declaration order (k = 0..15), unchanged in both versions. */
HP_FN HP_EXPORT int get_global(int k) {
  switch (k) {
  case 0: return g_l0;
  case 1: return g_l1;
  case 2: return g_b0;
  case 3: return g_b1;
  case 4: return g_i0;
  case 5: return g_i1;
  case 6: return g_s0;
  case 7: return g_s1;
  case 8: return g_lf0;
  case 9: return g_lf1;
  case 10: return g_bf0;
  case 11: return g_bf1;
  case 12: return g_if0;
  case 13: return g_if1;
  case 14: return g_sf0;
  default: return g_sf1;
  }
}

static void *volatile hp_fns[] = { (void *)rw_lea, (void *)rw_bits, (void *)rw_imul, (void *)rw_sum, (void *)rw_lea_fix, (void *)rw_bits_fix, (void *)rw_imul_fix, (void *)rw_sum_fix, (void *)get_global };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
