/*
 * global-reuse: the fix reads a writable global that no v1 code references. g_bias and
 * g_scale are defined identically in both versions (.data byte-identical, same RVA); v1's
 * apply_bias ignores g_bias, v2's adds it. In the stripped build nothing in v1 points at
 * g_bias, so matching finds no old item to pair it with; its counterpart comes from the
 * layout (same section, same size, matched neighbours at the same offsets).
 * Changed function: apply_bias.
 *
 * objdump -d: v2's apply_bias reads g_bias RIP-relative; v1's reads nothing from .data.
 * objdump -s -j .data: identical in v1 and v2.
 */
#define HP_NAME "global-reuse"
#include "../common/harness.h"

int g_scale = 3;
int g_bias = 7;
int g_limit = 1000;

HP_FN int scale_of(int x) {
  return x * g_scale;
}

HP_FN int apply_bias(int x) {
#if HP_VERSION == 1
  return x + 1;
#else
  return x + g_bias;
#endif
}

HP_FN int clamp_limit(int x) {
  return x > g_limit ? g_limit : x;
}

static void hp_vectors(hp_out *o) {
  for (int x = 0; x <= 20; x += 10) {
    out_str(o, "apply_bias(");
    out_int(o, x);
    out_str(o, ") = ");
    out_int(o, clamp_limit(apply_bias(scale_of(x))));
    out_nl(o);
  }
}
