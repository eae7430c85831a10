/*
 * A module compiled against entry-args-pshapes v1, as an importer outside the patched DLL would
 * be: it calls cpy(dst, src) and cpy_fix(dst, src) in v1's order, dst holding "xxxxx" and src
 * "hello", and prints dst, src and the answer. v1 answers `hello hello 5` for both (v2 with an
 * importer compiled against it too, and cpy_fix v2 `hello hello 6`); entry-args-pshapes v2's
 * cpy(src, dst), reached the old way, copies dst over src (`xxxxx xxxxx 5`).
 * test/probe-args-live.test.ts compiles it with -DHP_TARGET='"<dll file name>"' and loads it
 * next to the probe DLL (host.exe --also).
 */
#define HP_NAME "entry-args-pshapes-importer"
#define HP_VERSION 1
#include <windows.h>
#include "../../samples/common/harness.h"

typedef size_t (*cpy_fn)(char *, const char *);

static void show(hp_out *o, const char *name, cpy_fn f) {
  char dst[8] = "xxxxx", src[8] = "hello";
  size_t n = f(dst, src);
  out_str(o, "importer "); out_str(o, name); out_str(o, " = ");
  out_str(o, dst); out_str(o, " "); out_str(o, src); out_str(o, " "); out_int(o, (long long)n); out_nl(o);
}

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  cpy_fn cpy = (cpy_fn)(void *)GetProcAddress(m, "cpy");
  cpy_fn fix = (cpy_fn)(void *)GetProcAddress(m, "cpy_fix");
  if (!cpy || !fix) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  show(o, "cpy", cpy);
  show(o, "cpy_fix", fix);
}
