/*
 * A module compiled against entry-args-same v1, as an importer outside the patched DLL would
 * be: it calls put, put2, diff and lt and their twins in v1's order and prints the answers.
 * v1 answers `put = 1 2`, `put2 = 5 6`, `diff = 4`, `lt = 1` (v2 with an importer compiled
 * against it too); v2's bodies reached the old way write and read the other pointer first:
 * `2 1`, `6 5`, `-4`, `0`. The twins' v2 answers: `1 3`, `5 7`, `5`, lt_fix(2, 2) `1` (v1 `0`).
 * test/probe-args-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"' and loads it
 * next to the probe DLL (host.exe --also).
 */
#define HP_NAME "entry-args-same-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef void (*put_fn)(int *, int *);
typedef void (*put2_fn)(int *, int *, int);
typedef int (*diff_fn)(const int *, const int *);
typedef int (*lt_fn)(int, int);

static void line(hp_out *o, const char *name, long long x, long long y, int two) {
  out_str(o, "importer "); out_str(o, name); out_str(o, " = "); out_int(o, x);
  if (two) { out_str(o, " "); out_int(o, y); }
  out_nl(o);
}

static void run(hp_out *o, HMODULE m, const char *sfx) {
  char n[4][16];
  const char *base[4] = { "put", "put2", "diff", "lt" };
  for (int i = 0; i < 4; i++) {
    int k = 0;
    for (const char *p = base[i]; *p; p++) n[i][k++] = *p;
    for (const char *p = sfx; *p; p++) n[i][k++] = *p;
    n[i][k] = 0;
  }
  put_fn put = (put_fn)(void *)GetProcAddress(m, n[0]);
  put2_fn put2 = (put2_fn)(void *)GetProcAddress(m, n[1]);
  diff_fn diff = (diff_fn)(void *)GetProcAddress(m, n[2]);
  lt_fn lt = (lt_fn)(void *)GetProcAddress(m, n[3]);
  if (!put || !put2 || !diff || !lt) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  int x = 0, y = 0;
  put(&x, &y);
  line(o, n[0], x, y, 1);
  x = y = 0;
  put2(&x, &y, 5);
  line(o, n[1], x, y, 1);
  x = 7, y = 3;
  line(o, n[2], diff(&x, &y), 0, 0);
  line(o, n[3], *sfx ? lt(2, 2) : lt(1, 2), 0, 0);
}

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  run(o, m, "");
  run(o, m, "_fix");
}
