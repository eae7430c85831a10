/*
 * A module compiled against entry-args-own v1, as an importer outside the patched DLL would be:
 * it calls each export with the values 2 and 7 (and the shift count 3) and prints the two
 * globals it writes (read back through the export get_global); v2's swapped functions reached
 * the old way compute each global from the other argument.
 * test/entry-args-own-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-own-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef void (*ints)(int, int);
typedef void (*ints3)(int, int, int);
typedef long long (*get_fn)(int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[12] = { "own_lea", "own_imul", "own_wide", "own_not", "own_shift", "own_rot", "own_lea_fix", "own_imul_fix", "own_wide_fix", "own_not_fix", "own_shift_fix", "own_rot_fix" };
  get_fn get = (get_fn)(void *)GetProcAddress(m, "get_global");
  for (int k = 0; k < 12; k++) {
    void *f = (void *)GetProcAddress(m, names[k]);
    if (!f || !get) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    if (k % 6 == 4) ((ints3)f)(2, 7, 3);
    else ((ints)f)(2, 7);
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " = ");
    out_int(o, get(2 * k)); out_str(o, " "); out_int(o, get(2 * k + 1)); out_nl(o);
  }
}
