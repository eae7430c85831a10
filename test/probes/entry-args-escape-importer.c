/*
 * A module compiled against entry-args-escape v1, as an importer outside the patched DLL would
 * be: it calls esc_sub, esc_keep and esc_sub_fix with a = 5, b = 3 and prints the answers (v1's:
 * b - a = -2 each). v2's esc_sub and esc_keep reached the old way give a - b = 2; esc_sub_fix
 * gives v2's -1. test/entry-args-computed-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-escape-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef int (*ii_fn)(int, int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[3] = { "esc_sub", "esc_keep", "esc_sub_fix" };
  for (int k = 0; k < 3; k++) {
    ii_fn f = (ii_fn)(void *)GetProcAddress(m, names[k]);
    if (!f) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " = "); out_int(o, f(5, 3)); out_nl(o);
  }
}
