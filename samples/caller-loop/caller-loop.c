/*
 * caller-loop: a callee gains a parameter and its one caller, which loops over it, passes it.
 * v1 `step(a)` returns 3a + 1; v2 `step(a, k)` returns a*k + 1 and v2 `run` passes k = 4.
 * Neither is exported nor has its address taken, so every caller the diff sees changes with
 * the callee (compiler/diff/entry-arguments.ts lets it through, rightly for new calls). But a
 * thread inside OLD run when the patch lands keeps running old run's loop, and its next
 * `call step` goes through the redirect into NEW step, which reads k from edx, a register old
 * run never set for it: the call in flight returns neither v1's sum nor v2's.
 * test/quiesce-live.test.ts shows it live: with the quiescent range dropped from the package,
 * the worker thread's call in flight prints a third output. The package therefore lists old
 * run's body as a quiescent range (format 2.4): the runtime patches only while no thread's
 * RIP or return address lies in it, retrying, and refuses with LIVE_THREAD_IN_OLD_CALLER
 * when a thread never leaves (HP_PARK=1 in the environment parks one in run(-1) for ever;
 * HP_PARK=2 parks it at the second call, in NEW run once a patch is live: a revert must not wait
 * for it, test/quiesce-live.test.ts).
 * Changed functions: step, run. Negative twin: caller-loop-same (same arguments).
 *
 * objdump -d (GCC): v1 step `lea 0x1(%rcx,%rcx,2),%eax` (reads ecx only); v2 step
 * `imul %edx,%ecx` (reads ecx and edx); v2 run sets `mov $0x4,%edx` before each call.
 */
#define HP_NAME "caller-loop"
#include <windows.h>
#include "../common/harness.h"

#if HP_VERSION == 1
HP_FN int step(int a) { return a * 3 + 1; }
#else
HP_FN int step(int a, int k) { return a * k + 1; }
#endif

/* About 8 ms for the vectors' n; n < 0 loops for ever (the parked thread). */
HP_FN int run(int n) {
  int s = 0;
  for (unsigned i = 0; n < 0 || i < (unsigned)n; i++) {
#if HP_VERSION == 1
    s += step((int)(i & 0xff));
#else
    s += step((int)(i & 0xff), 4);
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
