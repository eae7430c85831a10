/*
 * A module compiled against entry-args-own-spill v1, as an importer outside the patched DLL
 * would be: it calls spill_lea and spill_imul (and their twins) with 2 and 7, idx_load and
 * idx_spill (and their twins) with the arrays {1, 2, 3} and {10, 20, 30} and the index 1, and prints the two globals
 * each writes (read back through the export get_global); v2's swapped functions reached the
 * old way compute each global from the other argument.
 * test/entry-args-own-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-own-spill-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef void (*ints)(int, int);
typedef void (*arrays)(const int *, const int *, int);
typedef int (*get_fn)(int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[8] = { "spill_lea", "spill_imul", "idx_load", "idx_spill", "spill_lea_fix", "spill_imul_fix", "idx_load_fix", "idx_spill_fix" };
  static const int p[3] = { 1, 2, 3 }, q[3] = { 10, 20, 30 };
  get_fn get = (get_fn)(void *)GetProcAddress(m, "get_global");
  for (int k = 0; k < 8; k++) {
    void *f = (void *)GetProcAddress(m, names[k]);
    if (!f || !get) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    if (k % 4 >= 2) ((arrays)f)(p, q, 1);
    else ((ints)f)(2, 7);
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " = ");
    out_int(o, get(2 * k)); out_str(o, " "); out_int(o, get(2 * k + 1)); out_nl(o);
  }
}
