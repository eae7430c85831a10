/*
 * A module compiled against entry-args-thunk v1, as an importer outside the patched DLL would
 * be: it calls the export gather_api(a, b, c, d, p, n) with v1's signature (p in the fifth stack
 * argument, [rsp+0x28] at entry; n in the sixth). Not part of the scenario build:
 * test/entry-args-stack-live.test.ts compiles it with -DHP_VERSION=1 -DHP_TARGET='"<dll file
 * name>"' and loads it next to the scenario DLL (host.exe --also), so every round prints what an
 * old importer gets.
 *
 * gather_api is `jmp gather_impl`; v2's gather_impl dereferences the index old callers pass in
 * the sixth slot: an access violation. As in entry-args-stack's importer, a vectored handler
 * turns a fault during the call (a leaf without a frame, rsp at the return address) into a
 * return of GATHER_FAULTED.
 */
#define HP_NAME "entry-args-thunk-importer"
#include <windows.h>
#include "../common/harness.h"

typedef int (*gather_fn)(int, int, int, int, const int *, int);

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
  gather_fn gather_api = (gather_fn)(void *)GetProcAddress(m, "gather_api");
  if (!gather_api) {
    out_str(o, "importer: exports not found\n");
    return;
  }
  void *h = AddVectoredExceptionHandler(1, on_fault);
  for (int x = 1; x <= 2; x++) {
    out_str(o, "importer gather_api(1, 2, 3, 4, values, "); out_int(o, x); out_str(o, ") = "); in_gather = 1; int r = gather_api(1, 2, 3, 4, values, x); in_gather = 0; out_int(o, r); out_nl(o);
  }
  if (h) RemoveVectoredExceptionHandler(h);
}
