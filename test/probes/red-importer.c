/*
 * A module compiled against v1 of red-tail / red-tail-fix and red-byval, as an importer
 * outside the patched DLL would be (test/probe-red-live.test.ts builds it with
 * -DHP_TARGET='"<dll file name>"', host.exe --also). It uses whichever of the exports fill/sum
 * and get/weigh the target has: its first round fills three adjacent v1-sized objects that
 * every round sums (red-tail); every round calls get and weigh the v1 way (red-byval).
 */
#define HP_NAME "red-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

struct t { int n; int arr[2]; };
struct r { int a; int b; };
typedef void (*fill_fn)(struct t *, int);
typedef int (*sum_fn)(const struct t *);
typedef struct r (*get_fn)(int);
typedef int (*weigh_fn)(struct r);

static struct t g_objs[3];
static int g_made;

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  fill_fn fill = (fill_fn)(void *)GetProcAddress(m, "fill");
  sum_fn sum = (sum_fn)(void *)GetProcAddress(m, "sum");
  get_fn get = (get_fn)(void *)GetProcAddress(m, "get");
  weigh_fn weigh = (weigh_fn)(void *)GetProcAddress(m, "weigh");
  if (fill && sum) {
    if (!g_made) {
      for (int k = 0; k < 3; k++) { g_objs[k].n = 100 + k; fill(&g_objs[k], 10 * k); }
      g_made = 1;
    }
    for (int k = 0; k < 3; k++) {
      out_str(o, "importer obj "); out_int(o, k); out_str(o, " n = "); out_int(o, g_objs[k].n);
      out_str(o, " sum = "); out_int(o, sum(&g_objs[k])); out_nl(o);
    }
  }
  if (get && weigh) {
    struct r v = get(7);
    out_str(o, "importer get(7) = "); out_int(o, v.a); out_str(o, " "); out_int(o, v.b); out_nl(o);
    struct r w = { 4, 6 };
    out_str(o, "importer weigh({4, 6}) = "); out_int(o, weigh(w)); out_nl(o);
  }
}
