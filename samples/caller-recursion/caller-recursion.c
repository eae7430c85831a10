/*
 * caller-recursion: a recursive function gains a parameter, and the one caller that enters it
 * does so by a tail jump. v1 `walk(n)` = walk(n - 1) + 3n + 1; v2 `walk(n, k)` = walk(n - 1, k)
 * + nk + 1, and v2 `run` passes k = 4. Neither is exported nor has its address taken, so every
 * caller the diff sees changes with walk (compiler/diff/entry-arguments.ts lets it through,
 * rightly for new calls), and run's body is a quiescent range (format 2.4). But `run` jumps to
 * walk (`jmp`, no frame of its own), so a thread inside OLD walk has no return address in
 * run: only walk's own body holds it, and its next recursive `call walk` goes through the
 * redirect into NEW walk, which reads k from edx, a register old walk never set for it. The
 * package must list old walk's body too (compiler/diff/quiescent-callers.ts: a redirected
 * function that calls its own entry is its own caller).
 * HP_PARK=1 in the environment parks a thread in walk(-1), which calls walk(2) in a loop and
 * keeps the last answer; hp_run then also prints it (`parked walk(2) = 11` in v1).
 * test/quiesce-recursion-live.test.ts: with only run's range (the rule before), `hotpatch
 * live` lands while the parked thread is inside old walk, and its next walk(2) answers neither
 * v1's 11 nor v2's 14; now it refuses with LIVE_THREAD_IN_OLD_CALLER naming walk.
 * Changed functions: walk, run.
 *
 * objdump -d (GCC): run is `jmp walk` in both builds' shape (v2 sets `mov $0x4,%edx` first);
 * v2 walk `imul %edx` and passes edx on to its recursive call.
 */
#define HP_NAME "caller-recursion"
#include <windows.h>
#include "../common/harness.h"

static volatile int parked_answer;
/* Busy work in walk's park loop: it makes walk longer than a short jump reaches, so run's tail
 * jump back to it is a rel32 in both compilers (GCC puts walk first; a short jump leaving run is
 * refused SHORT_BRANCH_LEAVES). */
static volatile int spin_a, spin_b, spin_c, spin_d;
#define SPIN() (spin_a += spin_b, spin_b ^= spin_c, spin_c += spin_d, spin_d ^= spin_a)

#if HP_VERSION == 1
HP_FN int walk(int n);
HP_FN int run(int n) { return walk(n); }
#else
HP_FN int walk(int n, int k);
HP_FN int run(int n) { return walk(n, 4); }
#endif

static DWORD WINAPI park(LPVOID arg) {
  (void)arg;
  return (DWORD)run(-1);
}

static volatile long parked;

static void hp_vectors(hp_out *o) {
  char v[4];
  if (GetEnvironmentVariableA("HP_PARK", v, sizeof v) == 1 && v[0] == '1' && __atomic_exchange_n(&parked, 1, __ATOMIC_ACQ_REL) == 0) {
    CreateThread(NULL, 0, park, NULL, 0, NULL);
    while (parked_answer == 0) Sleep(1);
  }
  out_str(o, "run(20) = ");
  out_int(o, run(20));
  out_nl(o);
  if (parked) {
    out_str(o, "parked walk(2) = ");
    out_int(o, parked_answer);
    out_nl(o);
  }
}

#if HP_VERSION == 1
HP_FN int walk(int n) {
  if (n < 0) for (;;) { parked_answer = walk(2); SPIN(); SPIN(); SPIN(); Sleep(2); }
  if (n == 0) return 0;
  return walk(n - 1) + n * 3 + 1;
}
#else
HP_FN int walk(int n, int k) {
  if (n < 0) for (;;) { parked_answer = walk(2, k); SPIN(); SPIN(); SPIN(); Sleep(2); }
  if (n == 0) return 0;
  return walk(n - 1, k) + n * k + 1;
}
#endif
