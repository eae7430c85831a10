/*
 * A module compiled against entry-args-roles v1, as an importer outside the patched DLL would
 * be: it calls the exports pick(p, i), bump(tag, n), make_trio(x) and deep_api(x) with v1's
 * signatures. Not part of the scenario build: test/entry-args-live.test.ts compiles it with
 * -DHP_VERSION=1 -DHP_TARGET='"<dll file name>"' and loads it next to the scenario DLL
 * (host.exe --also), so every round prints what an old importer gets.
 *
 * v2's pick dereferences the index old callers pass in rdx: an access violation. So that a
 * round still prints, a vectored handler turns a fault during the call to pick (v2's body, or
 * the patch's copy of it a redirect reaches: a leaf without a frame, so rsp still points at
 * the return address) into a return of PICK_FAULTED to its caller.
 */
#define HP_NAME "entry-args-roles-importer"
#include <windows.h>
#include "../common/harness.h"

struct trio { int lo, hi, mid; };
typedef int (*pick_fn)(const int *, int);
typedef int (*bump_fn)(const char *, int);
typedef struct trio (*trio_fn)(int);
typedef int (*one_fn)(int);

#define PICK_FAULTED (-999)
static const int values[4] = { 1, 2, 3, 4 };
static volatile LONG in_pick;

static LONG CALLBACK on_fault(EXCEPTION_POINTERS *e) {
  CONTEXT *c = e->ContextRecord;
  if (e->ExceptionRecord->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || !in_pick) return EXCEPTION_CONTINUE_SEARCH;
  c->Rip = *(DWORD64 *)c->Rsp;
  c->Rsp += 8;
  c->Rax = (DWORD64)(LONG64)PICK_FAULTED;
  return EXCEPTION_CONTINUE_EXECUTION;
}

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  pick_fn pick = (pick_fn)(void *)GetProcAddress(m, "pick");
  bump_fn bump = (bump_fn)(void *)GetProcAddress(m, "bump");
  trio_fn make_trio = (trio_fn)(void *)GetProcAddress(m, "make_trio");
  one_fn deep_api = (one_fn)(void *)GetProcAddress(m, "deep_api");
  if (!pick || !bump || !make_trio || !deep_api) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  void *h = AddVectoredExceptionHandler(1, on_fault);
  for (int x = 1; x <= 2; x++) {
    out_str(o, "importer pick(values, "); out_int(o, x); out_str(o, ") = "); in_pick = 1; int r = pick(values, x); in_pick = 0; out_int(o, r); out_nl(o);
    out_str(o, "importer bump(\"a\", "); out_int(o, x); out_str(o, ") = "); out_int(o, bump("a", x)); out_nl(o);
    struct trio t = { 0, 0, 0 };
    t = make_trio(x);
    out_str(o, "importer make_trio("); out_int(o, x); out_str(o, ") = {"); out_int(o, t.lo); out_str(o, ", "); out_int(o, t.hi); out_str(o, ", "); out_int(o, t.mid); out_str(o, "}"); out_nl(o);
    out_str(o, "importer deep_api("); out_int(o, x); out_str(o, ") = "); out_int(o, deep_api(x)); out_nl(o);
  }
  if (h) RemoveVectoredExceptionHandler(h);
}
