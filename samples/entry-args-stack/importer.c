/*
 * A module compiled against entry-args-stack v1, as an importer outside the patched DLL would
 * be: it calls the exports gather(a, b, c, d, p, n) and span(a, b, c, d, s, n) with v1's
 * signatures (p and s in the fifth stack argument, [rsp+0x28] at entry; n in the sixth). Not
 * part of the scenario build: test/entry-args-stack-live.test.ts compiles it with
 * -DHP_VERSION=1 -DHP_TARGET='"<dll file name>"' and loads it next to the scenario DLL
 * (host.exe --also), so every round prints what an old importer gets.
 *
 * v2's gather dereferences the index old callers pass in the sixth slot: an access violation.
 * So that a round still prints, a vectored handler turns a fault during the call to gather (a
 * leaf without a frame, so rsp still points at the return address) into a return of
 * GATHER_FAULTED to its caller.
 */
#define HP_NAME "entry-args-stack-importer"
#include <windows.h>
#include "../common/harness.h"

typedef int (*gather_fn)(int, int, int, int, const int *, int);
typedef int (*span_fn)(int, int, int, int, const char *, int);

#define GATHER_FAULTED (-999)
static const int values[4] = { 1, 2, 3, 4 };
static volatile LONG in_gather;

static LONG CALLBACK on_fault(EXCEPTION_POINTERS *e) {
  CONTEXT *c = e->ContextRecord;
  if (e->ExceptionRecord->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || !in_gather) return EXCEPTION_CONTINUE_SEARCH;
  c->Rip = *(DWORD64 *)c->Rsp;
  c->Rsp += 8;
  c->Rax = (DWORD64)(LONG64)GATHER_FAULTED;
  return EXCEPTION_CONTINUE_EXECUTION;
}

static void hp_vectors(hp_out *o) {
  HMODULE m = GetModuleHandleA(HP_TARGET);
  gather_fn gather = (gather_fn)(void *)GetProcAddress(m, "gather");
  span_fn span = (span_fn)(void *)GetProcAddress(m, "span");
  if (!gather || !span) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  void *h = AddVectoredExceptionHandler(1, on_fault);
  for (int x = 1; x <= 2; x++) {
    out_str(o, "importer gather(1, 2, 3, 4, values, "); out_int(o, x); out_str(o, ") = "); in_gather = 1; int r = gather(1, 2, 3, 4, values, x); in_gather = 0; out_int(o, r); out_nl(o);
    out_str(o, "importer span(1, 2, 3, 4, \"a\", "); out_int(o, x); out_str(o, ") = "); out_int(o, span(1, 2, 3, 4, "a", x)); out_nl(o);
  }
  if (h) RemoveVectoredExceptionHandler(h);
}
