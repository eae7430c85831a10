/*
 * caller-loop-order: caller-loop with a middle parameter removed instead of one added. v1
 * `step(a, b, c)` returns a*b + c and v1 `run` passes b = 3, c = 1 (3a + 1); v2 `step(a, c)`
 * returns 3a + 2c and v2 `run` passes c = 1 (3a + 2). The new step reads fewer registers (ecx,
 * edx; no r8d), so no entry read grows, and neither is exported nor has its address taken,
 * so no caller outside the module exists. But a thread inside OLD run when the patch lands
 * keeps passing b = 3 in edx, which NEW step reads as c: its call in flight returns 3a + 6,
 * neither v1's sum nor v2's (test/quiesce-live.test.ts, with the quiescent range dropped).
 * The matched call sites show the shift (old run passed 3, 1 in edx, r8d; new run 1 in edx:
 * compiler/diff/argument-permutation.ts shiftedArguments), so the package lists old run's body
 * as a quiescent range (compiler/diff/quiescent-callers.ts). HP_PARK as in caller-loop.
 * Changed functions: step, run.
 *
 * objdump -d (GCC): v1 run `mov $0x1,%r8d; mov $0x3,%edx` before each `call step`, v2 `mov
 * $0x1,%edx`; v1 step `imul %edx,%ecx; lea (%rcx,%r8,1),%eax`, v2 reads ecx and edx only.
 */
#define HP_NAME "caller-loop-order"
#include <windows.h>
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN int step(int a, int b, int c) { return a * b + c; }
#else
HP_FN int step(int a, int c) { return a * 3 + c * 2; }
#endif

/* About 8 ms for the vectors' n; n < 0 loops for ever (the parked thread). */
HP_FN int run(int n) {
  int s = 0;
  for (unsigned i = 0; n < 0 || i < (unsigned)n; i++) {
#if HP_VERSION == 1
    s += step((int)(i & 0xff), 3, 1);
#else
    s += step((int)(i & 0xff), 1);
#endif
  }
  return s;
}

/* Outside run: about as long as run itself, so a worker calling hp_run in a loop is outside run
 * about half the time (a live patch waiting for it retries a few times, not dozens). */
HP_FN int rest(int n) {
  volatile int x = 0;
  for (int i = 0; i < n; i++) x += i;
  return x;
}

static DWORD WINAPI park(LPVOID arg) {
  (void)arg;
  return (DWORD)run(-1);
}

static volatile long parked, vectors_calls;

/* HP_PARK=N (1-9) parks the thread at the N-th call: 1 in OLD run before any patch, 2 in
 * whatever run is live at the second call (NEW run, in the patch region, after a live patch). */
static void hp_vectors(hp_out *o) {
  char v[4];
  long call = __atomic_add_fetch(&vectors_calls, 1, __ATOMIC_ACQ_REL);
  if (GetEnvironmentVariableA("HP_PARK", v, sizeof v) == 1 && v[0] >= '1' && v[0] <= '9' && call == v[0] - '0' && __atomic_exchange_n(&parked, 1, __ATOMIC_ACQ_REL) == 0)
    CreateThread(NULL, 0, park, NULL, 0, NULL);
  out_str(o, "run(2000000) = ");
  out_int(o, run(2000000));
  out_nl(o);
  out_str(o, "rest = ");
  out_int(o, rest(3000000) != 0);
  out_nl(o);
}
