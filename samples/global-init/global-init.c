/*
 * global-init: only the initial value of a writable global changes (g_retry_limit 3 -> 5).
 * No code changes at all, but a hotpatch cannot carry it: the running process's copy of
 * the variable was initialised at load time and may have been written since, so patching
 * .data would clobber live state and leaving it would keep the old behaviour. The compiler
 * must refuse it ("writable global initial value changed").
 * Changed data: g_retry_limit (in .data); no function changes.
 *
 * objdump -s -j .data: the 4 bytes of g_retry_limit differ; objdump -d is identical.
 */
#define HP_NAME "global-init"
#include "../common/harness.h"

#if HP_VERSION == 1
int g_retry_limit = 3;
#else
int g_retry_limit = 5;
#endif

HP_FN int retries_left(int attempts) {
  int left = g_retry_limit - attempts;
  return left < 0 ? 0 : left;
}

static void hp_vectors(hp_out *o) {
  for (int a = 0; a <= 6; a += 2) {
    out_str(o, "retries_left(");
    out_int(o, a);
    out_str(o, ") = ");
    out_int(o, retries_left(a));
    out_nl(o);
  }
}
