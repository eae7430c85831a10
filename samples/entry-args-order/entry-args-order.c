/*
 * entry-args-order: exports whose new bodies read the same argument registers in the same
 * roles (or fewer), with another meaning no role shows. A module compiled against v1 calls
 * each of them the v1 way; after a patch its calls reach the new bodies. Must be refused with
 * ENTRY_ARGUMENTS_CHANGED (compiler/diff/pointer-fields.ts, argument-permutation.ts):
 * - `area_of(b, s)` becomes `area_of(s, b)` (two pointers reordered): both registers are still
 *   dereferenced, and every new access lies inside an old one on the same register (so no field
 *   looks added), but the box's fields (+0x0 and +0x4, 4 bytes each) once read through rcx are
 *   now read through rdx, and the scale's (+0x0, 8 bytes) once read through rdx through rcx;
 * - `mix3(a, b, c)` becomes `mix3(a, c)` (a middle integer removed): the new body reads rcx and
 *   rdx as integers as before and stops reading r8; the module's caller now passes in rdx what
 *   it passed in r8 (3, 5, 7 -> 3, 7).
 * Changed functions: area_of, area_all, mix3, mix_all.
 *
 * objdump -d: v1 area_of reads `(%rcx)`, `0x4(%rcx)` (4 bytes) and `(%rdx)` (8 bytes), v2 the
 * same through %rdx and %rcx; v1 mix_all `mov $0x3,%ecx; mov $0x5,%edx; mov $0x7,%r8d; call mix3`,
 * v2 `mov $0x3,%ecx; mov $0x7,%edx; call mix3`.
 */
#define HP_NAME "entry-args-order"
#include "../common/harness.h"

struct box { int w, h; };
struct scale { long long k; };

static const struct box g_box = { 3, 4 };
static const struct scale g_scale = { 5 };

#if HP_VERSION == 1
HP_FN HP_EXPORT long long area_of(const struct box *b, const struct scale *s) { return b->w * b->h * s->k; }
HP_FN int area_all(int n) { return (int)area_of(&g_box, &g_scale) + n; }
#else
HP_FN HP_EXPORT long long area_of(const struct scale *s, const struct box *b) { return b->w * b->h * s->k + 1; }
HP_FN int area_all(int n) { return (int)area_of(&g_scale, &g_box) + n; }
#endif

#if HP_VERSION == 1
HP_FN HP_EXPORT int mix3(int a, int b, int c) { return a * 100 + b * 10 + c; }
HP_FN int mix_all(int n) { return mix3(3, 5, 7) + n; }
#else
HP_FN HP_EXPORT int mix3(int a, int c) { return a * 100 + c * 11; }
HP_FN int mix_all(int n) { return mix3(3, 7) + n; }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "area_all(1) = ");
  out_int(o, area_all(1));
  out_nl(o);
  out_str(o, "mix_all(1) = ");
  out_int(o, mix_all(1));
  out_nl(o);
}
