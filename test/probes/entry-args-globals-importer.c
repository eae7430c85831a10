/*
 * A module compiled against entry-args-globals v1, as an importer outside the patched DLL would
 * be: it calls store2, store2_bare, store2_order and store2_fix with pointers to 1 and 2 and
 * prints the two globals each writes (read back through the export get_global). v1 answers
 * `1 2` for each (v2 too, with an importer compiled against it, but store2_fix `2 2`); v2's
 * store2 and store2_bare reached the old way write each value to the other global: `2 1`.
 * test/probe-args-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-globals-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef void (*store_fn)(const int *, const int *);
typedef int (*get_fn)(int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[4] = { "store2", "store2_bare", "store2_order", "store2_fix" };
  get_fn get = (get_fn)(void *)GetProcAddress(m, "get_global");
  int one = 1, two = 2;
  for (int k = 0; k < 4; k++) {
    store_fn f = (store_fn)(void *)GetProcAddress(m, names[k]);
    if (!f || !get) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    f(&one, &two);
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " = ");
    out_int(o, get(2 * k)); out_str(o, " "); out_int(o, get(2 * k + 1)); out_nl(o);
  }
}
