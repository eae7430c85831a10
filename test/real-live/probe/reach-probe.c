/*
 * reach-probe.exe: counts which code addresses of a running process are executed, exactly,
 * with one-shot breakpoints (test-only; built with mingw-w64 by test/support/reach-probe.ts).
 *
 *   reach-probe.exe PID ADDRS READY STOP OUT
 *
 * Attaches to PID as a debugger (DebugActiveProcess, DebugSetProcessKillOnExit(FALSE)), waits
 * for the attach break-in, writes an int3 at each address of the file ADDRS (one hex VA a
 * line), then creates the file READY. On an EXCEPTION_BREAKPOINT at one of those addresses it
 * records the address, puts the original byte back, sets the thread's RIP to the address and
 * continues (DBG_CONTINUE): the thread runs the original instruction as if nothing happened.
 * Every other exception is passed on unchanged (DBG_EXCEPTION_NOT_HANDLED), every other debug
 * event is continued. When the file STOP appears it restores every byte still armed, drains
 * the events already queued (a thread may have hit an int3 just before it was restored),
 * detaches (DebugActiveProcessStop) and writes OUT:
 *   armed N
 *   hit VA          (one line per address reached, in the order first reached)
 *   events E exceptions X passed P
 *   detached
 * Exit 0 only when every byte was restored and the detach succeeded; otherwise a one-line
 * reason on stderr and exit 2 (attach failed: nothing was written) or 3 (arming, a
 * breakpoint, the restore or the detach failed; the bytes are put back first where possible).
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SITES 8192

typedef struct {
  ULONG_PTR va;
  BYTE original;
  int armed; /* the int3 is in place */
  int hit;
} Site;

static Site sites[MAX_SITES];
static int nSites;
static ULONG_PTR hitOrder[MAX_SITES];
static int nHits;
static HANDLE proc;
static unsigned long events, exceptions, passed;

static int fileExists(const char *p) { return GetFileAttributesA(p) != INVALID_FILE_ATTRIBUTES; }

static Site *siteAt(ULONG_PTR va) {
  for (int i = 0; i < nSites; i++)
    if (sites[i].va == va) return &sites[i];
  return NULL;
}

/* Writes one byte of code in the target (made writable for the write, protection put back). */
static int writeCodeByte(ULONG_PTR va, BYTE b) {
  DWORD old = 0, ignored = 0;
  SIZE_T n = 0;
  if (!VirtualProtectEx(proc, (LPVOID)va, 1, PAGE_EXECUTE_READWRITE, &old)) return 0;
  BOOL ok = WriteProcessMemory(proc, (LPVOID)va, &b, 1, &n);
  VirtualProtectEx(proc, (LPVOID)va, 1, old, &ignored);
  FlushInstructionCache(proc, (LPVOID)va, 1);
  return ok && n == 1;
}

static int disarm(Site *s) {
  if (!s->armed) return 1;
  if (!writeCodeByte(s->va, s->original)) return 0;
  s->armed = 0;
  return 1;
}

static DWORD targetPid;

/* Gives up: every byte still armed put back (as far as possible), detached, exit 3. */
static void fail(const char *what, ULONG_PTR va, DWORD thread) {
  fprintf(stderr, "reach-probe: %s (address %p, thread %lu)\n", what, (void *)va, thread);
  for (int i = 0; i < nSites; i++) disarm(&sites[i]);
  DebugActiveProcessStop(targetPid);
  exit(3);
}

