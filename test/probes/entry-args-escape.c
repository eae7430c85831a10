/*
 * entry-args-escape (a probe, test/entry-args-computed-live.test.ts): two int parameters whose
 * frame slots' addresses are handed to a call that exchanges what they hold (`xchg(&a, &b)`),
 * so what the body reloads from a's slot after it is b. Every build keeps a and b in frame
 * slots for the call (`mov [rsp+0x2c],ecx; lea rcx,[rsp+0x2c]; ...; call xchg; mov eax,[rsp+0x2c]`).
 * - esc_sub: `xchg(&a, &b); return a - b;` (b - a) -> v2 with its parameters exchanged and the
 *   call folded away: `esc_sub(b, a) { return b - a; }` (for old callers, the other order).
 * - esc_keep: the same body, v2 with its parameters exchanged: `esc_keep(b, a) { ... }`.
 * - esc_sub_fix: the same body, v2 `return a - b + 1` after the call (a constant, in place).
 */
#define HP_NAME "entry-args-escape"
#include "../../samples/common/harness.h"

HP_FN HP_EXPORT void xchg(int *p, int *q) { int t = *p; *p = *q; *q = t; }

#if HP_VERSION == 1
HP_FN HP_EXPORT int esc_sub(int a, int b) { xchg(&a, &b); return a - b; }
HP_FN HP_EXPORT int esc_keep(int a, int b) { xchg(&a, &b); return a - b; }
HP_FN HP_EXPORT int esc_sub_fix(int a, int b) { xchg(&a, &b); return a - b; }
#else
HP_FN HP_EXPORT int esc_sub(int b, int a) { return b - a; }
HP_FN HP_EXPORT int esc_keep(int b, int a) { xchg(&a, &b); return a - b; }
HP_FN HP_EXPORT int esc_sub_fix(int a, int b) { xchg(&a, &b); return a - b + 1; }
#endif

static void *volatile hp_fns[] = { (void *)xchg, (void *)esc_sub, (void *)esc_keep, (void *)esc_sub_fix };

static void hp_vectors(hp_out *o) {
  out_str(o, "fns = "); out_int(o, (long long)(sizeof hp_fns / sizeof hp_fns[0])); out_nl(o);
}
