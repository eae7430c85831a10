/*
 * A module compiled against entry-args-rewrite v1, as an importer outside the patched DLL would
 * be: it calls each export with the values 2 and 7 (pointers to them, or the integers) and
 * prints the two globals it writes (read back through the export get_global). v1 answers
 * `10 63`, `87 263`, `200 7000`, `30 6` (and the same for each *_fix); v2's swapped functions
 * reached the old way compute each global from the other argument.
 * test/entry-args-rewrite-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"'.
 */
#define HP_NAME "entry-args-rewrite-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef void (*int_ptrs)(const int *, const int *);
typedef void (*ints)(int, int);
typedef void (*short_ptrs)(const short *, const short *);
typedef int (*get_fn)(int);

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  static const char *const names[8] = { "rw_lea", "rw_bits", "rw_imul", "rw_sum", "rw_lea_fix", "rw_bits_fix", "rw_imul_fix", "rw_sum_fix" };
  get_fn get = (get_fn)(void *)GetProcAddress(m, "get_global");
  int two = 2, seven = 7;
  short stwo = 2, sseven = 7;
  for (int k = 0; k < 8; k++) {
    void *f = (void *)GetProcAddress(m, names[k]);
    if (!f || !get) {
      out_str(o, "importer: exports not found\n");
      return;
    }
    if (k % 4 == 1) ((ints)f)(2, 7);
    else if (k % 4 == 2) ((short_ptrs)f)(&stwo, &sseven);
    else ((int_ptrs)f)(&two, &seven);
    out_str(o, "importer "); out_str(o, names[k]); out_str(o, " = ");
    out_int(o, get(2 * k)); out_str(o, " "); out_int(o, get(2 * k + 1)); out_nl(o);
  }
}
