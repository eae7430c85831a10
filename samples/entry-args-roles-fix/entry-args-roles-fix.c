/*
 * entry-args-roles-fix: negative twin of entry-args-roles. Every export keeps the role of
 * each argument register, so old callers outside the module still call the new bodies
 * correctly; all of it is hotpatchable:
 * - `pick(p, i)`: the pointer is still dereferenced (at another offset), the index still an index;
 * - `bump(tag, n)`: n in another arithmetic, tag still dereferenced;
 * - `make_trio(x)`: still a 12-byte result through the hidden pointer in rcx, other values;
 * - `deep_impl(x)`: a logic fix two calls under the unchanged export `deep_api`, same argument;
 * - `clip(x, hi)` becomes `clip(x)`: its last parameter removed (old callers still pass x in
 *   ecx; the new body stops reading edx), and its caller changes with it.
 * Changed functions: pick, bump, make_trio, deep_impl, clip, clip_all.
 *
 * objdump -d: v2 pick reads 4(%rcx,%rdx,4); v2 bump `imul %edx`; deep_api and deep_mid the
 * same bytes in both builds.
 */
#define HP_NAME "entry-args-roles-fix"
#include "../common/harness.h"

static const int table[5] = { 10, 20, 30, 40, 50 };

#if HP_VERSION == 1
HP_FN HP_EXPORT int pick(const int *p, int i) { return p[i & 3] + 1; }
#else
HP_FN HP_EXPORT int pick(const int *p, int i) { return p[(i & 3) + 1] + 1; }
#endif
HP_FN int pick_sum(int i) { return pick(table, i) + pick(table, i + 1); }

#if HP_VERSION == 1
HP_FN HP_EXPORT int bump(const char *tag, int n) { return tag[0] + n; }
#else
HP_FN HP_EXPORT int bump(const char *tag, int n) { return tag[0] * n; }
#endif
HP_FN int bump_all(int n) { return bump("a", n) + bump("b", n); }

struct trio { int lo, hi, mid; };
#if HP_VERSION == 1
HP_FN HP_EXPORT struct trio make_trio(int x) { struct trio t = { x - 1, x + 1, x }; return t; }
#else
HP_FN HP_EXPORT struct trio make_trio(int x) { struct trio t = { x - 3, x + 3, x * 2 }; return t; }
#endif
HP_FN int trio_width(int x) { struct trio t = make_trio(x); return t.hi - t.lo + t.mid; }

#if HP_VERSION == 1
HP_FN int deep_impl(int x) { return x * 5; }
#else
HP_FN int deep_impl(int x) { return x * 6; }
#endif
HP_FN int deep_mid(int x) { return deep_impl(x) + 1; }
HP_FN HP_EXPORT int deep_api(int x) { return deep_mid(x) * 2; }
HP_FN int use_deep(int x) { return deep_api(x) - 1; }

#if HP_VERSION == 1
HP_FN HP_EXPORT int clip(int x, int hi) { return x > hi ? hi : x; }
HP_FN int clip_all(int x) { return clip(x, 100) + clip(x * 3, 100); }
#else
HP_FN HP_EXPORT int clip(int x) { return x > 90 ? 90 : x; }
HP_FN int clip_all(int x) { return clip(x) + clip(x * 3); }
#endif

static void hp_vectors(hp_out *o) {
  out_str(o, "pick_sum(1) = ");
  out_int(o, pick_sum(1));
  out_nl(o);
  out_str(o, "bump_all(5) = ");
  out_int(o, bump_all(5));
  out_nl(o);
  out_str(o, "trio_width(10) = ");
  out_int(o, trio_width(10));
  out_nl(o);
  out_str(o, "use_deep(3) = ");
  out_int(o, use_deep(3));
  out_nl(o);
  out_str(o, "clip_all(40) = ");
  out_int(o, clip_all(40));
  out_nl(o);
}
