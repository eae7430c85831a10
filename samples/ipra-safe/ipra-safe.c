/*
 * ipra-safe: the negative twin of ipra-clobber. The same v1 (GCC's total keeps its loop
 * counter in edx, the sum in r8d, t in r9d and n in r10d across `call mix`, since v1 mix
 * writes eax only); v2 fixes mix for negative inputs with code that writes eax and ecx only,
 * registers old total does not keep across the call. total is unchanged (same code), so a
 * thread inside old total at patch time runs on into the new mix and gets the same values
 * (a >= 0). Must stay hotpatchable, live with the worker thread inside the loop.
 * Changed function: mix.
 *
 * objdump -d (GCC): v2 mix is `test %ecx,%ecx; js ...; lea 0x1(%rcx,%rcx,2),%eax; ret`, the
 * negative branch writes %eax and %ecx.
 */
#define HP_NAME "ipra-safe"
#include "../common/harness.h"

/* No HP_FN on the pair: IPA-RA is the subject. noinline keeps mix a body of its own. */
__attribute__((noinline)) static int mix(int a) {
#if HP_VERSION == 1
  return a * 3 + 1;
#else
  return a < 0 ? 1 - a * 3 : a * 3 + 1;
#endif
}

/* A long loop (about 10 ms): the host's worker thread spends most of its time inside it. */
#ifdef __clang__
__attribute__((noinline))
#else
__attribute__((noinline, noclone))
#endif
HP_EXPORT int total(int n) {
  int s = 0, t = 1;
  for (int i = 0; i < n; i++) {
    int m = mix(i & 0xff);
    s += m;
    t ^= m + i;
  }
  return s + t;
}

HP_FN int mix_at(int a) { return mix(a); }

static void hp_vectors(hp_out *o) {
  out_str(o, "total(3000000) = ");
  out_int(o, total(3000000));
  out_nl(o);
  out_str(o, "mix_at(-7) = ");
  out_int(o, mix_at(-7));
  out_nl(o);
}