/* Handles one debug event; returns the continue status. `attached` is set at the break-in. */
static DWORD handle(const DEBUG_EVENT *e, int *attached) {
  events++;
  switch (e->dwDebugEventCode) {
  case CREATE_PROCESS_DEBUG_EVENT:
    if (e->u.CreateProcessInfo.hFile) CloseHandle(e->u.CreateProcessInfo.hFile);
    return DBG_CONTINUE;
  case LOAD_DLL_DEBUG_EVENT:
    if (e->u.LoadDll.hFile) CloseHandle(e->u.LoadDll.hFile);
    return DBG_CONTINUE;
  case EXCEPTION_DEBUG_EVENT: {
    exceptions++;
    const EXCEPTION_RECORD *r = &e->u.Exception.ExceptionRecord;
    if (r->ExceptionCode == EXCEPTION_BREAKPOINT) {
      if (!*attached) {
        /* The break-in DebugActiveProcess injects (DbgUiRemoteBreakin): ours to swallow. */
        *attached = 1;
        return DBG_CONTINUE;
      }
      ULONG_PTR at = (ULONG_PTR)r->ExceptionAddress;
      Site *s = siteAt(at);
      if (s == NULL) s = siteAt(at - 1); /* in case RIP after the int3 is reported */
      if (s != NULL) {
        HANDLE t = OpenThread(THREAD_GET_CONTEXT | THREAD_SET_CONTEXT, FALSE, e->dwThreadId);
        CONTEXT c;
        memset(&c, 0, sizeof c);
        c.ContextFlags = CONTEXT_CONTROL;
        if (t == NULL || !GetThreadContext(t, &c)) fail("cannot read the thread's context", s->va, e->dwThreadId);
        if (!disarm(s)) fail("cannot restore the byte", s->va, e->dwThreadId);
        if (c.Rip != s->va && c.Rip != s->va + 1) fail("the thread is not at the int3", c.Rip, e->dwThreadId);
        c.Rip = s->va;
        if (!SetThreadContext(t, &c)) fail("cannot set the thread's context", s->va, e->dwThreadId);
        CloseHandle(t);
        if (!s->hit) {
          s->hit = 1;
          hitOrder[nHits++] = s->va;
        }
        return DBG_CONTINUE;
      }
    }
    /* Named on stderr (the first 20): the test shows it when the round fails. */
    if (passed++ < 20)
      fprintf(stderr, "reach-probe: passed exception %08lx at %p (first chance %lu, thread %lu)\n", r->ExceptionCode, r->ExceptionAddress, e->u.Exception.dwFirstChance, e->dwThreadId);
    fflush(stderr);
    return DBG_EXCEPTION_NOT_HANDLED;
  }
  default:
    return DBG_CONTINUE;
  }
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: reach-probe PID ADDRS READY STOP OUT\n");
    return 2;
  }
  DWORD pid = targetPid = (DWORD)strtoul(argv[1], NULL, 10);
  FILE *f = fopen(argv[2], "r");
  if (f == NULL) {
    fprintf(stderr, "reach-probe: cannot read %s\n", argv[2]);
    return 2;
  }
  char line[64];
  while (fgets(line, sizeof line, f) && nSites < MAX_SITES) {
    ULONG_PTR va = (ULONG_PTR)_strtoui64(line, NULL, 16);
    if (va != 0 && siteAt(va) == NULL) sites[nSites++].va = va;
  }
  fclose(f);
  proc = OpenProcess(PROCESS_ALL_ACCESS, FALSE, pid);
  if (proc == NULL) {
    fprintf(stderr, "reach-probe: cannot open process %lu (%lu)\n", pid, GetLastError());
    return 2;
  }
  for (int i = 0; i < nSites; i++) {
    SIZE_T n = 0;
    if (!ReadProcessMemory(proc, (LPCVOID)sites[i].va, &sites[i].original, 1, &n) || n != 1) {
      fprintf(stderr, "reach-probe: cannot read %p\n", (void *)sites[i].va);
      return 2;
    }
  }
  if (!DebugActiveProcess(pid)) {
    fprintf(stderr, "reach-probe: DebugActiveProcess(%lu) failed (%lu)\n", pid, GetLastError());
    return 2;
  }
  if (!DebugSetProcessKillOnExit(FALSE)) {
    fprintf(stderr, "reach-probe: DebugSetProcessKillOnExit failed (%lu)\n", GetLastError());
    DebugActiveProcessStop(pid);
    return 2;
  }
  int attached = 0;
  DEBUG_EVENT e;
  DWORD waited = 0;
  while (!attached) {
    if (!WaitForDebugEvent(&e, 100)) {
      if ((waited += 100) > 20000) {
        fprintf(stderr, "reach-probe: no attach break-in after 20 s\n");
        DebugActiveProcessStop(pid);
        return 2;
      }
      continue;
    }
    ContinueDebugEvent(e.dwProcessId, e.dwThreadId, handle(&e, &attached));
  }
  /* The target runs on while the int3s go in: one may be hit before the last is armed. */
  for (int i = 0; i < nSites; i++) {
    if (sites[i].original == 0xCC) continue; /* an int3 already there: not ours to count */
    if (!writeCodeByte(sites[i].va, 0xCC)) {
      fprintf(stderr, "reach-probe: cannot write the int3 at %p\n", (void *)sites[i].va);
      for (int k = 0; k < i; k++) disarm(&sites[k]);
      DebugActiveProcessStop(pid);
      return 3;
    }
    sites[i].armed = 1;
  }
  FILE *ready = fopen(argv[3], "w");
  if (ready) fclose(ready);
  while (!fileExists(argv[4])) {
    if (!WaitForDebugEvent(&e, 50)) continue;
    if (e.dwDebugEventCode == EXIT_PROCESS_DEBUG_EVENT) {
      fprintf(stderr, "reach-probe: the target exited\n");
      return 3;
    }
    ContinueDebugEvent(e.dwProcessId, e.dwThreadId, handle(&e, &attached));
  }
  int restored = 1;
  for (int i = 0; i < nSites; i++) restored &= disarm(&sites[i]);
  /* Events already queued (an int3 hit just before its byte came back) are handled here. */
  for (DWORD quiet = 0; quiet < 300;) {
    if (!WaitForDebugEvent(&e, 50)) {
      quiet += 50;
      continue;
    }
    quiet = 0;
    ContinueDebugEvent(e.dwProcessId, e.dwThreadId, handle(&e, &attached));
  }
  BOOL detached = DebugActiveProcessStop(pid);
  FILE *out = fopen(argv[5], "w");
  if (out == NULL) return 3;
  fprintf(out, "armed %d\n", nSites);
  for (int i = 0; i < nHits; i++) fprintf(out, "hit %llx\n", (unsigned long long)hitOrder[i]);
  fprintf(out, "events %lu exceptions %lu passed %lu\n", events, exceptions, passed);
  if (restored && detached) fprintf(out, "detached\n");
  fclose(out);
  if (!restored || !detached) {
    fprintf(stderr, "reach-probe: %s\n", restored ? "DebugActiveProcessStop failed" : "a byte could not be restored");
    return 3;
  }
  return 0;
}
