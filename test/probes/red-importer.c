/*
 * A module compiled against v1 of red-tail / red-tail-fix and red-byval, as an importer
 * outside the patched DLL would be (test/probe-red-live.test.ts builds it with
 * -DHP_TARGET='"<dll file name>"', host.exe --also). It uses whichever of the exports fill/sum
 * and weigh the target has: its first round fills three adjacent v1-sized objects that
 * every round sums (red-tail); every round calls weigh the v1 way (red-byval), with a struct
 * whose two halves are an address, so a weigh that dereferences it reads memory, not crash (it
 * does not call get: v2's get writes its result through rcx, which the v1 way sets to k).
 * Built with -DHP_TAIL_N=16 -DHP_REFILL for red-tail-end (arr[16]): every later round fills
 * object 0 again (with v1's fill the same values), so a fill that writes past a v1-sized
 * object shows in object 1's n.
 */
#define HP_NAME "red-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

#ifndef HP_TAIL_N
#define HP_TAIL_N 2
#endif
struct t { int n; int arr[HP_TAIL_N]; };
struct r { int a; int b; };
typedef void (*fill_fn)(struct t *, int);
typedef int (*sum_fn)(const struct t *);
typedef int (*weigh_fn)(struct r);

static struct t g_objs[3];
static int g_three[3] = { 1, 2, 3 };
static int g_made;

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  fill_fn fill = (fill_fn)(void *)GetProcAddress(m, "fill");
  sum_fn sum = (sum_fn)(void *)GetProcAddress(m, "sum");
  weigh_fn weigh = (weigh_fn)(void *)GetProcAddress(m, "weigh");
  if (fill && sum) {
    if (!g_made) {
      for (int k = 0; k < 3; k++) { g_objs[k].n = 100 + k; fill(&g_objs[k], 10 * k); }
      g_made = 1;
    }
#ifdef HP_REFILL
    else fill(&g_objs[0], 0);
#endif
    for (int k = 0; k < 3; k++) {
      out_str(o, "importer obj "); out_int(o, k); out_str(o, " n = "); out_int(o, g_objs[k].n);
      out_str(o, " sum = "); out_int(o, sum(&g_objs[k])); out_nl(o);
    }
  }
  if (weigh) {
    /* A struct whose halves are the address of g_three: v1's weigh weighs the halves (printed as
       v1's), a weigh taking its struct by address reads g_three's 1, 2, 3 (12), no crash. */
    unsigned long long at = (unsigned long long)(void *)g_three;
    struct r w = { (int)(unsigned)(at & 0xffffffffu), (int)(unsigned)(at >> 32) };
    int want = (int)((unsigned)w.a * 10u + (unsigned)w.b);
    int got = weigh(w);
    out_str(o, "importer weigh(address halves) = ");
    if (got == want) out_str(o, "v1's"); else out_int(o, got);
    out_nl(o);
  }
}
