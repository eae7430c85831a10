/*
 * entry-args-order-fix: negative twin of entry-args-order. The export `area_of(b, s)` keeps its
 * parameter order and gets a fix (one added to the result: the box's fields still read through
 * rcx, the scale's through rdx); `mix3(a, b, c)` keeps its three parameters with another
 * arithmetic, and its caller passes another constant in the same register (8 for 7).
 * Hotpatchable: old callers outside the module still call both correctly.
 * Changed functions: area_of, area_all, mix3, mix_all.
 */
#define HP_NAME "entry-args-order-fix"
#include "../common/harness.h"

struct box { int w, h; };
struct scale { long long k; };

static const struct box g_box = { 3, 4 };
static const struct scale g_scale = { 5 };

#if HP_VERSION == 1
HP_FN HP_EXPORT long long area_of(const struct box *b, const struct scale *s) { return b->w * b->h * s->k; }
HP_FN int area_all(int n) { return (int)area_of(&g_box, &g_scale) + n; }
#else
HP_FN HP_EXPORT long long area_of(const struct box *b, const struct scale *s) { return b->w * b->h * s->k + 1; }
HP_FN int area_all(int n) { return (int)area_of(&g_box, &g_scale) + n + 1; }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT int mix3(int a, int b, int c) { return a * 100 + b * 10 + c; }
HP_FN int mix_all(int n) { return mix3(3, 5, 7) + n; }
#else
HP_FN HP_EXPORT int mix3(int a, int b, int c) { return a * 100 + b * 10 + c * 2; }
HP_FN int mix_all(int n) { return mix3(3, 5, 8) + n; }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "area_all(1) = ");
  out_int(o, area_all(1));
  out_nl(o);
  out_str(o, "mix_all(1) = ");
  out_int(o, mix_all(1));
  out_nl(o);
}
