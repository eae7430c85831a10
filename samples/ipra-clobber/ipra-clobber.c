/*
 * ipra-clobber: GCC interprocedural register allocation (-fipa-ra, on at -O2). mix is a
 * static helper compiled before its caller, so GCC knows exactly which registers it writes
 * (v1: eax only) and lets the exported caller `total` keep values in other volatile registers across
 * `call mix`: the loop counter in edx, the running sum in r8d, t in r9d, n in r10d. v2
 * computes mix differently (same values for a >= 0; negatives by magnitude: the fix) and now
 * writes edx and r8d. NEW total is recompiled around that (it keeps its values in ebx and
 * r9-r11), but a thread inside OLD total at patch time keeps running old total, and its next
 * `call mix` reaches the NEW mix through the redirect, which overwrites the loop counter and
 * the sum: the counter drops back below 769 on every call, so the loop never ends
 * (test/live-ipra.test.ts shows it live). Must be refused with CALLER_REGISTERS_CLOBBERED.
 * clang-22 has no IPA-RA by default: its total keeps its values in callee-saved registers,
 * so its build is hotpatchable (scenarios.json `safeWith`).
 * Changed functions: mix, total (GCC; clang: mix).
 *
 * objdump -d (GCC): v1 total's loop `movzbl %dl,%ecx; call mix; add %eax,%r8d; add %edx,%eax;
 * add $0x1,%edx; ...`; v2 mix writes %edx and %r8d.
 */
#define HP_NAME "ipra-clobber"
#include "../common/harness.h"

/* No HP_FN on the pair: IPA-RA is the subject. noinline keeps mix a body of its own. */
__attribute__((noinline)) static int mix(int a) {
#if HP_VERSION == 1
  return a * 3 + 1;
#else
  /* A bit-serial multiply: 1 + 3 * |a|. */
  unsigned u = a < 0 ? 0u - (unsigned)a : (unsigned)a;
  unsigned x = 1, y = 3, z = u;
  while (z) {
    if (z & 1) x += y;
    y += y;
    z >>= 1;
  }
  return (int)x;
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
