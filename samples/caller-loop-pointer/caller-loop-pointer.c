/*
 * caller-loop-pointer: caller-loop with the callee reached through a pointer. v1 `step_a(a)` and
 * `step_b(a)` (3a + 1, 3a + 2) sit in a const table `ops` that `run`'s loop calls through; v2
 * gives both a parameter k (a*k + 1, a*k + 2) and run passes k = 4. A thread inside OLD run at
 * patch time would call the new bodies through the old table without setting edx; quiescent
 * ranges cannot name a callee an indirect call reaches. But the table holds their addresses,
 * so entry-arguments.ts takes them as roots (a pointer in .rdata): refused
 * ENTRY_ARGUMENTS_CHANGED (a pin: it was already refused before quiescent ranges knew of
 * meanings).
 * Changed functions: step_a, step_b, run.
 *
 * objdump -d: v1 step_a `lea 0x1(%rcx,%rcx,2),%eax`; v2 step_a `imul %edx,%ecx`; run `call
 * *(%rsi,%rax,8)` (or a register loaded from the table) with v2 setting `mov $0x4,%edx` first.
 */
#define HP_NAME "caller-loop-pointer"
#include "../common/harness.h"

#if HP_VERSION == 1
typedef int (*step_fn)(int);
HP_FN int step_a(int a) { return a * 3 + 1; }
HP_FN int step_b(int a) { return a * 3 + 2; }
#else
typedef int (*step_fn)(int, int);
HP_FN int step_a(int a, int k) { return a * k + 1; }
HP_FN int step_b(int a, int k) { return a * k + 2; }
#endif

static step_fn const ops[2] = { step_a, step_b };

HP_FN int run(int n) {
  int s = 0;
  for (unsigned i = 0; i < (unsigned)n; i++) {
#if HP_VERSION == 1
    s += ops[i & 1]((int)(i & 0xff));
#else
    s += ops[i & 1]((int)(i & 0xff), 4);
#endif
  }
  return s;
}

static void hp_vectors(hp_out *o) {
  out_str(o, "run(1000) = ");
  out_int(o, run(1000));
  out_nl(o);
}
