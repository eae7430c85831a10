/*
 * hotpatch win32 agent: the "small hand" that executes a fully checked write plan against a
 * running Windows process. It makes no decisions of its own: the TypeScript planner decides
 * what to allocate, write, protect and redirect; the agent performs one primitive per request
 * line and answers with one JSON line (see PROTOCOL.md next to this file).
 *
 * Everything between `begin` and `commit` is a transaction: the agent keeps an undo log
 * (original bytes, old protections, allocations, suspended threads, registered tables) and
 * rolls the target back by itself the moment a step fails, or when its stdin closes before
 * `commit` (a driver that crashed must never leave a target frozen or half patched).
 *
 * Built deterministically by build.sh (x86_64-w64-mingw32-gcc -O2, no timestamp, stripped).
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <tlhelp32.h>
#include <fcntl.h>
#include <io.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROTOCOL_VERSION 1
/* Biggest single read/write the agent accepts: a bound on what a bad request can make it allocate. */
#define MAX_IO (64u * 1024u * 1024u)
/* A remote call (e.g. RtlAddFunctionTable) that does not return within this time is a failure. */
#define CALL_TIMEOUT_MS 10000
/* Threads the agent can hold suspended at once. */
#define MAX_THREADS 4096

typedef uint64_t u64;

#include "host-io.h" /* memory I/O through the Linux kernel under Wine */
#include "host-sched.h" /* the pause's scheduling boost under Wine on Linux */
#include "host-ran.h" /* between tries: did the target's threads run since the resume */
#include "hold-reader.h" /* the hold's bound: contexts read on a thread the hold can give up on */

/* ---------- response buffer ---------- */

static char *g_out;
static size_t g_out_len, g_out_cap;

static void out_reserve(size_t extra) {
  if (g_out_len + extra + 1 <= g_out_cap) return;
  size_t cap = g_out_cap ? g_out_cap : 4096;
  while (cap < g_out_len + extra + 1) cap *= 2;
  char *p = (char *)realloc(g_out, cap);
  if (!p) {
    fputs("{\"ok\":false,\"code\":\"LIVE_AGENT_OOM\",\"message\":\"agent out of memory\"}\n", stdout);
    fflush(stdout);
    ExitProcess(3);
  }
  g_out = p;
  g_out_cap = cap;
}

static void out_raw(const char *s, size_t n) {
  out_reserve(n);
  memcpy(g_out + g_out_len, s, n);
  g_out_len += n;
  g_out[g_out_len] = 0;
}

static void out_fmt(const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof tmp) n = (int)sizeof tmp - 1;
  out_raw(tmp, (size_t)n);
}

/* A JSON string literal; paths and messages are the only free text the agent prints. */
static void out_jstr(const char *s) {
  out_raw("\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      out_raw(e, 2);
    } else if (c < 0x20 || c >= 0x7f) {
      out_fmt("\\u%04x", c);
    } else {
      out_raw((const char *)&c, 1);
    }
  }
  out_raw("\"", 1);
}

static void out_hex(const unsigned char *b, size_t n) {
  static const char digits[] = "0123456789abcdef";
  out_reserve(n * 2 + 2);
  g_out[g_out_len++] = '"';
  for (size_t i = 0; i < n; i++) {
    g_out[g_out_len++] = digits[b[i] >> 4];
    g_out[g_out_len++] = digits[b[i] & 15];
  }
  g_out[g_out_len++] = '"';
  g_out[g_out_len] = 0;
}

/* Addresses travel as "0x..." strings: JSON numbers cannot hold 64 bits exactly. */
static void out_addr(const char *key, u64 v) { out_fmt(",\"%s\":\"0x%llx\"", key, (unsigned long long)v); }

static const char *g_op = "";

static void begin_ok(void) {
  g_out_len = 0;
  out_fmt("{\"ok\":true,\"op\":");
  out_jstr(g_op);
}

static void send_line(void) {
  out_raw("}\n", 2);
  fwrite(g_out, 1, g_out_len, stdout);
  fflush(stdout);
  g_out_len = 0;
}

/* Error responses carry a stable LIVE_* code, a one-line message and the Win32 error if any. */
static int g_undo_failures;
static int fail(const char *code, DWORD win32, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  g_out_len = 0;
  out_fmt("{\"ok\":false,\"op\":");
  out_jstr(g_op);
  out_fmt(",\"code\":\"%s\",\"message\":", code);
  out_jstr(msg);
  if (win32) out_fmt(",\"win32\":%lu", (unsigned long)win32);
  return 0;
}

/* ---------- target process and transaction state ---------- */

static HANDLE g_proc;
static DWORD g_pid;
/* The target's Linux pid under Wine (host-io.h): 0 not looked for yet since `open`, -1 unavailable. */
static int64_t g_unix_pid;
static int g_io_server; /* the current swap asked for io=server: no kernel path at all */

typedef struct {
  DWORD tid;
  HANDLE h;
  /* End of the committed stack region (from the TEB's StackBase, read before the pause), or 0
   * when the thread was found during the pause: its stack is then located by VirtualQueryEx. */
  u64 stack_top;
  u64 teb; /* its TEB (read before the pause), or 0 */
  int held; /* stopped by the agent now: 1 by its own SuspendThread, 2 by NtSuspendProcess */
  double ctx_us; /* its context read under the last hold (the wait until it stopped), µs */
} Thread;
/* The target's threads the agent knows, with open handles: learnt before a pause (so the pause
 * itself only suspends, reads contexts and confirms), forgotten at the end of the request. */
static Thread g_thr[MAX_THREADS];
static int g_nthr;
static int g_process_held; /* NtSuspendProcess holds the target: NtResumeProcess ends it */
/* g_ctx[i]: the context of g_thr[i] read under the current suspension. */
static CONTEXT *g_ctx;
static LARGE_INTEGER g_t_suspend, g_freq;

enum { U_WRITE, U_PROTECT, U_ALLOC, U_CALL };
typedef struct {
  int kind;
  u64 addr, size;
  DWORD prot;
  unsigned char *orig;
  u64 call[5]; /* U_CALL: function + 4 arguments to run on rollback */
} Undo;
static Undo *g_undo;
static size_t g_nundo, g_capundo;
static int g_in_tx, g_aborted;
/* Guard mode (`begin guard`): a failed step does not roll back (the driver's own executor
 * undoes step by step); the log is only replayed when stdin closes before `commit`. */
static int g_guard;
/* Inside `batch` ... `end`, the first failure makes the agent skip the rest of the batch, so a
 * driver can send a whole suspended span (suspend, redirects, flush, resume) in one write. */
static int g_in_batch, g_batch_failed_at, g_batch_index;
static u64 *g_deferred_free;
static size_t g_nfree, g_capfree;

static void undo_push(Undo u) {
  if (g_nundo == g_capundo) {
    g_capundo = g_capundo ? g_capundo * 2 : 64;
    g_undo = (Undo *)realloc(g_undo, g_capundo * sizeof(Undo));
    if (!g_undo) ExitProcess(3);
  }
  g_undo[g_nundo++] = u;
}

static void undo_clear(void) {
  for (size_t i = 0; i < g_nundo; i++) free(g_undo[i].orig);
  g_nundo = 0;
  g_nfree = 0;
}

static int parse_u64(const char *s, u64 *v) {
  if (!s || !*s) return 0;
  char *end;
  *v = (u64)_strtoui64(s, &end, 0);
  return *end == 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes hex in place; returns the byte count or -1. */
static long decode_hex(char *s) {
  size_t n = strlen(s);
  if (n % 2) return -1;
  unsigned char *o = (unsigned char *)s;
  for (size_t i = 0; i < n; i += 2) {
    int a = hexval(s[i]), b = hexval(s[i + 1]);
    if (a < 0 || b < 0) return -1;
    o[i / 2] = (unsigned char)(a * 16 + b);
  }
  return (long)(n / 2);
}

static int need_process(void) {
  if (!g_proc) return fail("LIVE_NO_PROCESS", 0, "no target process: send `open PID` first");
  DWORD code = 0;
  if (GetExitCodeProcess(g_proc, &code) && code != STILL_ACTIVE)
    return fail("LIVE_PROCESS_EXITED", 0, "target process %lu has exited (code %lu)", (unsigned long)g_pid, (unsigned long)code);
  return 1;
}

/* ---------- remote memory helpers ---------- */

/*
 * The target's memory. Under Wine on Linux, once the target's Linux pid is known
 * (target_unix_pid) and unless the request asked for io=server, through the kernel only:
 * process_vm_readv / _writev (host-io.h), and for a range those cannot move whole (a page
 * without read or write access) pread / pwrite on /proc/PID/mem. Never through the wineserver
 * then, whose ReadProcessMemory / WriteProcessMemory ptrace-stops a target thread: under load
 * that stop can fail and leave the thread traced by the server for good, and every later hold
 * of the target waits for ever (PROTOCOL.md, "Memory I/O under Wine").
 */
static int64_t target_unix_pid(void);
static int g_suspended;
/* The pid is looked up (once per open) only while the target runs: the lookup allocates in the
 * target, which under Wine takes a turn of one of its threads. */
static int lx_fast_io(void) { return !g_io_server && g_proc && (g_unix_pid != 0 || g_suspended ? g_unix_pid > 0 : target_unix_pid() > 0); }

/* ERROR_PARTIAL_COPY, as ReadProcessMemory / WriteProcessMemory report a range they could not move. */
static int lx_io_failed(void) {
  SetLastError(ERROR_PARTIAL_COPY);
  return 0;
}

static int rpm(u64 addr, void *buf, size_t n) {
  if (n && lx_fast_io()) {
    size_t moved = 0;
    LxIov l = {buf, n}, r = {(void *)(uintptr_t)addr, n};
    if (lx_move(g_unix_pid, 0, &l, &r, 1, &moved) || lx_mem_move(g_unix_pid, 0, buf, addr, n, &moved)) return 1;
    return lx_io_failed();
  }
  SIZE_T got = 0;
  return ReadProcessMemory(g_proc, (LPCVOID)(uintptr_t)addr, buf, n, &got) && got == n;
}

/* The kernel path of wpm: the old bytes are read first, so that a write that stops part way
 * puts back what it wrote (never a half-written range). */
static int lx_write(u64 addr, const void *buf, size_t n) {
  unsigned char *old = (unsigned char *)malloc(n);
  if (!old) return lx_io_failed();
  size_t moved = 0, again = 0;
  LxIov l = {old, n}, r = {(void *)(uintptr_t)addr, n};
  int done = 0;
  if (lx_move(g_unix_pid, 0, &l, &r, 1, &moved) || lx_mem_move(g_unix_pid, 0, old, addr, n, &moved)) {
    LxIov w = {(void *)buf, n};
    done = lx_move(g_unix_pid, 1, &w, &r, 1, &moved);
    if (!done && moved) lx_mem_move(g_unix_pid, 1, old, addr, moved, &again);
    if (!done) {
      done = lx_mem_move(g_unix_pid, 1, (void *)buf, addr, n, &moved);
      if (!done && moved) lx_mem_move(g_unix_pid, 1, old, addr, moved, &again);
    }
  }
  free(old);
  return done ? 1 : lx_io_failed();
}

static int wpm(u64 addr, const void *buf, size_t n) {
  if (n && lx_fast_io()) return lx_write(addr, buf, n);
  SIZE_T put = 0;
  return WriteProcessMemory(g_proc, (LPVOID)(uintptr_t)addr, buf, n, &put) && put == n;
}

/* ---------- threads: learnt before a pause, held during it ---------- */

static double us_since(const LARGE_INTEGER *t0) {
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now);
  return (double)(now.QuadPart - t0->QuadPart) * 1e6 / (double)g_freq.QuadPart;
}

static double paused_us(void) { return us_since(&g_t_suspend); }

/* Resumes every held thread; the pause ends with the last ResumeThread (handles stay open:
 * a retry or the next step holds the same threads again without looking them up). */
typedef LONG(NTAPI *NtProcessFn)(HANDLE process);
static NtProcessFn g_suspend_process, g_resume_process;

static double resume_all(void) {
  for (int i = 0; i < g_nthr; i++) {
    if (g_thr[i].held == 1) ResumeThread(g_thr[i].h);
    g_thr[i].held = 0;
  }
  if (g_process_held) g_resume_process(g_proc);
  g_process_held = 0;
  double us = g_suspended ? paused_us() : 0.0;
  g_suspended = 0;
  return us;
}

static void set_anchor(HANDLE h, DWORD tid);
/* Resumes what is held and closes every thread handle (end of a request's use of threads). */
static double forget_threads(void) {
  double us = resume_all();
  for (int i = 0; i < g_nthr; i++) CloseHandle(g_thr[i].h);
  g_nthr = 0;
  set_anchor(NULL, 0);
  return us;
}

static int thread_index(DWORD tid) {
  for (int i = 0; i < g_nthr; i++)
    if (g_thr[i].tid == tid) return i;
  return -1;
}
static int known_thread(DWORD tid) { return thread_index(tid) >= 0; }

typedef LONG(NTAPI *NtGetNextThreadFn)(HANDLE process, HANDLE thread, ACCESS_MASK access, ULONG attributes, ULONG flags, PHANDLE next);
typedef LONG(NTAPI *NtQueryInformationThreadFn)(HANDLE thread, ULONG cls, PVOID info, ULONG len, PULONG ret);
typedef LONG(NTAPI *NtQuerySystemInformationFn)(ULONG cls, PVOID info, ULONG len, PULONG ret);
static NtGetNextThreadFn g_next_thread;
static NtQueryInformationThreadFn g_query_thread;
static NtQuerySystemInformationFn g_query_system;
static const ACCESS_MASK THREAD_ACCESS = THREAD_SUSPEND_RESUME | THREAD_GET_CONTEXT | THREAD_QUERY_INFORMATION;

/* End of the committed region holding the thread's stack base (TEB NtTib.StackBase), or 0. */
static u64 stack_top_of(HANDLE h, u64 *teb_out) {
  struct {
    LONG exit_status;
    void *teb;
    void *client_id[2];
    ULONG_PTR affinity;
    LONG priority, base_priority;
  } tbi;
  u64 base = 0;
  MEMORY_BASIC_INFORMATION mbi;
  *teb_out = 0;
  if (!g_query_thread || g_query_thread(h, 0 /* ThreadBasicInformation */, &tbi, sizeof tbi, NULL) < 0 || !tbi.teb) return 0;
  *teb_out = (u64)(uintptr_t)tbi.teb;
  if (!rpm((u64)(uintptr_t)tbi.teb + 8, &base, 8) || base < 8) return 0;
  if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)(base - 8), &mbi, sizeof mbi) || mbi.State != MEM_COMMIT) return 0;
  return (u64)(uintptr_t)mbi.BaseAddress + mbi.RegionSize;
}

/* Adds a thread (handle owned by the list on success); `hold`: suspend it first (a thread that
 * cannot be suspended has exited: nothing to hold, not added). 1 added, 0 not, -1 list full. */
static int add_thread(HANDLE h, DWORD tid, int hold) {
  if (g_nthr == MAX_THREADS) return -1;
  if (hold && SuspendThread(h) == (DWORD)-1) return 0;
  g_thr[g_nthr].tid = tid;
  g_thr[g_nthr].h = h;
  g_thr[g_nthr].teb = 0;
  g_thr[g_nthr].stack_top = hold ? 0 : stack_top_of(h, &g_thr[g_nthr].teb); /* during a pause: no extra calls */
  g_thr[g_nthr].held = hold;
  g_nthr++;
  return 1;
}

/*
 * The anchor: a handle to the target's last thread in the system's thread order, as the last
 * NtGetNextThread walk saw it (NULL when there is none). Threads are appended to that order
 * when created and leave it only when their object is destroyed (Windows: the process's thread
 * list; Wine: server/thread.c create_thread list_add_tail, destroy_thread list_remove), so a
 * thread not seen by the walk comes after the anchor while the anchor is alive: one
 * NtGetNextThread from it confirms that no thread is unknown (see hold_all).
 */
static HANDLE g_anchor;
static DWORD g_anchor_tid;

static void set_anchor(HANDLE h, DWORD tid) {
  if (g_anchor && g_anchor != h) CloseHandle(g_anchor);
  g_anchor = h;
  g_anchor_tid = tid;
}

/* One walk over the target's threads, adding those not known yet (`hold`: suspended); returns
 * how many it added, or -1. NtGetNextThread walks only this process's threads; a Toolhelp
 * snapshot (the fallback) lists every thread on the system and costs tens of ms under Wine. */
static int walk_threads(int hold, DWORD *err_out) {
  int added = 0;
  if (g_next_thread) {
    HANDLE cur = NULL, next = NULL;
    DWORD cur_tid = 0;
    while (g_next_thread(g_proc, cur, THREAD_ACCESS, 0, 0, &next) >= 0) {
      if (cur) CloseHandle(cur);
      cur = next;
      DWORD tid = GetThreadId(cur);
      cur_tid = tid;
      if (!tid || known_thread(tid) || tid == GetCurrentThreadId()) continue; /* never ourselves (target == agent) */
      HANDLE h;
      if (!DuplicateHandle(GetCurrentProcess(), cur, GetCurrentProcess(), &h, 0, FALSE, DUPLICATE_SAME_ACCESS)) continue;
      int r = add_thread(h, tid, hold);
      if (r <= 0) CloseHandle(h);
      if (r < 0) {
        CloseHandle(cur);
        *err_out = 0;
        return -1;
      }
      added += r;
    }
    if (cur) set_anchor(cur, cur_tid); /* the walk ended after it: the last thread in the order */
    return added;
  }
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  if (snap == INVALID_HANDLE_VALUE) {
    *err_out = GetLastError();
    return -1;
  }
  THREADENTRY32 te;
  te.dwSize = sizeof te;
  for (BOOL more = Thread32First(snap, &te); more; more = Thread32Next(snap, &te)) {
    if (te.th32OwnerProcessID != g_pid || known_thread(te.th32ThreadID) || te.th32ThreadID == GetCurrentThreadId()) continue;
    HANDLE h = OpenThread(THREAD_ACCESS, FALSE, te.th32ThreadID);
    if (!h) continue; /* exited between snapshot and open */
    int r = add_thread(h, te.th32ThreadID, hold);
    if (r <= 0) CloseHandle(h);
    if (r < 0) {
      CloseHandle(snap);
      *err_out = 0;
      return -1;
    }
    added += r;
  }
  CloseHandle(snap);
  return added;
}

/*
 * The target's threads as the system lists them, in one NtQuerySystemInformation call (one
 * wineserver round trip under Wine, where a walk costs three per thread). Adds and suspends
 * those not known yet; returns how many, or -2 when the list is unavailable or does not
 * name every thread held (the caller then walks). SYSTEM_PROCESS_INFORMATION (x64):
 * NextEntryOffset +0, NumberOfThreads +4, UniqueProcessId +0x50, threads from +0x100, each
 * SYSTEM_THREAD_INFORMATION 0x50 bytes with ClientId.UniqueThread at +0x30.
 */
static int adopt_listed_threads(DWORD *err_out) {
  static unsigned char *buf;
  static ULONG cap;
  if (!g_query_system) return -2;
  LONG st;
  ULONG need = 0;
  for (int tries = 0;; tries++) {
    if (!buf) {
      cap = cap ? cap : 256 * 1024;
      buf = (unsigned char *)malloc(cap);
      if (!buf) return -2;
    }
    st = g_query_system(5 /* SystemProcessInformation */, buf, cap, &need);
    if (st != (LONG)0xC0000004 /* STATUS_INFO_LENGTH_MISMATCH */ || tries == 3) break;
    free(buf);
    buf = NULL;
    cap = need > cap ? need + 64 * 1024 : cap * 2;
  }
  if (st < 0) return -2;
  ULONG len = need && need <= cap ? need : cap;
  for (ULONG at = 0; at + 0x100 <= len;) {
    const unsigned char *p = buf + at;
    ULONG next, nthreads;
    ULONG_PTR pid;
    memcpy(&next, p, 4);
    memcpy(&nthreads, p + 4, 4);
    memcpy(&pid, p + 0x50, sizeof pid);
    if ((DWORD)pid == g_pid) {
      if (nthreads > MAX_THREADS || at + 0x100 + (u64)nthreads * 0x50 > len) return -2;
      int seen = 0, added = 0;
      for (ULONG t = 0; t < nthreads; t++) {
        ULONG_PTR tid;
        memcpy(&tid, p + 0x100 + (size_t)t * 0x50 + 0x30, sizeof tid);
        if ((DWORD)tid == GetCurrentThreadId()) continue;
        int k = thread_index((DWORD)tid);
        if (k >= 0) {
          seen += g_thr[k].held != 0;
          continue;
        }
        HANDLE h = OpenThread(THREAD_ACCESS, FALSE, (DWORD)tid);
        if (!h) {
          DWORD oe = GetLastError();
          if (oe == ERROR_INVALID_PARAMETER) continue; /* exited since the list was made */
          *err_out = oe; /* a thread that cannot be held or read: never write past it */
          return -1;
        }
        int r = add_thread(h, (DWORD)tid, 1);
        if (r <= 0) CloseHandle(h);
        if (r < 0) {
          *err_out = 0;
          return -1;
        }
        added += r;
      }
      int held = 0;
      for (int i = 0; i < g_nthr; i++) held += g_thr[i].held != 0;
      /* Every thread held must be listed, else the list is not one to trust. */
      return seen == held - added ? added : -2;
    }
    if (!next) break;
    at += next;
  }
  return -2;
}

/*
 * Threads created since the walk that set the anchor: continues the walk from the anchor,
 * suspending and adding each thread found (the anchor moves to the last). One NtGetNextThread
 * when there is none. Returns how many it added, -1 on failure, or -2 when the anchor cannot
 * be trusted: none, or its thread no longer held (it exited, and a destroyed thread leaves
 * the order), so the caller asks the system's list instead.
 */
static int adopt_threads_after_anchor(DWORD *err_out) {
  int k = g_anchor ? thread_index(g_anchor_tid) : -1;
  if (!g_next_thread || k < 0 || !g_thr[k].held) return -2;
  int added = 0;
  HANDLE cur = g_anchor, next = NULL;
  DWORD cur_tid = g_anchor_tid;
  for (;;) {
    LONG st = g_next_thread(g_proc, cur, THREAD_ACCESS, 0, 0, &next);
    if (st == (LONG)0x8000001A /* STATUS_NO_MORE_ENTRIES */) break;
    if (st < 0) {
      if (cur != g_anchor) set_anchor(cur, cur_tid);
      return -2;
    }
    if (cur != g_anchor) CloseHandle(cur);
    cur = next;
    cur_tid = GetThreadId(cur);
    if (!cur_tid || known_thread(cur_tid) || cur_tid == GetCurrentThreadId()) continue;
    HANDLE h;
    if (!DuplicateHandle(GetCurrentProcess(), cur, GetCurrentProcess(), &h, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
      *err_out = GetLastError(); /* a thread that cannot be held: never write past it */
      set_anchor(cur, cur_tid);
      return -1;
    }
    int r = add_thread(h, cur_tid, 1);
    if (r <= 0) CloseHandle(h);
    if (r < 0) {
      *err_out = 0;
      set_anchor(cur, cur_tid);
      return -1;
    }
    added += r;
  }
  if (cur != g_anchor) set_anchor(cur, cur_tid);
  return added;
}

/* Outside the pause: learns the target's threads (handles, stack tops). */
static int learn_threads(DWORD *err_out) { return walk_threads(0, err_out) >= 0; }

/* What a hold's context reads ask for: swap needs only RIP and RSP (CONTEXT_CONTROL); `suspend`
 * and the release check at commit also look at the integer registers. */
static DWORD g_ctx_flags = CONTEXT_CONTROL | CONTEXT_INTEGER;
/* The hold's bound (hold-reader.h): `hold=MS` on suspend and swap, else the default. */
static DWORD g_hold_limit_ms = HOLD_LIMIT_DEFAULT_MS;
/* The last hold gave up on a thread that did not stop (LIVE_HOLD_STUCK; the hold's *bad_tid names
 * it, 0 when MAX_ABANDONED earlier readers still wait), and how long it waited. */
static int g_hold_stuck;
static double g_stuck_ms;

/*
 * Reads the contexts of the held threads from..g_nthr-1 into g_ctx on the reader thread, for what
 * is left of the hold limit. A thread that has exited meanwhile is let go (held 0). 0 on failure:
 * *bad_tid names the thread, and g_hold_stuck says whether it was the bound.
 */
static int read_contexts(ContextReader *r, int from, DWORD *err_out, DWORD *bad_tid) {
  int n = 0;
  for (int i = from; i < g_nthr; i++)
    if (g_thr[i].held) r->h[n] = g_thr[i].h, r->at[n++] = i;
  if (n == 0) return 1;
  double waited_ms = paused_us() / 1000.0;
  DWORD left = waited_ms >= (double)g_hold_limit_ms ? 0 : g_hold_limit_ms - (DWORD)waited_ms;
  int stuck_at = 0;
  if (reader_run(r, n, g_ctx_flags, left, &stuck_at) < 0) {
    g_ctx = NULL; /* the abandoned reader's: it frees it */
    g_hold_stuck = 1;
    g_stuck_ms = paused_us() / 1000.0;
    *err_out = 0;
    *bad_tid = g_thr[stuck_at].tid;
    return 0;
  }
  for (int k = 0; k < r->n; k++) {
    int i = r->at[k];
    g_thr[i].ctx_us = r->us[k];
    if (r->res[k] == 2) {
      if (g_thr[i].held == 1) ResumeThread(g_thr[i].h);
      g_thr[i].held = 0;
    } else if (r->res[k] == 0) {
      *err_out = r->err[k];
      *bad_tid = g_thr[i].tid;
      return 0;
    }
  }
  return 1;
}

/*
 * Suspends every thread of the target and reads each context into g_ctx. The whole process
 * is suspended in one call (NtSuspendProcess: one wineserver round trip under Wine instead of
 * one per thread; each learnt thread then counts as held), else each learnt thread is
 * suspended. Once every held thread has really stopped (its context read), no thread of the
 * target runs, so a thread not known yet was created before that. It is looked for after the
 * anchor (one NtGetNextThread; see g_anchor), else in the system's list of the target's
 * threads (one NtQuerySystemInformation, measured at ~1 ms under Wine: it describes every
 * process and thread of the prefix), else by a walk; new threads are suspended and read, and the check
 * repeats until none is new. On failure, *bad_tid names a thread whose context could not be
 * read (0: the suspension itself).
 */
static LONG g_confirm_passes;
static const char *g_confirmed_by = "walk";
/* The hold in steps (µs, QueryPerformanceCounter inside the agent), reported by swap: the
 * suspension call, every context read (which waits until the thread has stopped), the thread
 * list; and the stack reads of the check (with their count). */
static double g_t_suspend_call, g_t_contexts, g_t_list, g_t_stacks;
static int g_stack_reads;
static int hold_threads(DWORD *err_out, DWORD *bad_tid);
/*
 * The hold. Outside a swap (which boosts its whole pause itself) the hold gets the same boost
 * (host-sched.h) for as long as it takes, then the values are put back with every thread held:
 * `suspend`, the release check at `commit` and a rollback hold the target too, and under Wine
 * each held thread costs two ptrace stops by the wineserver (its debug registers, read when the
 * thread reports its suspended context and written back when it resumes), each under the
 * server's watchdog. A stop that misses it leaves a thread the server no longer signals
 * (PROTOCOL.md, "A thread the server lost"): while the hold waits for contexts, the unstopper
 * sends such a thread its SIGUSR1 itself (host-ran.h).
 */
static int hold_all(DWORD *err_out, DWORD *bad_tid) {
  if (g_unix_pid == 0 && !g_io_server) target_unix_pid(); /* see hold_threads */
  int own_boost = g_nboosted == 0 && g_unix_pid > 0 && lx_boost(g_unix_pid) > 0;
  InterlockedExchange(&g_unstop_holding, 1); /* a thread the server lost gets its SIGUSR1 from the unstopper (host-ran.h) */
  int held = hold_threads(err_out, bad_tid);
  InterlockedExchange(&g_unstop_holding, 0);
  if (own_boost) lx_unboost();
  return held;
}

static int hold_threads(DWORD *err_out, DWORD *bad_tid) {
  g_hold_stuck = 0;
  if (g_abandoned >= MAX_ABANDONED) { /* earlier holds' readers still wait: no new one (hold-reader.h) */
    g_hold_stuck = 1;
    g_stuck_ms = 0;
    *err_out = 0;
    *bad_tid = 0;
    return 0;
  }
  ContextReader *r = reader_get();
  if (!r) {
    *err_out = ERROR_NOT_ENOUGH_MEMORY;
    *bad_tid = 0;
    return 0;
  }
  g_ctx = r->ctx;
  /* The pid is looked up before the first hold (hold_all; never during one: the lookup takes
   * turns of the target's threads), so that nothing read or written while threads are held goes
   * through the server's ptrace stop. */
  if (g_unix_pid > 0) lx_continue_stopped(g_unix_pid); /* a stop Wine lost (host-ran.h): no hold could complete */
  QueryPerformanceCounter(&g_t_suspend);
  g_suspended = 1;
  /* Never the whole process when it is the agent's own (it would stop the agent). */
  if (g_suspend_process && g_resume_process && g_pid != GetCurrentProcessId() && g_suspend_process(g_proc) >= 0) {
    g_process_held = 1;
    for (int i = 0; i < g_nthr; i++) g_thr[i].held = 2;
  } else
    for (int i = 0; i < g_nthr; i++) g_thr[i].held = SuspendThread(g_thr[i].h) != (DWORD)-1;
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  g_t_suspend_call = (double)(t.QuadPart - g_t_suspend.QuadPart) * 1e6 / (double)g_freq.QuadPart;
  g_t_contexts = g_t_list = 0;
  int from = 0;
  g_confirm_passes = 0;
  for (int pass = 0; pass < 16; pass++) {
    QueryPerformanceCounter(&t);
    if (!read_contexts(r, from, err_out, bad_tid)) return 0;
    g_t_contexts += us_since(&t);
    from = g_nthr;
    g_confirm_passes++;
    QueryPerformanceCounter(&t);
    int added = adopt_threads_after_anchor(err_out);
    g_confirmed_by = "anchor";
    if (added == -2) {
      added = adopt_listed_threads(err_out);
      g_confirmed_by = added == -2 ? "walk" : "list";
    }
    if (added == -2) added = walk_threads(1, err_out);
    g_t_list += us_since(&t);
    if (added < 0) {
      *bad_tid = 0;
      return 0;
    }
    if (added == 0) return 1;
  }
  *err_out = 0;
  *bad_tid = 0;
  return 0; /* threads keep appearing: refuse rather than write with one running */
}

/* `hold=MS`: the limit of this request's holds. */
static int parse_hold_limit(const char *v) {
  u64 ms;
  if (!parse_u64(v, &ms) || ms == 0 || ms > HOLD_LIMIT_MAX_MS) return 0;
  g_hold_limit_ms = (DWORD)ms;
  return 1;
}

/* The failure of a hold, for suspend and swap (every thread let go, nothing written). */
static int hold_failure(DWORD e, DWORD ctx_tid) {
  if (g_hold_stuck && ctx_tid)
    return fail("LIVE_HOLD_STUCK", 0, "thread %lu did not stop within the hold limit (%lu ms; waited %.0f ms): every thread was let go, nothing was written", (unsigned long)ctx_tid,
                (unsigned long)g_hold_limit_ms, g_stuck_ms);
  if (g_hold_stuck)
    return fail("LIVE_HOLD_STUCK", 0, "%ld earlier holds still wait for threads that did not stop: no hold until one of them has: nothing was written", (long)g_abandoned);
  if (ctx_tid) return fail("LIVE_SUSPEND_FAILED", e, "cannot read the context of thread %lu", (unsigned long)ctx_tid);
  return fail("LIVE_SUSPEND_FAILED", e, "cannot suspend the threads of process %lu", (unsigned long)g_pid);
}

/* learn_threads + hold_all, for callers that only need every thread stopped. */
static int suspend_all(DWORD *err_out) {
  DWORD bad = 0;
  return learn_threads(err_out) && hold_all(err_out, &bad);
}

/* ---------- modules and exports (read remotely: no code runs in the target) ---------- */

typedef struct {
  u64 base, size;
  char name[MAX_MODULE_NAME32 + 1];
  char path[MAX_PATH];
} ModuleInfo;

static HANDLE module_snapshot(void) {
  /* ERROR_BAD_LENGTH means the module list changed during the snapshot: retry, as documented. */
  for (int i = 0; i < 20; i++) {
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPMODULE | TH32CS_SNAPMODULE32, g_pid);
    if (snap != INVALID_HANDLE_VALUE) return snap;
    if (GetLastError() != ERROR_BAD_LENGTH) break;
    Sleep(1);
  }
  return INVALID_HANDLE_VALUE;
}

/*
 * The target's loaded modules. With the kernel path (lx_fast_io), read from the target's
 * loader list (PEB->Ldr->InLoadOrderModuleList) through rpm: Wine serves a Toolhelp module
 * snapshot of another process in the wineserver with one ptrace stop of a target thread per
 * read (dozens per snapshot, seen with strace on the server), each exposed to the lost stop
 * (PROTOCOL.md, "Memory I/O under Wine"). Else, or when the list cannot be read whole (the loader
 * changing it, or more than MAX_PEB_MODULES entries), the Toolhelp snapshot. Returns the count
 * (up to `cap`), or -1 with *err_out.
 */
#define MAX_PEB_MODULES 4096
typedef LONG(NTAPI *NtQueryInformationProcessFn)(HANDLE process, ULONG cls, PVOID info, ULONG len, PULONG ret);
static NtQueryInformationProcessFn g_query_process;

/* One LDR_DATA_TABLE_ENTRY (x64) UNICODE_STRING at `at` of `e`, as an ANSI string (Toolhelp's
 * conversion). 0 when unreadable or too long. */
static int peb_string(const unsigned char *e, size_t at, char *out, size_t cap) {
  uint16_t len;
  u64 buf;
  memcpy(&len, e + at, 2);
  memcpy(&buf, e + at + 8, 8);
  static WCHAR w[MAX_PATH + 1];
  if (len % 2 || len / 2 > MAX_PATH || (len && !rpm(buf, w, len))) return 0;
  w[len / 2] = 0;
  int n = WideCharToMultiByte(CP_ACP, 0, w, -1, out, (int)cap, NULL, NULL);
  return n > 0;
}

static int modules_from_peb(ModuleInfo *out, int cap) {
  unsigned char pbi[48];
  u64 peb, ldr, head, link;
  if (!g_query_process || g_query_process(g_proc, 0 /* ProcessBasicInformation */, pbi, sizeof pbi, NULL) < 0) return -1;
  memcpy(&peb, pbi + 8, 8);
  if (!peb || !rpm(peb + 0x18, &ldr, 8) || !ldr) return -1;
  head = ldr + 0x10;
  if (!rpm(head, &link, 8)) return -1;
  int n = 0;
  for (int seen = 0; link != head; seen++) {
    unsigned char e[0x68];
    if (seen >= MAX_PEB_MODULES || !link || !rpm(link, e, sizeof e)) return -1;
    if (n < cap) {
      ModuleInfo *mi = &out[n];
      DWORD size;
      memcpy(&mi->base, e + 0x30, 8);
      memcpy(&size, e + 0x40, 4);
      mi->size = size;
      if (!peb_string(e, 0x58, mi->name, sizeof mi->name) || !peb_string(e, 0x48, mi->path, sizeof mi->path)) return -1;
    }
    n++;
    memcpy(&link, e, 8);
  }
  return n < cap ? n : cap;
}

static int list_modules(ModuleInfo *out, int cap, DWORD *err_out) {
  if (lx_fast_io()) {
    int n = modules_from_peb(out, cap);
    if (n >= 0) return n;
  }
  HANDLE snap = module_snapshot();
  if (snap == INVALID_HANDLE_VALUE) {
    *err_out = GetLastError();
    return -1;
  }
  MODULEENTRY32 me;
  me.dwSize = sizeof me;
  int n = 0;
  for (BOOL more = Module32First(snap, &me); more && n < cap; more = Module32Next(snap, &me), n++) {
    out[n].base = (u64)(uintptr_t)me.modBaseAddr;
    out[n].size = me.modBaseSize;
    lstrcpynA(out[n].name, me.szModule, sizeof out[n].name);
    lstrcpynA(out[n].path, me.szExePath, sizeof out[n].path);
  }
  CloseHandle(snap);
  return n;
}

/* The target's module list in g_modules (grown as a list fills it, up to MAX_PEB_MODULES):
 * the count, or -1 with *err_out (ERROR_NOT_ENOUGH_MEMORY when it cannot grow). */
static ModuleInfo *g_modules;
static int g_modules_cap;
static int read_modules(DWORD *err_out) {
  for (;;) {
    if (!g_modules) {
      if (!(g_modules = (ModuleInfo *)malloc(sizeof(ModuleInfo) * 64))) {
        *err_out = ERROR_NOT_ENOUGH_MEMORY;
        return -1;
      }
      g_modules_cap = 64;
    }
    int n = list_modules(g_modules, g_modules_cap, err_out);
    if (n < g_modules_cap || g_modules_cap >= MAX_PEB_MODULES) return n;
    ModuleInfo *m = (ModuleInfo *)realloc(g_modules, sizeof(ModuleInfo) * (size_t)g_modules_cap * 4);
    if (!m) return n; /* the first g_modules_cap entries */
    g_modules = m, g_modules_cap *= 4;
  }
}

static int find_module(const char *name, ModuleInfo *mi, DWORD *err_out) {
  int n = read_modules(err_out);
  for (int i = 0; i < n; i++)
    if (_stricmp(g_modules[i].name, name) == 0) {
      *mi = g_modules[i];
      return 1;
    }
  return n < 0 ? -1 : 0;
}

/* Finds an export by name (or "#ordinal") in a module of the target, following forwarders. */
static int resolve_export(const char *module, const char *sym, int depth, u64 *out) {
  if (depth > 8) return fail("LIVE_EXPORT_NOT_FOUND", 0, "forwarder chain too long resolving %s!%s", module, sym);
  ModuleInfo mi;
  DWORD e = 0;
  int r = find_module(module, &mi, &e);
  if (r < 0) return fail("LIVE_SNAPSHOT_FAILED", e, "cannot list the modules of process %lu", (unsigned long)g_pid);
  if (r == 0) return fail("LIVE_MODULE_NOT_FOUND", 0, "module %s is not loaded in process %lu", module, (unsigned long)g_pid);
  IMAGE_DOS_HEADER dos;
  IMAGE_NT_HEADERS64 nt;
  if (!rpm(mi.base, &dos, sizeof dos) || dos.e_magic != IMAGE_DOS_SIGNATURE ||
      !rpm(mi.base + (u64)(DWORD)dos.e_lfanew, &nt, sizeof nt) || nt.Signature != IMAGE_NT_SIGNATURE ||
      nt.OptionalHeader.Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC)
    return fail("LIVE_BAD_MODULE", 0, "module %s in process %lu has no readable PE32+ headers", module, (unsigned long)g_pid);
  IMAGE_DATA_DIRECTORY dd = nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
  if (dd.VirtualAddress == 0 || dd.Size < sizeof(IMAGE_EXPORT_DIRECTORY) || dd.Size > MAX_IO)
    return fail("LIVE_EXPORT_NOT_FOUND", 0, "module %s has no export table", module);
  /* One read of the whole export directory: names and the tables usually sit inside it. */
  unsigned char *dir = (unsigned char *)malloc(dd.Size);
  if (!dir || !rpm(mi.base + dd.VirtualAddress, dir, dd.Size)) {
    free(dir);
    return fail("LIVE_READ_FAILED", GetLastError(), "cannot read the export table of %s", module);
  }
  IMAGE_EXPORT_DIRECTORY ed;
  memcpy(&ed, dir, sizeof ed);
  DWORD lo = dd.VirtualAddress, hi = dd.VirtualAddress + dd.Size;
#define RD32(rva, dst)                                                                         \
  ((rva) >= lo && (u64)(rva) + 4 <= hi ? (memcpy(&(dst), dir + ((rva)-lo), 4), 1)             \
                                       : rpm(mi.base + (rva), &(dst), 4))
#define RD16(rva, dst)                                                                         \
  ((rva) >= lo && (u64)(rva) + 2 <= hi ? (memcpy(&(dst), dir + ((rva)-lo), 2), 1)             \
                                       : rpm(mi.base + (rva), &(dst), 2))
  long index = -1;
  if (sym[0] == '#') {
    u64 ord;
    if (parse_u64(sym + 1, &ord) && ord >= ed.Base && ord - ed.Base < ed.NumberOfFunctions) index = (long)(ord - ed.Base);
  } else {
    size_t want = strlen(sym);
    char name[256];
    for (DWORD i = 0; i < ed.NumberOfNames && index < 0; i++) {
      DWORD nrva = 0;
      WORD ordi = 0;
      if (!RD32(ed.AddressOfNames + 4 * i, nrva)) break;
      if (want >= sizeof name) break;
      if (nrva >= lo && (u64)nrva + want + 1 <= hi) {
        memcpy(name, dir + (nrva - lo), want + 1);
      } else if (!rpm(mi.base + nrva, name, want + 1)) {
        continue;
      }
      if (memcmp(name, sym, want + 1) != 0) continue;
      if (RD16(ed.AddressOfNameOrdinals + 2 * i, ordi) && ordi < ed.NumberOfFunctions) index = ordi;
    }
  }
  DWORD frva = 0;
  if (index < 0 || !RD32(ed.AddressOfFunctions + 4 * (DWORD)index, frva) || frva == 0) {
    free(dir);
    return fail("LIVE_EXPORT_NOT_FOUND", 0, "%s does not export %s", module, sym);
  }
  if (frva >= lo && frva < hi) {
    /* A forwarder: "OTHERDLL.Name" or "OTHERDLL.#12". */
    char fwd[300];
    size_t k = 0;
    while (k + 1 < sizeof fwd && frva + k < hi && dir[frva - lo + k]) {
      fwd[k] = (char)dir[frva - lo + k];
      k++;
    }
    fwd[k] = 0;
    free(dir);
    char *dot = strrchr(fwd, '.');
    if (!dot) return fail("LIVE_EXPORT_NOT_FOUND", 0, "%s!%s is a malformed forwarder", module, sym);
    *dot = 0;
    char dll[300];
    snprintf(dll, sizeof dll, "%s.dll", fwd);
    return resolve_export(dll, dot + 1, depth + 1, out);
  }
  free(dir);
  *out = mi.base + frva;
  return 1;
#undef RD32
#undef RD16
}

/* ---------- allocation near an address range ---------- */

static u64 g_gran = 0x10000;

static int try_alloc(u64 at, u64 size, DWORD prot, u64 *out) {
  void *p = VirtualAllocEx(g_proc, (LPVOID)(uintptr_t)at, (SIZE_T)size, MEM_RESERVE | MEM_COMMIT, prot);
  if (!p) return 0;
  if ((u64)(uintptr_t)p != at) { /* never accept "somewhere else" */
    VirtualFreeEx(g_proc, p, 0, MEM_RELEASE);
    return 0;
  }
  *out = at;
  return 1;
}

static void clamp_window(u64 *lo, u64 *hi) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  g_gran = si.dwAllocationGranularity ? si.dwAllocationGranularity : 0x10000;
  u64 minapp = (u64)(uintptr_t)si.lpMinimumApplicationAddress, maxapp = (u64)(uintptr_t)si.lpMaximumApplicationAddress;
  if (*lo < minapp) *lo = minapp;
  if (*hi > maxapp + 1) *hi = maxapp + 1;
}

/* Lowest granularity-aligned free hole of `size` bytes starting at or above `from`, ending by `hi`. */
static int hole_up(u64 from, u64 hi, u64 size, u64 *out) {
  MEMORY_BASIC_INFORMATION mbi;
  for (u64 at = (from + g_gran - 1) & ~(g_gran - 1); at < hi && size <= hi - at;) {
    if (VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)at, &mbi, sizeof mbi) == 0) return 0;
    u64 re = (u64)(uintptr_t)mbi.BaseAddress + mbi.RegionSize;
    if (re <= at) return 0;
    if (mbi.State == MEM_FREE) {
      u64 c = (at + g_gran - 1) & ~(g_gran - 1);
      if (c + size <= re && c + size <= hi) {
        *out = c;
        return 1;
      }
    }
    at = re;
  }
  return 0;
}

/*
 * Highest granularity-aligned free hole of `size` bytes ending at or below `top`, starting at
 * or above `lo`. It probes candidate addresses and looks *upward* from each: for free memory
 * Wine's VirtualQueryEx reports the queried page as the base (not the start of the free
 * run), so only the extent above a queried address is reliable.
 */
static int hole_down(u64 top, u64 lo, u64 size, u64 *out) {
  MEMORY_BASIC_INFORMATION mbi;
  while (top > lo && top - lo >= size) {
    u64 c = (top - size) & ~(g_gran - 1);
    if (c < lo) return 0;
    if (VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)c, &mbi, sizeof mbi) == 0) return 0;
    u64 rb = (u64)(uintptr_t)mbi.BaseAddress, re = rb + mbi.RegionSize;
    if (mbi.State == MEM_FREE) {
      if (re >= c + size) {
        *out = c;
        return 1;
      }
      top = re; /* free from c up to re only: the next candidate must end by re */
    } else {
      u64 ab = (u64)(uintptr_t)mbi.AllocationBase;
      top = ab != 0 && ab < rb ? ab : rb; /* below the whole allocation in the way */
    }
    if (top > c + size) return 0; /* no progress: cannot happen, but never loop */
  }
  return 0;
}

static u64 page_round(u64 n) { return (n + 0xfff) & ~(u64)0xfff; }

/*
 * Allocates the free hole nearest to the middle of [lo, hi) (the driver centres the window
 * on the image, so every rel32 from the image reaches the result). A hole can be taken by
 * the target between the query and the allocation, so a failed attempt moves on.
 */
static int alloc_window(u64 lo, u64 hi, u64 size, DWORD prot, u64 *out) {
  clamp_window(&lo, &hi);
  size = page_round(size);
  if (hi <= lo || size == 0 || size > hi - lo) return 0;
  u64 mid = lo + (hi - lo) / 2, up = mid, down = mid;
  int up_done = 0, down_done = 0;
  while (!up_done || !down_done) {
    u64 cu = 0, cd = 0;
    if (!up_done && !hole_up(up, hi, size, &cu)) up_done = 1;
    if (!down_done && !hole_down(down, lo, size, &cd)) down_done = 1;
    if (up_done && down_done) break;
    int pick_up = !up_done && (down_done || cu - mid <= mid - cd);
    if (pick_up) {
      if (try_alloc(cu, size, prot, out)) return 1;
      up = cu + g_gran;
    } else {
      if (try_alloc(cd, size, prot, out)) return 1;
      down = cd;
    }
  }
  return 0;
}

/* ---------- remote calls (for RtlAddFunctionTable and friends) ---------- */

/*
 * A 4-argument call in the target: CreateRemoteThread passes only one pointer, so a tiny stub
 * loads the arguments from a block [fn, a1, a2, a3, a4, result] and stores the full 64-bit
 * return value back into it (a thread exit code would keep only 32 bits).
 */
static const unsigned char CALL_STUB[] = {
    0x48, 0x83, 0xEC, 0x38,       /* sub rsp, 0x38          */
    0x48, 0x89, 0x4C, 0x24, 0x30, /* mov [rsp+0x30], rcx    */
    0x48, 0x89, 0xC8,             /* mov rax, rcx           */
    0x4C, 0x8B, 0x48, 0x20,       /* mov r9,  [rax+0x20]    */
    0x4C, 0x8B, 0x40, 0x18,       /* mov r8,  [rax+0x18]    */
    0x48, 0x8B, 0x50, 0x10,       /* mov rdx, [rax+0x10]    */
    0x48, 0x8B, 0x48, 0x08,       /* mov rcx, [rax+0x08]    */
    0xFF, 0x10,                   /* call [rax]             */
    0x48, 0x8B, 0x4C, 0x24, 0x30, /* mov rcx, [rsp+0x30]    */
    0x48, 0x89, 0x41, 0x28,       /* mov [rcx+0x28], rax    */
    0x31, 0xC0,                   /* xor eax, eax           */
    0x48, 0x83, 0xC4, 0x38,       /* add rsp, 0x38          */
    0xC3,                         /* ret                    */
};

static int remote_call(const u64 fn_args[5], u64 *result) {
  if (g_suspended)
    return fail("LIVE_BAD_REQUEST", 0, "call while the target's threads are suspended could deadlock on a lock they hold");
  void *page = VirtualAllocEx(g_proc, NULL, 4096, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
  if (!page) return fail("LIVE_ALLOC_FAILED", GetLastError(), "cannot allocate the call stub in process %lu", (unsigned long)g_pid);
  u64 base = (u64)(uintptr_t)page;
  u64 block[6] = {fn_args[0], fn_args[1], fn_args[2], fn_args[3], fn_args[4], 0};
  int okv = 0;
  if (!wpm(base, block, sizeof block) || !wpm(base + 64, CALL_STUB, sizeof CALL_STUB)) {
    fail("LIVE_WRITE_FAILED", GetLastError(), "cannot write the call stub in process %lu", (unsigned long)g_pid);
  } else {
    FlushInstructionCache(g_proc, (LPCVOID)(uintptr_t)(base + 64), sizeof CALL_STUB);
    HANDLE th = CreateRemoteThread(g_proc, NULL, 0, (LPTHREAD_START_ROUTINE)(uintptr_t)(base + 64), page, 0, NULL);
    if (!th) {
      fail("LIVE_CALL_FAILED", GetLastError(), "cannot start a thread in process %lu", (unsigned long)g_pid);
    } else {
      DWORD w = WaitForSingleObject(th, CALL_TIMEOUT_MS);
      CloseHandle(th);
      if (w != WAIT_OBJECT_0) {
        /* The stub page stays allocated: the thread may still run it. */
        return fail("LIVE_CALL_TIMEOUT", 0, "remote call to 0x%llx did not return within %d ms", (unsigned long long)fn_args[0], CALL_TIMEOUT_MS);
      }
      if (!rpm(base + 40, result, 8)) fail("LIVE_READ_FAILED", GetLastError(), "cannot read the call result");
      else okv = 1;
    }
  }
  VirtualFreeEx(g_proc, page, 0, MEM_RELEASE);
  return okv;
}

/* ---------- rollback ---------- */

/* Undoes the current transaction's steps in reverse order. Redirect sites are restored with
 * every thread suspended, since a running thread could fetch a half-restored instruction. */
static void rollback(void) {
  g_undo_failures = 0;
  /* The failed step's error is in g_out; undo calls below may print errors of their own. */
  size_t keep_len = g_out_len;
  char *keep = (char *)malloc(keep_len + 1);
  if (keep) memcpy(keep, g_out ? g_out : "", keep_len);
  if (!g_suspended && g_proc) {
    DWORD e;
    int has_writes = 0;
    for (size_t i = 0; i < g_nundo; i++)
      if (g_undo[i].kind == U_WRITE) has_writes = 1;
    if (has_writes && !suspend_all(&e)) forget_threads(); /* restore anyway: better than leaving it patched */
  }
  for (size_t i = g_nundo; i-- > 0;) {
    Undo *u = &g_undo[i];
    switch (u->kind) {
    case U_WRITE:
      if (!wpm(u->addr, u->orig, (size_t)u->size)) g_undo_failures++;
      FlushInstructionCache(g_proc, (LPCVOID)(uintptr_t)u->addr, (SIZE_T)u->size);
      break;
    case U_PROTECT: {
      DWORD old;
      if (!VirtualProtectEx(g_proc, (LPVOID)(uintptr_t)u->addr, (SIZE_T)u->size, u->prot, &old)) g_undo_failures++;
      break;
    }
    case U_ALLOC:
    case U_CALL:
      /* deferred: remote calls cannot run while threads are suspended, and an allocation is
       * freed only after them (below) */
      break;
    }
  }
  forget_threads();
  for (size_t i = g_nundo; i-- > 0;) {
    if (g_undo[i].kind != U_CALL) continue;
    u64 r;
    if (!remote_call(g_undo[i].call, &r)) g_undo_failures++;
  }
  /* Frees last: a function table registered in the region (RtlAddFunctionTable) is removed
   * first, or any unwind in the target (and RtlDeleteFunctionTable itself) would read freed
   * memory. Freeing before the deferred calls crashed the target after a refused live patch
   * (test/quiesce-live.test.ts: page fault reading region + 0x10 in the next round). */
  for (size_t i = g_nundo; i-- > 0;)
    if (g_undo[i].kind == U_ALLOC && !VirtualFreeEx(g_proc, (LPVOID)(uintptr_t)g_undo[i].addr, 0, MEM_RELEASE)) g_undo_failures++;
  g_out_len = 0;
  if (keep) {
    out_raw(keep, keep_len);
    free(keep);
  }
  undo_clear();
}

/* ---------- commands ---------- */

static char **g_tok;
static int g_ntok, g_captok;

static int tokenize(char *line) {
  g_ntok = 0;
  for (char *p = line; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    if (g_ntok == g_captok) {
      g_captok = g_captok ? g_captok * 2 : 32;
      g_tok = (char **)realloc(g_tok, (size_t)g_captok * sizeof(char *));
      if (!g_tok) ExitProcess(3);
    }
    g_tok[g_ntok++] = p;
    while (*p && *p != ' ' && *p != '\t') p++;
    if (*p) *p++ = 0;
  }
  return g_ntok;
}

static int arg_u64(int i, const char *what, u64 *v) {
  if (i >= g_ntok || !parse_u64(g_tok[i], v)) return fail("LIVE_BAD_REQUEST", 0, "%s: expected a number for %s", g_op, what);
  return 1;
}

static int cmd_open(void) {
  u64 pid;
  if (!arg_u64(1, "pid", &pid)) return 0;
  if (g_in_tx) return fail("LIVE_BAD_REQUEST", 0, "open inside a transaction");
  /* Suspending its own threads would stop the agent itself. */
  if ((DWORD)pid == GetCurrentProcessId()) return fail("LIVE_BAD_REQUEST", 0, "process %llu is the agent itself", (unsigned long long)pid);
  if (g_proc) CloseHandle(g_proc);
  g_proc = OpenProcess(PROCESS_VM_OPERATION | PROCESS_VM_READ | PROCESS_VM_WRITE | PROCESS_QUERY_INFORMATION |
                           PROCESS_SUSPEND_RESUME | PROCESS_CREATE_THREAD | SYNCHRONIZE,
                       FALSE, (DWORD)pid);
  if (!g_proc) return fail("LIVE_OPEN_FAILED", GetLastError(), "cannot open process %llu (no such process, or access denied)", (unsigned long long)pid);
  g_pid = (DWORD)pid;
  g_unix_pid = 0;
  DWORD code = 0;
  if (GetExitCodeProcess(g_proc, &code) && code != STILL_ACTIVE) {
    CloseHandle(g_proc);
    g_proc = NULL;
    return fail("LIVE_PROCESS_EXITED", 0, "process %llu has exited", (unsigned long long)pid);
  }
  BOOL wow = FALSE;
  if (IsWow64Process(g_proc, &wow) && wow) {
    CloseHandle(g_proc);
    g_proc = NULL;
    return fail("LIVE_UNSUPPORTED", 0, "process %llu is a 32-bit process; only x86-64 targets are supported", (unsigned long long)pid);
  }
  begin_ok();
  out_fmt(",\"pid\":%lu", (unsigned long)g_pid);
  return 1;
}

/* A name token: as is, or `hex:` + hex bytes for names with spaces (decoded in place). */
static int name_arg(int i) {
  if (i >= g_ntok) return 0;
  if (strncmp(g_tok[i], "hex:", 4) != 0) return 1;
  char *h = g_tok[i] + 4;
  long n = decode_hex(h);
  if (n <= 0 || n > MAX_MODULE_NAME32) return 0;
  for (long k = 0; k < n; k++)
    if (h[k] == 0) return 0;
  h[n] = 0;
  g_tok[i] = h;
  return 1;
}

static int cmd_module(void) {
  if (g_ntok < 2 || !name_arg(1)) return fail("LIVE_BAD_REQUEST", 0, "module: expected a module name (or hex:NAME)");
  if (!need_process()) return 0;
  ModuleInfo mi;
  DWORD e = 0;
  int r = find_module(g_tok[1], &mi, &e);
  if (r < 0) return fail("LIVE_SNAPSHOT_FAILED", e, "cannot list the modules of process %lu", (unsigned long)g_pid);
  if (r == 0) return fail("LIVE_MODULE_NOT_FOUND", 0, "module %s is not loaded in process %lu", g_tok[1], (unsigned long)g_pid);
  begin_ok();
  out_addr("base", mi.base);
  out_addr("size", mi.size);
  out_fmt(",\"name\":");
  out_jstr(mi.name);
  out_fmt(",\"path\":");
  out_jstr(mi.path);
  return 1;
}

static int cmd_modules(void) {
  if (!need_process()) return 0;
  DWORD e = 0;
  int n = read_modules(&e);
  if (n < 0 && e == ERROR_NOT_ENOUGH_MEMORY) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  if (n < 0) return fail("LIVE_SNAPSHOT_FAILED", e, "cannot list the modules of process %lu", (unsigned long)g_pid);
  begin_ok();
  out_fmt(",\"modules\":[");
  for (int i = 0; i < n; i++) {
    out_fmt("%s{\"name\":", i ? "," : "");
    out_jstr(g_modules[i].name);
    out_addr("base", g_modules[i].base);
    out_addr("size", g_modules[i].size);
    out_fmt("}");
  }
  out_fmt("]");
  return 1;
}

static int cmd_read(void) {
  u64 addr, len;
  if (!arg_u64(1, "address", &addr) || !arg_u64(2, "length", &len)) return 0;
  if (len > MAX_IO) return fail("LIVE_BAD_REQUEST", 0, "read of %llu bytes exceeds the %u-byte limit", (unsigned long long)len, MAX_IO);
  if (!need_process()) return 0;
  unsigned char *buf = (unsigned char *)malloc(len ? (size_t)len : 1);
  if (!buf) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  if (len && !rpm(addr, buf, (size_t)len)) {
    DWORD e = GetLastError();
    free(buf);
    return fail("LIVE_READ_FAILED", e, "cannot read %llu bytes at 0x%llx in process %lu", (unsigned long long)len, (unsigned long long)addr, (unsigned long)g_pid);
  }
  begin_ok();
  out_fmt(",\"bytes\":");
  out_hex(buf, (size_t)len);
  free(buf);
  return 1;
}

static int cmd_expect(void) {
  u64 addr;
  if (!arg_u64(1, "address", &addr)) return 0;
  if (g_ntok < 3) return fail("LIVE_BAD_REQUEST", 0, "expect: expected hex bytes");
  long n = decode_hex(g_tok[2]);
  if (n < 0) return fail("LIVE_BAD_REQUEST", 0, "expect: bytes are not even-length hex");
  if (!need_process()) return 0;
  unsigned char *buf = (unsigned char *)malloc(n ? (size_t)n : 1);
  if (!buf) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  if (n && !rpm(addr, buf, (size_t)n)) {
    DWORD e = GetLastError();
    free(buf);
    return fail("LIVE_READ_FAILED", e, "cannot read %ld bytes at 0x%llx in process %lu", n, (unsigned long long)addr, (unsigned long)g_pid);
  }
  for (long i = 0; i < n; i++) {
    if (buf[i] != (unsigned char)g_tok[2][i]) {
      int got = buf[i], want = (unsigned char)g_tok[2][i];
      free(buf);
      fail("LIVE_BYTES_MISMATCH", 0, "byte at 0x%llx is 0x%02x, expected 0x%02x: the target is not in the state the plan was made for",
           (unsigned long long)(addr + (u64)i), got, want);
      out_addr("at", addr + (u64)i);
      return 0;
    }
  }
  free(buf);
  begin_ok();
  return 1;
}

static int writable(DWORD prot) {
  prot &= 0xff;
  return prot == PAGE_READWRITE || prot == PAGE_WRITECOPY || prot == PAGE_EXECUTE_READWRITE || prot == PAGE_EXECUTE_WRITECOPY;
}

/* Writes must not change protections behind the plan's back (WriteProcessMemory would make an
 * image page writable on its own), so every page in the range must already be writable. */
static int check_writable(u64 addr, u64 n) {
  MEMORY_BASIC_INFORMATION mbi;
  for (u64 at = addr; at < addr + n;) {
    if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)at, &mbi, sizeof mbi) || mbi.State != MEM_COMMIT)
      return fail("LIVE_NOT_WRITABLE", 0, "0x%llx is not committed memory", (unsigned long long)at);
    if (!writable(mbi.Protect) || (mbi.Protect & PAGE_GUARD))
      return fail("LIVE_NOT_WRITABLE", 0, "page at 0x%llx has protection 0x%lx, not writable", (unsigned long long)at, (unsigned long)mbi.Protect);
    u64 end = (u64)(uintptr_t)mbi.BaseAddress + mbi.RegionSize;
    if (end <= at) break;
    at = end;
  }
  return 1;
}

/* Writes `n` bytes; the original bytes go into *orig_out (caller frees) and, inside a
 * transaction, into the undo log. */
static int logged_write(u64 addr, const unsigned char *bytes, long n, unsigned char **orig_out) {
  if (!check_writable(addr, (u64)n)) return 0;
  unsigned char *orig = (unsigned char *)malloc((size_t)n);
  if (!orig) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  if (!rpm(addr, orig, (size_t)n)) {
    DWORD e = GetLastError();
    free(orig);
    return fail("LIVE_READ_FAILED", e, "cannot read the %ld original bytes at 0x%llx", n, (unsigned long long)addr);
  }
  if (!wpm(addr, bytes, (size_t)n)) {
    DWORD e = GetLastError();
    free(orig);
    return fail("LIVE_WRITE_FAILED", e, "cannot write %ld bytes at 0x%llx in process %lu", n, (unsigned long long)addr, (unsigned long)g_pid);
  }
  if (g_in_tx) {
    Undo u = {0};
    u.kind = U_WRITE;
    u.addr = addr;
    u.size = (u64)n;
    u.orig = (unsigned char *)malloc((size_t)n);
    if (!u.orig) ExitProcess(3);
    memcpy(u.orig, orig, (size_t)n);
    undo_push(u);
  }
  *orig_out = orig;
  return 1;
}

/* redirect ADDR EXPECTED BYTES: compare, then write, in one request (no gap between the two). */
static int cmd_redirect(void) {
  u64 addr;
  if (!arg_u64(1, "address", &addr)) return 0;
  if (g_ntok < 4) return fail("LIVE_BAD_REQUEST", 0, "redirect: expected ADDR EXPECTED BYTES");
  long ne = decode_hex(g_tok[2]), nb = decode_hex(g_tok[3]);
  if (ne < 0 || nb < 0 || ne != nb || nb == 0 || nb > 64) return fail("LIVE_BAD_REQUEST", 0, "redirect: expected and new bytes must be equal-length hex (1-64 bytes)");
  if (!need_process()) return 0;
  unsigned char cur[64];
  if (!rpm(addr, cur, (size_t)nb)) return fail("LIVE_READ_FAILED", GetLastError(), "cannot read the redirect site 0x%llx", (unsigned long long)addr);
  for (long i = 0; i < nb; i++)
    if (cur[i] != (unsigned char)g_tok[2][i]) {
      fail("LIVE_BYTES_MISMATCH", 0, "byte at 0x%llx is 0x%02x, expected 0x%02x: the target is not in the state the plan was made for",
           (unsigned long long)(addr + (u64)i), cur[i], (unsigned char)g_tok[2][i]);
      out_addr("at", addr + (u64)i);
      return 0;
    }
  unsigned char *orig;
  if (!logged_write(addr, (const unsigned char *)g_tok[3], nb, &orig)) return 0;
  free(orig);
  begin_ok();
  return 1;
}

static int cmd_write(void) {
  u64 addr;
  if (!arg_u64(1, "address", &addr)) return 0;
  if (g_ntok < 3) return fail("LIVE_BAD_REQUEST", 0, "write: expected hex bytes");
  long n = decode_hex(g_tok[2]);
  if (n < 0) return fail("LIVE_BAD_REQUEST", 0, "write: bytes are not even-length hex");
  if (!need_process()) return 0;
  if (n == 0) {
    begin_ok();
    out_fmt(",\"previous\":\"\"");
    return 1;
  }
  unsigned char *orig;
  if (!logged_write(addr, (const unsigned char *)g_tok[2], n, &orig)) return 0;
  begin_ok();
  out_fmt(",\"previous\":");
  out_hex(orig, (size_t)n);
  free(orig);
  return 1;
}

typedef struct {
  u64 addr, size;
  DWORD prot, state;
} Run;

/* Runs of equal protection over the pages of [addr, addr+size); NULL on a failed query. */
static Run *collect_runs(u64 addr, u64 size, int *count) {
  MEMORY_BASIC_INFORMATION mbi;
  int n = 0, cap = 8;
  Run *runs = (Run *)malloc(sizeof(Run) * (size_t)cap);
  if (!runs) return NULL;
  u64 end = (addr + size + 0xfff) & ~(u64)0xfff;
  for (u64 at = addr & ~(u64)0xfff; at < end;) {
    if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)at, &mbi, sizeof mbi)) {
      free(runs);
      return NULL;
    }
    u64 re = (u64)(uintptr_t)mbi.BaseAddress + mbi.RegionSize;
    if (re <= at) break;
    if (n == cap) {
      cap *= 2;
      Run *r2 = (Run *)realloc(runs, sizeof(Run) * (size_t)cap);
      if (!r2) {
        free(runs);
        return NULL;
      }
      runs = r2;
    }
    runs[n].addr = at;
    runs[n].size = (re < end ? re : end) - at;
    runs[n].prot = mbi.State == MEM_COMMIT ? mbi.Protect : 0;
    runs[n].state = mbi.State;
    n++;
    at = re;
  }
  *count = n;
  return runs;
}

static void out_runs(const char *key, const Run *runs, int n) {
  out_fmt(",\"%s\":[", key);
  for (int i = 0; i < n; i++)
    out_fmt("%s{\"address\":\"0x%llx\",\"size\":%llu,\"protection\":%lu,\"state\":\"%s\"}", i ? "," : "", (unsigned long long)runs[i].addr,
            (unsigned long long)runs[i].size, (unsigned long)runs[i].prot,
            runs[i].state == MEM_FREE ? "free" : runs[i].state == MEM_RESERVE ? "reserve" : "commit");
  out_fmt("]");
}

static int cmd_protections(void) {
  u64 addr, size;
  if (!arg_u64(1, "address", &addr) || !arg_u64(2, "size", &size)) return 0;
  if (!need_process()) return 0;
  int n = 0;
  Run *runs = collect_runs(addr, size, &n);
  if (!runs) return fail("LIVE_QUERY_FAILED", GetLastError(), "cannot query 0x%llx", (unsigned long long)addr);
  begin_ok();
  out_runs("runs", runs, n);
  free(runs);
  return 1;
}

static int cmd_protect(void) {
  u64 addr, size, prot;
  if (!arg_u64(1, "address", &addr) || !arg_u64(2, "size", &size) || !arg_u64(3, "protection", &prot)) return 0;
  if (!need_process()) return 0;
  /* The previous protection of every page run, for an exact undo (VirtualProtectEx reports
   * only the first page's). */
  int n = 0;
  Run *runs = collect_runs(addr, size, &n);
  if (!runs) return fail("LIVE_QUERY_FAILED", GetLastError(), "cannot query 0x%llx", (unsigned long long)addr);
  for (int i = 0; i < n; i++)
    if (runs[i].state != MEM_COMMIT) {
      u64 at = runs[i].addr;
      free(runs);
      return fail("LIVE_PROTECT_FAILED", 0, "0x%llx is not committed memory", (unsigned long long)at);
    }
  DWORD old = 0;
  if (!VirtualProtectEx(g_proc, (LPVOID)(uintptr_t)addr, (SIZE_T)size, (DWORD)prot, &old)) {
    free(runs);
    return fail("LIVE_PROTECT_FAILED", GetLastError(), "cannot set protection 0x%llx on 0x%llx+0x%llx", (unsigned long long)prot,
                (unsigned long long)addr, (unsigned long long)size);
  }
  if (g_in_tx)
    for (int i = 0; i < n; i++) {
      Undo u = {0};
      u.kind = U_PROTECT;
      u.addr = runs[i].addr;
      u.size = runs[i].size;
      u.prot = runs[i].prot;
      undo_push(u);
    }
  begin_ok();
  out_runs("previous", runs, n);
  free(runs);
  return 1;
}

static int cmd_flush(void) {
  u64 addr, size;
  if (!arg_u64(1, "address", &addr) || !arg_u64(2, "size", &size)) return 0;
  if (!need_process()) return 0;
  if (!FlushInstructionCache(g_proc, (LPCVOID)(uintptr_t)addr, (SIZE_T)size))
    return fail("LIVE_FLUSH_FAILED", GetLastError(), "cannot flush the instruction cache at 0x%llx", (unsigned long long)addr);
  begin_ok();
  return 1;
}

static int cmd_alloc(void) {
  u64 lo, hi, size, prot;
  if (!arg_u64(1, "low bound", &lo) || !arg_u64(2, "high bound", &hi) || !arg_u64(3, "size", &size) || !arg_u64(4, "protection", &prot))
    return 0;
  if (!need_process()) return 0;
  u64 at = 0;
  if (!alloc_window(lo, hi, size, (DWORD)prot, &at))
    return fail("LIVE_ALLOC_FAILED", 0, "no free 0x%llx-byte region in [0x%llx, 0x%llx) of process %lu", (unsigned long long)size,
                (unsigned long long)lo, (unsigned long long)hi, (unsigned long)g_pid);
  if (g_in_tx) {
    Undo u = {0};
    u.kind = U_ALLOC;
    u.addr = at;
    u.size = size;
    undo_push(u);
  }
  begin_ok();
  out_addr("address", at);
  out_addr("size", size);
  return 1;
}

/* alloc-at ADDR SIZE PROT: exactly there (the planner chose the address with find-free). */
static int cmd_alloc_at(void) {
  u64 at, size, prot;
  if (!arg_u64(1, "address", &at) || !arg_u64(2, "size", &size) || !arg_u64(3, "protection", &prot)) return 0;
  if (!need_process()) return 0;
  /* Re-allocating a region whose free is still deferred in this transaction (the undo of a
   * free): the region was never released, so taking back the deferral restores it. */
  for (size_t i = 0; i < g_nfree; i++)
    if (g_deferred_free[i] == at) {
      g_deferred_free[i] = g_deferred_free[--g_nfree];
      begin_ok();
      out_addr("address", at);
      out_fmt(",\"undeferred\":true");
      return 1;
    }
  u64 got;
  if ((at & (g_gran - 1)) != 0 || !try_alloc(at, size, (DWORD)prot, &got))
    return fail("LIVE_ALLOC_FAILED", GetLastError(), "cannot allocate 0x%llx bytes at 0x%llx in process %lu", (unsigned long long)size,
                (unsigned long long)at, (unsigned long)g_pid);
  if (g_in_tx) {
    Undo u = {0};
    u.kind = U_ALLOC;
    u.addr = at;
    u.size = size;
    undo_push(u);
  }
  begin_ok();
  out_addr("address", at);
  return 1;
}

/* find-free LO HI SIZE FROM: first fit upward from FROM, then downward from FROM (no allocation). */
static int cmd_find_free(void) {
  u64 lo, hi, size, from;
  if (!arg_u64(1, "low bound", &lo) || !arg_u64(2, "high bound", &hi) || !arg_u64(3, "size", &size) || !arg_u64(4, "start", &from)) return 0;
  if (!need_process()) return 0;
  clamp_window(&lo, &hi);
  size = page_round(size);
  u64 at = 0;
  if (size == 0 || hi <= lo || !(hole_up(from < lo ? lo : from, hi, size, &at) || hole_down(from > hi ? hi : from, lo, size, &at)))
    return fail("LIVE_NO_REGION", 0, "no free 0x%llx-byte region in [0x%llx, 0x%llx) of process %lu", (unsigned long long)size, (unsigned long long)lo,
                (unsigned long long)hi, (unsigned long)g_pid);
  begin_ok();
  out_addr("address", at);
  return 1;
}

static int cmd_free(void) {
  u64 addr;
  if (!arg_u64(1, "address", &addr)) return 0;
  if (!need_process()) return 0;
  MEMORY_BASIC_INFORMATION mbi;
  if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)addr, &mbi, sizeof mbi) || mbi.State == MEM_FREE ||
      (u64)(uintptr_t)mbi.AllocationBase != addr || mbi.Type != MEM_PRIVATE)
    return fail("LIVE_BAD_REQUEST", 0, "0x%llx is not the base of a private allocation", (unsigned long long)addr);
  if (g_in_tx) {
    /* A free cannot be undone (its contents would be gone), so it happens at commit. */
    if (g_nfree == g_capfree) {
      g_capfree = g_capfree ? g_capfree * 2 : 16;
      g_deferred_free = (u64 *)realloc(g_deferred_free, g_capfree * sizeof(u64));
      if (!g_deferred_free) ExitProcess(3);
    }
    g_deferred_free[g_nfree++] = addr;
    begin_ok();
    out_fmt(",\"deferred\":true");
    return 1;
  }
  if (!VirtualFreeEx(g_proc, (LPVOID)(uintptr_t)addr, 0, MEM_RELEASE))
    return fail("LIVE_FREE_FAILED", GetLastError(), "cannot free 0x%llx", (unsigned long long)addr);
  begin_ok();
  return 1;
}

static int cmd_query(void) {
  u64 addr;
  if (!arg_u64(1, "address", &addr)) return 0;
  if (!need_process()) return 0;
  MEMORY_BASIC_INFORMATION mbi;
  if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)addr, &mbi, sizeof mbi))
    return fail("LIVE_QUERY_FAILED", GetLastError(), "cannot query 0x%llx", (unsigned long long)addr);
  begin_ok();
  out_addr("base", (u64)(uintptr_t)mbi.BaseAddress);
  out_addr("allocationBase", (u64)(uintptr_t)mbi.AllocationBase);
  out_addr("size", (u64)mbi.RegionSize);
  out_fmt(",\"state\":\"%s\"", mbi.State == MEM_FREE ? "free" : mbi.State == MEM_RESERVE ? "reserve" : "commit");
  out_fmt(",\"protect\":\"0x%lx\",\"type\":\"%s\"", (unsigned long)mbi.Protect,
          mbi.Type == MEM_IMAGE ? "image" : mbi.Type == MEM_MAPPED ? "mapped" : mbi.Type == MEM_PRIVATE ? "private" : "none");
  return 1;
}

/* Private committed regions in [lo, hi) whose first bytes equal the marker: how a later
 * `hotpatch revert` finds the state record a `hotpatch live` left in the target. */
static int cmd_find_marker(void) {
  u64 lo, hi;
  if (!arg_u64(1, "low bound", &lo) || !arg_u64(2, "high bound", &hi)) return 0;
  if (g_ntok < 4) return fail("LIVE_BAD_REQUEST", 0, "find-marker: expected marker hex");
  long n = decode_hex(g_tok[3]);
  if (n <= 0 || n > 256) return fail("LIVE_BAD_REQUEST", 0, "find-marker: marker must be 1-256 bytes of hex");
  if (!need_process()) return 0;
  begin_ok();
  out_fmt(",\"regions\":[");
  int first = 1;
  unsigned char buf[256];
  MEMORY_BASIC_INFORMATION mbi;
  for (u64 at = lo; at < hi;) {
    if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)at, &mbi, sizeof mbi)) break;
    u64 rb = (u64)(uintptr_t)mbi.BaseAddress, re = rb + mbi.RegionSize;
    if (re <= at) break;
    if (mbi.State == MEM_COMMIT && mbi.Type == MEM_PRIVATE && rb == (u64)(uintptr_t)mbi.AllocationBase &&
        !(mbi.Protect & (PAGE_NOACCESS | PAGE_GUARD)) && rpm(rb, buf, (size_t)n) && memcmp(buf, g_tok[3], (size_t)n) == 0) {
      out_fmt("%s\"0x%llx\"", first ? "" : ",", (unsigned long long)rb);
      first = 0;
    }
    at = re;
  }
  out_fmt("]");
  return 1;
}

static int cmd_proc(void) {
  if (g_ntok < 3 || !name_arg(1)) return fail("LIVE_BAD_REQUEST", 0, "proc: expected MODULE SYMBOL");
  if (!need_process()) return 0;
  u64 addr;
  if (!resolve_export(g_tok[1], g_tok[2], 0, &addr)) return 0;
  begin_ok();
  out_addr("address", addr);
  return 1;
}

static int cmd_call(void) {
  u64 a[5], undo[5];
  for (int i = 0; i < 5; i++)
    if (!arg_u64(1 + i, i == 0 ? "function" : "argument", &a[i])) return 0;
  int has_undo = 0;
  if (g_ntok > 6) {
    if (strcmp(g_tok[6], "undo") != 0 || g_ntok != 12) return fail("LIVE_BAD_REQUEST", 0, "call: expected `undo FN A1 A2 A3 A4` after the arguments");
    for (int i = 0; i < 5; i++)
      if (!arg_u64(7 + i, "undo argument", &undo[i])) return 0;
    has_undo = 1;
  }
  if (!need_process()) return 0;
  u64 r = 0;
  if (!remote_call(a, &r)) return 0;
  if (g_in_tx && has_undo) {
    Undo u = {0};
    u.kind = U_CALL;
    memcpy(u.call, undo, sizeof undo);
    undo_push(u);
  }
  begin_ok();
  out_addr("result", r);
  return 1;
}

typedef struct {
  int busy; /* 0: no RIP may lie here (redirect sites); 1: only reported (code about to be freed) */
  u64 addr, len;
} Range;

static int in_site(u64 rip, const Range *r) { return rip >= r->addr && rip - r->addr < r->len; }

/* Quiescent ranges of the current swap (format 2.4: old bodies of callers that call a changed
 * callee the old way), sorted and disjoint: no thread's RIP nor any stack word may lie in one. */
static const Range *g_quiet;
static int g_nquiet;

static int range_cmp(const void *a, const void *b) {
  u64 x = ((const Range *)a)->addr, y = ((const Range *)b)->addr;
  return x < y ? -1 : x > y;
}

/* Index of the quiescent range holding v, or -1 (bisection). */
static int quiet_of(u64 v) {
  int lo = 0, hi = g_nquiet - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (v < g_quiet[mid].addr) hi = mid - 1;
    else if (v - g_quiet[mid].addr >= g_quiet[mid].len) lo = mid + 1;
    else return mid;
  }
  return -1;
}
static int in_busy(u64 v, const Range *r) { return v >= r->addr && v < r->addr + r->len; }

/* Stack bytes read under suspensions during the current request (reported by swap). */
static u64 g_stack_bytes;

/*
 * The words on a suspended thread's stack, from RSP to the top of its committed stack, in a
 * buffer reused across calls: one ReadProcessMemory. The top is the one learnt before the
 * pause (TEB StackBase) when RSP lies below it; else, or when that read fails, the top of the
 * committed region holding RSP (VirtualQueryEx). Returns the word count; 0 when there is no
 * stack to read (no committed region at RSP, or more than 16 MiB); -1 when it cannot be read
 * (the caller cannot prove a return address is not there).
 */
static long read_stack(const CONTEXT *c, u64 cached_top, const u64 **words) {
  static u64 *stack;
  static size_t cap;
  u64 from = c->Rsp & ~(u64)7;
  for (int pass = 0; pass < 2; pass++) {
    u64 top = cached_top;
    if (pass == 1 || !(top > from && top - from <= 16u * 1024u * 1024u)) {
      MEMORY_BASIC_INFORMATION mbi;
      if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)c->Rsp, &mbi, sizeof mbi)) return 0;
      top = (u64)(uintptr_t)mbi.BaseAddress + mbi.RegionSize;
      if (top <= from || top - from > 16u * 1024u * 1024u) return 0;
      pass = 1;
    }
    size_t bytes = (size_t)(top - from);
    if (bytes > cap) {
      free(stack);
      stack = (u64 *)malloc(bytes);
      cap = stack ? bytes : 0;
      if (!stack) return -1;
    }
    /* Under Wine on Linux, once a swap has found the target's Linux pid (host-io.h): one
     * system call instead of a wineserver request that ptrace-stops a target thread. */
    LxIov l = {stack, bytes}, r = {(void *)(uintptr_t)from, bytes};
    size_t moved;
    if ((g_unix_pid > 0 && !g_io_server && lx_move(g_unix_pid, 0, &l, &r, 1, &moved)) || rpm(from, stack, bytes)) {
      g_stack_bytes += bytes;
      *words = stack;
      return (long)(bytes / 8);
    }
  }
  return -1;
}

/* True when a suspended thread could still run code in a busy range: its RIP, any integer
 * register or any stack word (a return address) points there. Conservative by design. */
static int thread_touches(const CONTEXT *c, u64 stack_top, const Range *rs, int nr) {
  u64 regs[] = {c->Rip, c->Rax, c->Rbx, c->Rcx, c->Rdx, c->Rsi, c->Rdi, c->Rbp, c->R8, c->R9, c->R10, c->R11, c->R12, c->R13, c->R14, c->R15};
  for (int k = 0; k < nr; k++) {
    if (!rs[k].busy) continue;
    for (size_t j = 0; j < sizeof regs / sizeof regs[0]; j++)
      if (in_busy(regs[j], &rs[k])) return 1;
  }
  const u64 *stack;
  long n = read_stack(c, stack_top, &stack);
  if (n < 0) return 1; /* cannot prove it is not there */
  for (long i = 0; i < n; i++)
    for (int k = 0; k < nr; k++)
      if (rs[k].busy && in_busy(stack[i], &rs[k])) return 1;
  return 0;
}

/*
 * The wait between two tries of a hold, the threads resumed (host-ran.h): the request's delay,
 * then, under Wine on Linux, until every thread of the target woken by the resume has run (a
 * thread re-suspended before its first turn stops again at the same RIP: the try would not
 * count). HOTPATCH_AGENT_RAN=off leaves the second wait out (comparisons);
 * HOTPATCH_AGENT_RETRYLOG=PATH (a Linux path, diagnostics) appends one line per try: attempt,
 * the caught thread and address, the threads still waiting for a turn after the delay, and the
 * ms waited for them (-1: gave up after LX_RAN_WAIT_MS).
 */
static void retry_wait(u64 attempt, DWORD tid, u64 at, u64 delay) {
  char v[8], path[260];
  DWORD n = GetEnvironmentVariableA("HOTPATCH_AGENT_RAN", v, sizeof v);
  int on = !(n > 0 && n < sizeof v && strcmp(v, "off") == 0);
  DWORD np = GetEnvironmentVariableA("HOTPATCH_AGENT_RETRYLOG", path, sizeof path);
  int logging = np > 0 && np < sizeof path && lx_host();
  int watched = (on || logging) && lx_ran_begin(target_unix_pid()) > 0;
  Sleep((DWORD)delay);
  int waiting = watched ? lx_ran_waiting() : 0;
  int waited = on && watched ? lx_ran_wait() : 0;
  if (!logging) return;
  static char line[200];
  int k = thread_index(tid);
  int len = snprintf(line, sizeof line, "%s attempt=%llu tid=%lu at=0x%llx rsp=0x%llx rbx=0x%llx ctx_us=%.1f threads=%d waiting=%d waited_ms=%d\n", g_op, (unsigned long long)attempt,
                     (unsigned long)tid, (unsigned long long)at, k >= 0 ? (unsigned long long)g_ctx[k].Rsp : 0ull, k >= 0 ? (unsigned long long)g_ctx[k].Rbx : 0ull,
                     k >= 0 ? g_thr[k].ctx_us : -1.0, g_nran, waiting, waited);
  lx_word fd = lx_syscall(LX_OPEN, (lx_word)(uintptr_t)path, 01 | 0100 | 02000 /* O_WRONLY|O_CREAT|O_APPEND */, 0644, 0, 0, 0);
  if (fd < 0) return;
  lx_syscall(LX_WRITE, fd, (lx_word)(uintptr_t)line, (lx_word)len, 0, 0, 0);
  for (int i = 0; i < g_nran; i++) { /* each thread: its run time since the resume (µs) and its state now */
    u64 run;
    char state = '?';
    if (!lx_thread_run_state(g_ran_tid[i], &run, &state)) run = g_ran_run[i];
    len = snprintf(line, sizeof line, "  linux tid %lld ran %.1f us, state %c\n", (long long)g_ran_tid[i], (double)(run - g_ran_run[i]) / 1000.0, state);
    lx_syscall(LX_WRITE, fd, (lx_word)(uintptr_t)line, (lx_word)len, 0, 0, 0);
  }
  lx_syscall(LX_CLOSE, fd, 0, 0, 0, 0, 0);
}

/* 1 when the `len` bytes `b` at address `at` begin with a jump to v: `EB rel8`, `E9 rel32`,
 * `FF 25 00000000` + an absolute address (the forms of a redirect). */
static int jump_at_to(u64 at, const unsigned char *b, long len, u64 v) {
  int32_t rel;
  u64 abs;
  if (len >= 2 && b[0] == 0xeb && at + 2 + (u64)(int64_t)(signed char)b[1] == v) return 1;
  if (len >= 5 && b[0] == 0xe9 && (memcpy(&rel, b + 1, 4), at + 5 + (u64)(int64_t)rel == v)) return 1;
  return len >= 14 && b[0] == 0xff && b[1] == 0x25 && !b[2] && !b[3] && !b[4] && !b[5] && (memcpy(&abs, b + 6, 8), abs == v);
}

#define SUSPEND_SCAN_MAX 4096
/*
 * suspend: the first-byte rule of `swap` (PROTOCOL.md, "Retries"), for a thread at `rip`, the
 * first byte of avoid range `k`: 1 when it may stay held there. The ranges are the redirect
 * sites the following `redirect` requests rewrite (the plan's, or the executor's rollback's:
 * every redirect it restores, all in this one suspension), and each of those compares its
 * EXPECTED with memory under this same hold, so the bytes read here are the EXPECTED a swap
 * would have been sent. The driver sends runs of sites, so a site's jump may begin anywhere in
 * a range: every offset of every avoid range is tried (more catches than swap, never fewer). A
 * range that cannot be read, or is longer than SUSPEND_SCAN_MAX, catches.
 */
static int suspend_releases(const Range *rs, int nr, int k, u64 rip) {
  static unsigned char buf[SUSPEND_SCAN_MAX + 16];
  if (rip != rs[k].addr) return 0;
  for (int j = 0; j < nr; j++) {
    if (rs[j].busy) continue;
    if (rs[j].len > SUSPEND_SCAN_MAX || !rpm(rs[j].addr, buf, (size_t)rs[j].len)) return 0;
    for (u64 o = 0; o < rs[j].len; o++)
      if (jump_at_to(rs[j].addr + o, buf + o, (long)(rs[j].len - o), rip)) return 0;
  }
  return 1;
}

/*
 * suspend [avoid:ADDR:LEN]... [busy:ADDR:LEN]... [tries=N] [delay=MS]
 * Suspends every thread. If a thread's RIP lies in an avoid range (bytes about to be
 * replaced), resumes, sleeps MS and retries; after N tries it refuses (the Detours rule). At a
 * range's first byte, only when a range's bytes jump there (suspend_releases).
 * Busy ranges are only reported (a thread that still uses them keeps them allocated).
 */
static int cmd_suspend(void) {
  if (!need_process()) return 0;
  if (g_suspended) return fail("LIVE_BAD_REQUEST", 0, "threads are already suspended");
  LONG lost = g_lost_signals;
  int nr = 0;
  Range *rs = (Range *)calloc((size_t)g_ntok + 1, sizeof(Range));
  if (!rs) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  u64 tries = 200, delay = 1;
  for (int i = 1; i < g_ntok; i++) {
    char *t = g_tok[i];
    if (strncmp(t, "delay=", 6) == 0) {
      if (!parse_u64(t + 6, &delay) || delay > 60000) {
        free(rs);
        return fail("LIVE_BAD_REQUEST", 0, "suspend: bad delay=");
      }
      continue;
    }
    if (strncmp(t, "tries=", 6) == 0) {
      if (!parse_u64(t + 6, &tries) || tries == 0) {
        free(rs);
        return fail("LIVE_BAD_REQUEST", 0, "suspend: bad tries=");
      }
      continue;
    }
    if (strncmp(t, "hold=", 5) == 0) {
      if (!parse_hold_limit(t + 5)) {
        free(rs);
        return fail("LIVE_BAD_REQUEST", 0, "suspend: bad hold= (1-%u ms)", HOLD_LIMIT_MAX_MS);
      }
      continue;
    }
    int busy = strncmp(t, "busy:", 5) == 0;
    int avoid = strncmp(t, "avoid:", 6) == 0;
    if (!busy && !avoid) {
      free(rs);
      return fail("LIVE_BAD_REQUEST", 0, "suspend: expected avoid:ADDR:LEN or busy:ADDR:LEN, got %.60s", t);
    }
    char *a = t + (busy ? 5 : 6), *colon = strchr(a, ':');
    if (!colon) {
      free(rs);
      return fail("LIVE_BAD_REQUEST", 0, "suspend: expected ADDR:LEN in %.60s", t);
    }
    *colon = 0;
    if (!parse_u64(a, &rs[nr].addr) || !parse_u64(colon + 1, &rs[nr].len)) {
      free(rs);
      return fail("LIVE_BAD_REQUEST", 0, "suspend: bad range %.60s", t);
    }
    rs[nr].busy = busy;
    nr++;
  }
  u64 attempt;
  DWORD bad_tid = 0;
  u64 bad_rip = 0;
  DWORD e = 0;
  if (!learn_threads(&e)) {
    forget_threads();
    free(rs);
    return fail("LIVE_SUSPEND_FAILED", e, "cannot list the threads of process %lu", (unsigned long)g_pid);
  }
  target_unix_pid(); /* before the hold: the first-byte rule reads the ranges through the kernel (rpm) */
  for (attempt = 1;; attempt++) {
    DWORD ctx_tid = 0;
    if (!hold_all(&e, &ctx_tid)) {
      forget_threads();
      free(rs);
      return hold_failure(e, ctx_tid);
    }
    int blocked = 0;
    for (int i = 0; i < g_nthr && !blocked; i++)
      for (int k = 0; g_thr[i].held && k < nr && !blocked; k++)
        if (!rs[k].busy && in_site(g_ctx[i].Rip, &rs[k]) && !suspend_releases(rs, nr, k, g_ctx[i].Rip)) {
          blocked = 1;
          bad_tid = g_thr[i].tid;
          bad_rip = g_ctx[i].Rip;
        }
    if (!blocked) break;
    resume_all();
    if (attempt >= tries) {
      forget_threads();
      free(rs);
      return fail("LIVE_THREAD_IN_SITE", 0, "thread %lu kept its instruction pointer in bytes to be replaced (rip 0x%llx) for %llu tries", (unsigned long)bad_tid,
                  (unsigned long long)bad_rip, (unsigned long long)tries);
    }
    retry_wait(attempt, bad_tid, bad_rip, delay);
  }
  double took_us = paused_us();
  begin_ok();
  out_fmt(",\"attempts\":%llu,\"suspendUs\":%.1f,\"lostSignals\":%ld,\"threads\":[", (unsigned long long)attempt, took_us, (long)(g_lost_signals - lost));
  for (int i = 0, first = 1; i < g_nthr; i++) {
    if (!g_thr[i].held) continue;
    int touches = nr ? thread_touches(&g_ctx[i], g_thr[i].stack_top, rs, nr) : 0;
    out_fmt("%s{\"tid\":%lu", first ? "" : ",", (unsigned long)g_thr[i].tid);
    first = 0;
    out_addr("rip", g_ctx[i].Rip);
    out_addr("rsp", g_ctx[i].Rsp);
    out_fmt(",\"busy\":%s}", touches ? "true" : "false");
  }
  out_fmt("]");
  free(rs);
  return 1;
}

/* ---------- swap: the whole pause in one request ---------- */

typedef struct {
  u64 addr;
  long len;
  unsigned char *expected, *bytes, *orig;
  int written;
  int joins_prev; /* stored in the same write as the site before it (see plan_stores) */
} Site;

static int site_cmp(const void *a, const void *b) {
  u64 x = ((const Site *)a)->addr, y = ((const Site *)b)->addr;
  return x < y ? -1 : x > y;
}

/* Index of the site whose [addr, addr+len) holds v, or -1 (sites sorted, disjoint). */
static int site_of(const Site *s, int n, u64 v) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (v < s[mid].addr) hi = mid - 1;
    else if (v - s[mid].addr >= (u64)s[mid].len) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/*
 * swap: a thread whose RIP is the first byte of a site or `avoid` range is not caught unless a
 * site's current bytes jump there (PROTOCOL.md, "Retries"). The ranges are runs of redirect
 * sites, each starting where a redirect's jump starts (an old function's entry, or the padding
 * its short jump reaches), and the compiler's thread rule allows no branch target or return
 * address past that byte (compiler/diff/redirect-sites.ts). A thread at an entry has executed
 * none of the bytes being replaced: it is where a thread branching there just after the write
 * would be, a state every patch admits. A thread at a pad came through its entry's short jump,
 * mid-redirect: when that jump is being rewritten too (a revert, or a supersede that changes the
 * redirect's form) the pad may go back to padding under it, so it stays caught; when the jump
 * stays, the pad's new bytes are the redirect it keeps. Counting every first byte as caught
 * failed pauses: a thread looping through a short function is stopped by any interrupt at the
 * callee's entry nearly every time on the machines measured (bench/pause-load-entry.ts).
 * `suspend` applies the same rule with the ranges' bytes read under its hold (suspend_releases).
 */
static int site_jumps_to(const Site *s, int n, u64 v) {
  for (int i = 0; i < n; i++)
    if (jump_at_to(s[i].addr, s[i].expected, s[i].len, v)) return 1;
  return 0;
}

/* 1 when a held thread at `rip` is caught by a swap's sites, quiet ranges or avoid ranges. */
static int swap_catches(const Site *s, int ns, const Range *av, int na, u64 rip) {
  if (quiet_of(rip) >= 0) return 1;
  int k = site_of(s, ns, rip), first = k >= 0 && rip == s[k].addr;
  if (k >= 0 && !first) return 1;
  for (int i = 0; i < na; i++) {
    if (!in_site(rip, &av[i])) continue;
    if (rip != av[i].addr) return 1;
    first = 1;
  }
  return first && site_jumps_to(s, ns, rip);
}

/* A word on the stack that would return into the middle of a site (a call whose return
 * address lies inside bytes about to be replaced): the thread must not be caught there.
 * Stack words are scanned from RSP to the top of the committed stack; a non-return value
 * that happens to point there only costs a retry. */
static int stack_returns_into(const CONTEXT *c, u64 stack_top, const Site *s, int n, u64 *hit) {
  const u64 *stack;
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  long words = read_stack(c, stack_top, &stack);
  g_t_stacks += us_since(&t);
  g_stack_reads++;
  if (words < 0) return 1; /* cannot prove it is not there */
  for (long i = 0; i < words; i++) {
    int k = site_of(s, n, stack[i]);
    if ((k >= 0 && stack[i] != s[k].addr) || (g_nquiet > 0 && quiet_of(stack[i]) >= 0)) {
      *hit = stack[i];
      return 1;
    }
  }
  return 0;
}

static void free_sites(Site *s, int n) {
  for (int i = 0; i < n; i++) free(s[i].orig);
  free(s);
}

/* Puts back the sites written so far (threads still suspended). */
static void unswap(Site *s, int n) {
  for (int i = n - 1; i >= 0; i--)
    if (s[i].written && !wpm(s[i].addr, s[i].orig, (size_t)s[i].len)) g_undo_failures++;
}

/* 1 when every page of [addr, addr+n) is committed code made writable (PAGE_EXECUTE_READWRITE
 * or _WRITECOPY, not in a mapped view, which another process may share and write while this
 * one is held); records no failure. The region found last is kept in *last, so a walk over
 * neighbouring gaps queries each region once. */
static int writable_code_between(u64 addr, u64 n, MEMORY_BASIC_INFORMATION *last) {
  for (u64 at = addr; at < addr + n;) {
    u64 lo = (u64)(uintptr_t)last->BaseAddress, hi = lo + last->RegionSize;
    if (!(last->RegionSize != 0 && at >= lo && at < hi)) {
      if (!VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)at, last, sizeof *last)) {
        memset(last, 0, sizeof *last);
        return 0;
      }
      lo = (u64)(uintptr_t)last->BaseAddress;
      hi = lo + last->RegionSize;
      if (hi <= at) return 0;
    }
    DWORD prot = last->Protect & 0xff;
    if (last->State != MEM_COMMIT || last->Type == MEM_MAPPED || (last->Protect & PAGE_GUARD) || (prot != PAGE_EXECUTE_READWRITE && prot != PAGE_EXECUTE_WRITECOPY)) return 0;
    at = hi;
  }
  return 1;
}

/* Sites i and i+1 are read together when less than 64 KiB apart (a group spans at most 1 MiB). */
static int same_read(const Site *s, int first, int next) {
  return s[next].addr - (s[next - 1].addr + (u64)s[next - 1].len) < 0x10000 && s[next].addr + (u64)s[next].len - s[first].addr <= 0x100000;
}

/*
 * Before the pause: which sites share a write. Sites on the same or adjacent pages always do
 * (their pages were just proven writable). Sites of one read group less than STORE_GAP apart
 * share it too when every page between them is writable already (the plan makes the pages
 * between nearby sites writable with theirs: runtime/plan/plan-steps.ts storeClusters): the
 * bytes between them are written back as read under the same suspension, so nothing else
 * changes. Under Wine every write is a wineserver round trip (~55 µs at best, measured with
 * the target suspended) and each KiB it carries ~1.3 µs, so joining across a gap saves a
 * round trip for less than 32 KiB of bytes moved. A page between them that is not code made
 * writable (data, which a mapped view may share with another process; a page the plan left
 * alone) keeps them apart: a write never changes a protection, and never rewrites data.
 */
#define STORE_GAP 0x8000
static void plan_stores(Site *s, int ns) {
  MEMORY_BASIC_INFORMATION last;
  memset(&last, 0, sizeof last);
  for (int i = 1, g = 0; i < ns; i++) {
    u64 prev_end = s[i - 1].addr + (u64)s[i - 1].len;
    if (!same_read(s, g, i)) {
      g = i;
      s[i].joins_prev = 0;
      continue;
    }
    u64 gap_lo = ((prev_end - 1) >> 12) + 1, gap_hi = s[i].addr >> 12; /* pages strictly between */
    if (gap_hi <= gap_lo) s[i].joins_prev = 1;
    else s[i].joins_prev = s[i].addr - prev_end < STORE_GAP && writable_code_between(gap_lo << 12, (gap_hi - gap_lo) << 12, &last);
  }
}

/*
 * swap [tries=N] [delay=MS] [avoid:ADDR:LEN]... site:ADDR:EXPECTED:BYTES...
 * The whole pause of a live patch in one request. Before the pause: parse, sort and check the
 * sites, check every site's pages are writable, lay out the reads and stores, learn the
 * target's threads (handles, stack tops). The pause: suspend every thread once, read each
 * context, confirm no other thread exists; check every RIP against every site and avoid range,
 * then every stack word against every site (sorted sites, binary search: the cost does not
 * grow with the product); if one is caught, resume, sleep and retry (LIVE_THREAD_IN_SITE
 * after N tries). Then read the sites (one read per group of sites less than 64 KiB apart),
 * compare every site with EXPECTED, store every site (one write per run of pages holding
 * sites, from the buffer just read), flush once over the span, resume. All or nothing: a
 * mismatch or failed write puts back what was written, resumes, and fails. Each write is
 * logged for the transaction like `redirect`.
 */
typedef struct {
  Site *s;
  int ns, na, nq;
  Range *av, *qu;
  u64 tries, delay;
  int io_server; /* io=server: ReadProcessMemory/WriteProcessMemory even where the kernel path works */
} SwapArgs;

static int parse_swap(SwapArgs *a) {
  a->s = (Site *)calloc((size_t)g_ntok + 1, sizeof(Site));
  a->av = (Range *)calloc((size_t)g_ntok + 1, sizeof(Range));
  a->qu = (Range *)calloc((size_t)g_ntok + 1, sizeof(Range));
  a->ns = a->na = a->nq = 0;
  a->io_server = 0;
  a->tries = 200;
  a->delay = 1;
  if (!a->s || !a->av || !a->qu) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  for (int i = 1; i < g_ntok; i++) {
    char *t = g_tok[i];
    if (strncmp(t, "delay=", 6) == 0) {
      if (!parse_u64(t + 6, &a->delay) || a->delay > 60000) return fail("LIVE_BAD_REQUEST", 0, "swap: bad delay=");
    } else if (strncmp(t, "tries=", 6) == 0) {
      if (!parse_u64(t + 6, &a->tries) || a->tries == 0) return fail("LIVE_BAD_REQUEST", 0, "swap: bad tries=");
    } else if (strncmp(t, "hold=", 5) == 0) {
      if (!parse_hold_limit(t + 5)) return fail("LIVE_BAD_REQUEST", 0, "swap: bad hold= (1-%u ms)", HOLD_LIMIT_MAX_MS);
    } else if (strcmp(t, "io=server") == 0) {
      a->io_server = 1;
    } else if (strncmp(t, "avoid:", 6) == 0) {
      char *x = t + 6, *colon = strchr(x, ':');
      if (!colon) return fail("LIVE_BAD_REQUEST", 0, "swap: expected avoid:ADDR:LEN, got %.60s", t);
      *colon = 0;
      if (!parse_u64(x, &a->av[a->na].addr) || !parse_u64(colon + 1, &a->av[a->na].len)) return fail("LIVE_BAD_REQUEST", 0, "swap: bad range %.60s", t);
      a->na++;
    } else if (strncmp(t, "quiet:", 6) == 0) {
      char *x = t + 6, *colon = strchr(x, ':');
      if (!colon) return fail("LIVE_BAD_REQUEST", 0, "swap: expected quiet:ADDR:LEN, got %.60s", t);
      *colon = 0;
      if (!parse_u64(x, &a->qu[a->nq].addr) || !parse_u64(colon + 1, &a->qu[a->nq].len) || a->qu[a->nq].len == 0) return fail("LIVE_BAD_REQUEST", 0, "swap: bad range %.60s", t);
      a->nq++;
    } else if (strncmp(t, "site:", 5) == 0) {
      char *x = t + 5, *c1 = strchr(x, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (!c2) return fail("LIVE_BAD_REQUEST", 0, "swap: expected site:ADDR:EXPECTED:BYTES, got %.60s", t);
      *c1 = 0;
      *c2 = 0;
      long ne = decode_hex(c1 + 1), nb = decode_hex(c2 + 1);
      Site *st = &a->s[a->ns];
      if (!parse_u64(x, &st->addr) || ne < 0 || nb < 0 || ne != nb || nb == 0 || nb > 4096)
        return fail("LIVE_BAD_REQUEST", 0, "swap: site at %.20s needs equal-length hex (1-4096 bytes)", x);
      st->len = nb;
      st->expected = (unsigned char *)(c1 + 1);
      st->bytes = (unsigned char *)(c2 + 1);
      a->ns++;
    } else
      return fail("LIVE_BAD_REQUEST", 0, "swap: unexpected %.60s", t);
  }
  /* No site: a pause that only checks RIPs against the avoid ranges (a span with nothing to
   * write), still in one request. */
  qsort(a->s, (size_t)a->ns, sizeof(Site), site_cmp);
  qsort(a->qu, (size_t)a->nq, sizeof(Range), range_cmp);
  for (int i = 1; i < a->nq; i++)
    if (a->qu[i].addr < a->qu[i - 1].addr + a->qu[i - 1].len)
      return fail("LIVE_BAD_REQUEST", 0, "swap: quiescent ranges at 0x%llx and 0x%llx overlap", (unsigned long long)a->qu[i - 1].addr, (unsigned long long)a->qu[i].addr);
  for (int i = 1; i < a->ns; i++)
    if (a->s[i].addr < a->s[i - 1].addr + (u64)a->s[i - 1].len)
      return fail("LIVE_BAD_REQUEST", 0, "swap: sites at 0x%llx and 0x%llx overlap", (unsigned long long)a->s[i - 1].addr, (unsigned long long)a->s[i].addr);
  for (int i = 0; i < a->ns; i++)
    if (!(a->s[i].orig = (unsigned char *)malloc((size_t)a->s[i].len))) return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
  /* Every site's pages must already be writable (the plan made them so). */
  for (int i = 0; i < a->ns; i++) {
    const Site *p = &a->s[i];
    if (i > 0 && p->addr >> 12 == (p[-1].addr + (u64)p[-1].len - 1) >> 12 && (p->addr + (u64)p->len - 1) >> 12 == p->addr >> 12) continue;
    if (!check_writable(p->addr, (u64)p->len)) return 0;
  }
  plan_stores(a->s, a->ns);
  return 1;
}


typedef struct {
  double hold, check, compare, store;
  int reads, stores;
  u64 read_bytes, store_bytes;
  int fast_stacks, fast_sites; /* the stacks, the sites moved by process_vm_readv/_writev (host-io.h) */
  int boosted, boosted_groups; /* threads and autogroups raised to nice -20 for the pause (host-sched.h) */
  int sliced; /* of those threads, the ones given the shortest slice (wake-ups that preempt, host-sched.h) */
} SwapTimes;

/* ---------- memory I/O under Wine through the Linux kernel (host-io.h) ---------- */

/*
 * Before a pause: the target's Linux pid, found once per `open` without writing to the target
 * through Wine (host-io.h, lx_candidates_fresh): twice, a fresh page is committed in the
 * target and freed, and exactly one Linux process must read it as zeros while it is committed
 * and fail to read it once freed. -1 when not under Wine on Linux, or when not exactly one
 * process passes (the Win32 calls are used then).
 */
static int64_t target_unix_pid(void) {
  if (g_unix_pid != 0) return g_unix_pid;
  g_unix_pid = -1;
  if (!lx_host()) return -1;
  static LxCandidates c;
  for (int round = 0; round < 2; round++) {
    void *page = VirtualAllocEx(g_proc, NULL, 4096, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    if (!page) return -1;
    u64 at = (u64)(uintptr_t)page;
    if (round == 0) lx_candidates_fresh(&c, at);
    else lx_candidates_keep(&c, at, 1);
    int freed = VirtualFreeEx(g_proc, page, 0, MEM_RELEASE) != 0;
    lx_candidates_keep(&c, at, -1);
    if (!freed || c.overflow || c.n == 0) return -1;
  }
  if (c.n == 1) g_unix_pid = c.pids[0];
  return g_unix_pid;
}

/*
 * The stack check of every held thread whose stack top is known, in one process_vm_readv:
 * the first range is a held thread's TEB ClientId, which must still name the target (Windows
 * pid and thread id), then each stack from RSP to its top. 1: a return address into a site
 * (*ti the thread, *hit the word); 0: none; -1: not done this way (the caller reads each
 * stack through Wine). *done[i] is set for every thread checked.
 */
static int stacks_return_into_fast(const Site *s, int n, unsigned char *done, int *ti, u64 *hit) {
  static LxIov *loc, *rem;
  static int *who;
  static int cap;
  static u64 *buf;
  static size_t bcap;
  if (g_unix_pid <= 0) return -1;
  int id = -1;
  for (int i = 0; i < g_nthr && id < 0; i++)
    if (g_thr[i].held && g_thr[i].teb) id = i;
  if (id < 0) return -1;
  if (g_nthr + 1 > cap) {
    free(loc), free(rem), free(who);
    cap = g_nthr + 1;
    loc = (LxIov *)malloc(sizeof(LxIov) * (size_t)cap);
    rem = (LxIov *)malloc(sizeof(LxIov) * (size_t)cap);
    who = (int *)malloc(sizeof(int) * (size_t)cap);
    if (!loc || !rem || !who) {
      cap = 0;
      return -1;
    }
  }
  size_t total = 16;
  long k = 1;
  rem[0].base = (void *)(uintptr_t)(g_thr[id].teb + 0x40); /* TEB64 ClientId: UniqueProcess, UniqueThread */
  rem[0].len = 16;
  for (int i = 0; i < g_nthr; i++) {
    u64 from = g_ctx[i].Rsp & ~(u64)7, top = g_thr[i].stack_top;
    if (!g_thr[i].held || !(top > from && top - from <= 16u * 1024u * 1024u)) continue;
    rem[k].base = (void *)(uintptr_t)from;
    rem[k].len = (size_t)(top - from);
    who[k++] = i;
    total += (size_t)(top - from);
  }
  if (total > bcap) {
    free(buf);
    buf = (u64 *)malloc(total);
    bcap = buf ? total : 0;
    if (!buf) return -1;
  }
  for (long j = 0, off = 0; j < k; off += (long)rem[j].len, j++) {
    loc[j].base = (unsigned char *)buf + off;
    loc[j].len = rem[j].len;
  }
  size_t moved;
  if (!lx_move(g_unix_pid, 0, loc, rem, k, &moved)) return -1;
  if (buf[0] != (u64)g_pid || buf[1] != (u64)g_thr[id].tid) {
    g_unix_pid = -1; /* not the target any more: never again in this session */
    return -1;
  }
  g_stack_bytes += total - 16;
  g_stack_reads++;
  for (long j = 1; j < k; j++) {
    const u64 *w = (const u64 *)loc[j].base;
    done[who[j]] = 1;
    for (size_t x = 0; x < rem[j].len / 8; x++) {
      int q = site_of(s, n, w[x]);
      if ((q >= 0 && w[x] != s[q].addr) || (g_nquiet > 0 && quiet_of(w[x]) >= 0)) {
        *ti = who[j];
        *hit = w[x];
        return 1;
      }
    }
  }
  return 0;
}

/*
 * The compare and the stores in one process_vm_readv and one process_vm_writev: only the
 * sites' bytes move (no pages between them). 1 done; 0 failed (a site is not as expected:
 * resumed and reported); -1 not done this way with nothing changed (a store the kernel did
 * not finish is put back first), the caller then takes the Win32 path.
 */
static int swap_store_fast(Site *s, int ns, SwapTimes *tm) {
  if (g_unix_pid <= 0) return -1;
  LxIov *loc = (LxIov *)malloc(sizeof(LxIov) * (size_t)ns), *rem = (LxIov *)malloc(sizeof(LxIov) * (size_t)ns);
  int result = -1;
  size_t total = 0, moved = 0;
  LARGE_INTEGER t0, t1;
  QueryPerformanceCounter(&t0);
  if (!loc || !rem) goto out;
  for (int k = 0; k < ns; k++) {
    loc[k].base = s[k].orig;
    rem[k].base = (void *)(uintptr_t)s[k].addr;
    loc[k].len = rem[k].len = (size_t)s[k].len;
    total += (size_t)s[k].len;
  }
  if (!lx_move(g_unix_pid, 0, loc, rem, ns, &moved)) goto out;
  for (int k = 0; k < ns; k++) {
    const unsigned char *cur = s[k].orig;
    if (memcmp(cur, s[k].expected, (size_t)s[k].len) == 0) continue;
    long b = 0;
    while (cur[b] == s[k].expected[b]) b++;
    resume_all();
    fail("LIVE_BYTES_MISMATCH", 0, "byte at 0x%llx is 0x%02x, expected 0x%02x: the target is not in the state the plan was made for", (unsigned long long)(s[k].addr + (u64)b), cur[b],
         s[k].expected[b]);
    out_addr("at", s[k].addr + (u64)b);
    result = 0;
    goto out;
  }
  QueryPerformanceCounter(&t1);
  tm->compare = (double)(t1.QuadPart - t0.QuadPart) * 1e6 / (double)g_freq.QuadPart;
  for (int k = 0; k < ns; k++) loc[k].base = s[k].bytes;
  if (!lx_move(g_unix_pid, 1, loc, rem, ns, &moved)) {
    /* Every site the kernel may have reached goes back (from the bytes just read). */
    size_t at = 0;
    for (int k = 0; k < ns; at += (size_t)s[k].len, k++) s[k].written = at <= moved;
    unswap(s, ns);
    for (int k = 0; k < ns; k++) s[k].written = 0;
    goto out;
  }
  for (int k = 0; k < ns; k++) s[k].written = 1;
  tm->reads = tm->stores = (ns + LX_IOV_MAX - 1) / LX_IOV_MAX;
  tm->read_bytes = tm->store_bytes = total;
  u64 lo = s[0].addr, hi = s[ns - 1].addr + (u64)s[ns - 1].len;
  FlushInstructionCache(g_proc, (LPCVOID)(uintptr_t)lo, (SIZE_T)(hi - lo));
  tm->store = us_since(&t1);
  tm->fast_sites = 1;
  result = 1;
out:
  free(loc);
  free(rem);
  return result;
}

/* Under the pause: reads, compares and stores every site (see cmd_swap). 0 after failing
 * (threads resumed, what was written put back). */
static int swap_store(Site *s, int ns, int io_server, SwapTimes *tm) {
  static unsigned char *buf;
  static size_t bcap;
  int fast = io_server ? -1 : swap_store_fast(s, ns, tm);
  if (fast >= 0) return fast;
  LARGE_INTEGER t0;
  QueryPerformanceCounter(&t0);
  /* Read and compare everything first: nothing is written unless every site is as expected.
   * The read buffers are kept (group after group in one buffer) to store from. */
  size_t total = 0;
  for (int i = 0, g = 0; i < ns; i++) {
    if (i == 0 || !same_read(s, g, i)) g = i;
    total += (size_t)(i == g ? (u64)s[i].len : s[i].addr + (u64)s[i].len - (s[i - 1].addr + (u64)s[i - 1].len));
  }
  if (total > bcap) {
    free(buf);
    buf = (unsigned char *)malloc(total);
    bcap = buf ? total : 0;
    if (!buf) {
      resume_all();
      return fail("LIVE_AGENT_OOM", 0, "agent out of memory");
    }
  }
  size_t off = 0;
  for (int i = 0; i < ns;) {
    int j = i;
    while (j + 1 < ns && same_read(s, i, j + 1)) j++;
    u64 span = s[j].addr + (u64)s[j].len - s[i].addr;
    if (!rpm(s[i].addr, buf + off, (size_t)span)) {
      DWORD re = GetLastError();
      resume_all();
      return fail("LIVE_READ_FAILED", re, "cannot read the sites at 0x%llx (%llu bytes)", (unsigned long long)s[i].addr, (unsigned long long)span);
    }
    tm->reads++;
    tm->read_bytes += span;
    for (int k = i; k <= j; k++) {
      const unsigned char *cur = buf + off + (s[k].addr - s[i].addr);
      memcpy(s[k].orig, cur, (size_t)s[k].len);
      if (memcmp(cur, s[k].expected, (size_t)s[k].len) == 0) continue;
      long b = 0;
      while (cur[b] == s[k].expected[b]) b++;
      resume_all();
      fail("LIVE_BYTES_MISMATCH", 0, "byte at 0x%llx is 0x%02x, expected 0x%02x: the target is not in the state the plan was made for", (unsigned long long)(s[k].addr + (u64)b),
           cur[b], s[k].expected[b]);
      out_addr("at", s[k].addr + (u64)b);
      return 0;
    }
    off += (size_t)span;
    i = j + 1;
  }
  LARGE_INTEGER t1;
  QueryPerformanceCounter(&t1);
  tm->compare = (double)(t1.QuadPart - t0.QuadPart) * 1e6 / (double)g_freq.QuadPart;
  /* Stores: one WriteProcessMemory per run of sites plan_stores joined (pages holding sites,
   * and the writable pages between nearby ones), the bytes between sites written back as just
   * read under this suspension; the number of calls (each a server round trip under Wine)
   * follows the clusters of sites, not the redirect count. */
  off = 0;
  for (int i = 0; i < ns;) {
    int j = i;
    while (j + 1 < ns && same_read(s, i, j + 1)) j++;
    unsigned char *group = buf + off;
    for (int k = i; k <= j; k++) memcpy(group + (s[k].addr - s[i].addr), s[k].bytes, (size_t)s[k].len);
    for (int c = i; c <= j;) {
      int d = c;
      while (d + 1 <= j && s[d + 1].joins_prev) d++;
      u64 span = s[d].addr + (u64)s[d].len - s[c].addr;
      if (!wpm(s[c].addr, group + (s[c].addr - s[i].addr), (size_t)span)) {
        DWORD we = GetLastError();
        /* A failed write may have written a part (a partial copy stops at the first page it
         * cannot write): its sites go back too, from the bytes read under this suspension. */
        for (int k = c; k <= d; k++) s[k].written = 1;
        unswap(s, ns);
        resume_all();
        return fail("LIVE_WRITE_FAILED", we, "cannot write %llu bytes at 0x%llx in process %lu (every site put back)", (unsigned long long)span, (unsigned long long)s[c].addr,
                    (unsigned long)g_pid);
      }
      for (int k = c; k <= d; k++) s[k].written = 1;
      tm->stores++;
      tm->store_bytes += span;
      c = d + 1;
    }
    off += (size_t)(s[j].addr + (u64)s[j].len - s[i].addr);
    i = j + 1;
  }
  u64 lo = s[0].addr, hi = s[ns - 1].addr + (u64)s[ns - 1].len;
  FlushInstructionCache(g_proc, (LPCVOID)(uintptr_t)lo, (SIZE_T)(hi - lo));
  tm->store = us_since(&t1);
  return 1;
}

/* The suspension of a swap: hold every thread, check RIPs then stacks, retry while one is
 * caught. 1 with every thread held and none in a site; 0 after failing (threads resumed). */
static int swap_hold(const SwapArgs *a, u64 *attempt, SwapTimes *tm) {
  DWORD bad_tid = 0, e = 0, q_tid = 0;
  u64 bad_at = 0, q_at = 0;
  int bad_stack = 0, q_stack = 0, q_seen = -1;
  int stacks = a->ns > 0 || a->nq > 0;
  g_quiet = a->qu;
  g_nquiet = a->nq;
  if (!learn_threads(&e)) return fail("LIVE_SUSPEND_FAILED", e, "cannot list the threads of process %lu", (unsigned long)g_pid);
  /* The target's Linux pid, before the pause, once per open (host-io.h): for the kernel's memory
   * path, and for the boost (host-sched.h), which a swap without sites or quiet ranges (it reads
   * no memory) needs too: its hold waits for the same wake-ups. */
  if ((stacks && !a->io_server) || (!stacks && lx_boost_wanted())) target_unix_pid();
  tm->boosted = lx_boost(g_unix_pid); /* for the pause: nice -20 (host-sched.h), undone at resume */
  tm->boosted_groups = g_ngroups;
  tm->sliced = g_nsliced;
  lx_test_die_after_boost(); /* HOTPATCH_AGENT_TEST_DIE=boost (test only, host-guard.h) */
  lx_stat_begin(); /* HOTPATCH_AGENT_SCHEDSTAT=1: where the hold waited (host-sched.h) */
  for (*attempt = 1;; (*attempt)++) {
    DWORD ctx_tid = 0;
    g_t_stacks = 0;
    g_stack_reads = 0;
    if (!hold_all(&e, &ctx_tid)) {
      resume_all();
      return hold_failure(e, ctx_tid);
    }
    tm->hold = paused_us();
    int blocked = 0;
    /* RIPs first (no call into the system): a caught thread retries before any stack is read. */
    for (int i = 0; i < g_nthr && !blocked; i++) {
      if (!g_thr[i].held) continue;
      u64 rip = g_ctx[i].Rip;
      if (swap_catches(a->s, a->ns, a->av, a->na, rip)) blocked = 1;
      if (blocked) bad_tid = g_thr[i].tid, bad_at = rip, bad_stack = 0;
    }
    /* Stacks: all in one process_vm_readv under Wine on Linux (host-io.h); a stack it did not
     * cover (top unknown, or the fast path unavailable) is read through Wine, one call each. */
    static unsigned char done[MAX_THREADS];
    memset(done, 0, sizeof done);
    if (!blocked && stacks) {
      int ti = -1;
      u64 hit = 0;
      LARGE_INTEGER t;
      QueryPerformanceCounter(&t);
      int r = a->io_server ? -1 : stacks_return_into_fast(a->s, a->ns, done, &ti, &hit);
      g_t_stacks += us_since(&t);
      tm->fast_stacks = r >= 0;
      if (r == 1) blocked = 1, bad_tid = g_thr[ti].tid, bad_at = hit, bad_stack = 1;
    }
    for (int i = 0; i < g_nthr && !blocked && stacks; i++) {
      u64 hit = 0;
      if (g_thr[i].held && !done[i] && stack_returns_into(&g_ctx[i], g_thr[i].stack_top, a->s, a->ns, &hit)) blocked = 1, bad_tid = g_thr[i].tid, bad_at = hit, bad_stack = 1;
    }
    tm->check = paused_us() - tm->hold;
    if (!blocked) return 1;
    resume_all();
    /* The last catch in a quiescent range, whatever caught the thread on later tries: a thread
     * looping in an old caller is also caught, now and then, in the site of the callee it calls
     * (a small callee's site is its whole body), and the reason it never clears is the range. */
    int q = quiet_of(bad_at);
    if (q >= 0) q_seen = q, q_tid = bad_tid, q_at = bad_at, q_stack = bad_stack;
    if (*attempt >= a->tries && q_seen >= 0) {
      /* Format 2.4: the thread is inside (or returns into) an old caller's body; the driver names the function from `range`. */
      fail("LIVE_THREAD_IN_OLD_CALLER", 0, "thread %lu kept %s (0x%llx) inside quiescent range 0x%llx+0x%llx for %llu tries", (unsigned long)q_tid,
           q_stack ? "a return address" : "its instruction pointer", (unsigned long long)q_at, (unsigned long long)g_quiet[q_seen].addr, (unsigned long long)g_quiet[q_seen].len,
           (unsigned long long)a->tries);
      out_addr("range", g_quiet[q_seen].addr);
      return 0;
    }
    if (*attempt >= a->tries)
      return fail("LIVE_THREAD_IN_SITE", 0, "thread %lu kept %s in bytes to be replaced (0x%llx) for %llu tries", (unsigned long)bad_tid,
                  bad_stack ? "a return address" : "its instruction pointer", (unsigned long long)bad_at, (unsigned long long)a->tries);
    /* The target runs unboosted while the retry waits (a thread caught again and again may be
     * one that loops: it must not get the boost for up to `tries` x `delay` ms), raised again
     * for the next hold. */
    lx_unboost();
    retry_wait(*attempt, bad_tid, bad_at, a->delay);
    tm->boosted = lx_boost(g_unix_pid);
    tm->boosted_groups = g_ngroups;
    tm->sliced = g_nsliced;
    lx_stat_begin();
  }
}

static int cmd_swap(void) {
  if (!need_process()) return 0;
  if (g_suspended) return fail("LIVE_BAD_REQUEST", 0, "threads are already suspended");
  SwapArgs a;
  SwapTimes tm = {0};
  u64 attempt = 0;
  LONG continued = g_continued, lost = g_lost_signals;
  int ok = parse_swap(&a);
  g_stack_bytes = 0;
  g_ctx_flags = GetEnvironmentVariableA("HOTPATCH_AGENT_RETRYLOG", NULL, 0) ? CONTEXT_CONTROL | CONTEXT_INTEGER : CONTEXT_CONTROL;
  g_io_server = a.io_server;
  if (ok) ok = swap_hold(&a, &attempt, &tm);
  g_ctx_flags = CONTEXT_CONTROL | CONTEXT_INTEGER;
  if (ok && a.ns > 0) ok = swap_store(a.s, a.ns, a.io_server, &tm);
  g_io_server = 0;
  if (ok) {
    /* Each held thread's RIP when the writes happened, taken before resuming clears `held`. */
    int nthreads = 0;
    u64 *rips = (u64 *)malloc(sizeof(u64) * (size_t)(g_nthr ? g_nthr : 1));
    double *ctx_us = (double *)malloc(sizeof(double) * (size_t)(g_nthr ? g_nthr : 1));
    for (int i = 0; i < g_nthr; i++)
      if (g_thr[i].held && rips && ctx_us) ctx_us[nthreads] = g_thr[i].ctx_us, rips[nthreads++] = g_ctx[i].Rip;
    double paused = resume_all();
    double srun[3], swait[3], smax;
    int stat = lx_stat_end(srun, swait, &smax);
    lx_unboost();
    if (g_in_tx)
      for (int i = 0; i < a.ns; i++) {
        Undo u = {0};
        u.kind = U_WRITE;
        u.addr = a.s[i].addr;
        u.size = (u64)a.s[i].len;
        u.orig = a.s[i].orig;
        a.s[i].orig = NULL; /* owned by the log now */
        undo_push(u);
      }
    begin_ok();
    out_fmt(",\"attempts\":%llu,\"threads\":%d,\"sites\":%d,\"reads\":%d,\"writes\":%d,\"confirms\":%ld,\"stackBytes\":%llu", (unsigned long long)attempt, nthreads, a.ns, tm.reads,
            tm.stores, (long)g_confirm_passes, (unsigned long long)g_stack_bytes);
    out_fmt(",\"confirmedBy\":\"%s\",\"readBytes\":%llu,\"storeBytes\":%llu", g_confirmed_by, (unsigned long long)tm.read_bytes, (unsigned long long)tm.store_bytes);
    /* SIGCONTs sent to the target in group stop (host-ran.h) while this swap was served. */
    out_fmt(",\"continued\":%ld,\"lostSignals\":%ld", (long)(g_continued - continued), (long)(g_lost_signals - lost));
    /* How the pause moved memory: `process_vm` (the stacks and the sites through the Linux
     * kernel, host-io.h), `server` (ReadProcessMemory/WriteProcessMemory), or `mixed`. */
    out_fmt(",\"io\":\"%s\"", a.ns == 0 ? "none" : tm.fast_stacks && tm.fast_sites ? "process_vm" : tm.fast_stacks || tm.fast_sites ? "mixed" : "server");
    out_fmt(",\"holdUs\":%.1f,\"checkUs\":%.1f,\"compareUs\":%.1f,\"storeUs\":%.1f,\"resumeUs\":%.1f", tm.hold, tm.check, tm.compare, tm.store, paused - tm.hold - tm.check - tm.compare - tm.store);
    out_fmt(",\"suspendUs\":%.1f,\"writeUs\":%.1f,\"pausedUs\":%.1f", tm.hold + tm.check, tm.compare + tm.store, paused);
    out_fmt(",\"suspendCallUs\":%.1f,\"contextUs\":%.1f,\"listUs\":%.1f,\"stackUs\":%.1f,\"stackReads\":%d,\"boosted\":%d,\"boostedGroups\":%d,\"boostedSlices\":%d", g_t_suspend_call,
            g_t_contexts, g_t_list, g_t_stacks, g_stack_reads, tm.boosted, tm.boosted_groups, tm.sliced);
    if (stat)
      out_fmt(",\"schedRunUs\":[%.1f,%.1f,%.1f],\"schedWaitUs\":[%.1f,%.1f,%.1f],\"schedMaxWaitUs\":%.1f", srun[0], srun[1], srun[2], swait[0], swait[1], swait[2], smax);
    /* Each held thread's context read (its wait to stop), in the order read: where a long hold went. */
    out_fmt(",\"contextsUs\":[");
    for (int i = 0; i < nthreads; i++) out_fmt("%s%.1f", i ? "," : "", ctx_us[i]);
    out_fmt("]");
    out_fmt(",\"rips\":[");
    for (int i = 0; i < nthreads; i++) out_fmt("%s\"0x%llx\"", i ? "," : "", (unsigned long long)rips[i]);
    out_fmt("]");
    free(rips);
    free(ctx_us);
  }
  forget_threads();
  lx_unboost(); /* after a failed pause (threads resumed above) */
  if (a.s) free_sites(a.s, a.ns);
  free(a.av);
  free(a.qu);
  g_quiet = NULL;
  g_nquiet = 0;
  return ok;
}

static int cmd_resume(void) {
  if (!g_suspended) return fail("LIVE_BAD_REQUEST", 0, "threads are not suspended");
  int n = 0;
  for (int i = 0; i < g_nthr; i++) n += g_thr[i].held != 0;
  double us = forget_threads();
  begin_ok();
  out_fmt(",\"threads\":%d,\"pausedUs\":%.1f", n, us);
  return 1;
}

/* Size of the allocation that starts at `base` (all its regions), or 0. */
static u64 allocation_size(u64 base) {
  MEMORY_BASIC_INFORMATION mbi;
  u64 at = base;
  while (VirtualQueryEx(g_proc, (LPCVOID)(uintptr_t)at, &mbi, sizeof mbi) && (u64)(uintptr_t)mbi.AllocationBase == base && mbi.State != MEM_FREE) {
    u64 end = (u64)(uintptr_t)mbi.BaseAddress + mbi.RegionSize;
    if (end <= at) break;
    at = end;
  }
  return at - base;
}

/*
 * Releases the regions whose free was deferred to commit. A region is released only while no
 * thread can still run code in it: every thread suspended, none with its RIP, an integer
 * register or a stack word (a return address) inside. Referenced regions get a few more
 * chances (threads run on between tries); a region still referenced after that stays
 * allocated and is reported as kept: a small leak instead of a crash. Returns the pause.
 */
static double release_deferred(int *kept_out, int *free_failures) {
  double pause = 0;
  Range *rs = (Range *)calloc(g_nfree ? g_nfree : 1, sizeof(Range));
  DWORD e = 0;
  if (!rs || !learn_threads(&e)) {
    free(rs);
    forget_threads();
    *kept_out = (int)g_nfree;
    g_nfree = 0;
    return 0;
  }
  for (int attempt = 0; attempt < 20 && g_nfree > 0; attempt++) {
    if (attempt) Sleep(2);
    size_t n = g_nfree;
    for (size_t i = 0; i < n; i++) {
      rs[i].busy = 1;
      rs[i].addr = g_deferred_free[i];
      rs[i].len = allocation_size(g_deferred_free[i]);
    }
    DWORD bad = 0;
    if (!hold_all(&e, &bad)) {
      pause += resume_all();
      if (g_hold_stuck) break; /* a thread that does not stop: keep all (retrying would wait the limit again) */
      continue; /* a context that cannot be read proves nothing: try again, else keep all */
    }
    unsigned char *referenced = (unsigned char *)calloc(n, 1);
    if (!referenced) {
      pause += resume_all();
      break;
    }
    for (int t = 0; t < g_nthr; t++)
      for (size_t i = 0; g_thr[t].held && i < n; i++)
        if (!referenced[i] && thread_touches(&g_ctx[t], g_thr[t].stack_top, &rs[i], 1)) referenced[i] = 1;
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
      if (referenced[i]) g_deferred_free[keep++] = g_deferred_free[i];
      else if (!VirtualFreeEx(g_proc, (LPVOID)(uintptr_t)g_deferred_free[i], 0, MEM_RELEASE)) (*free_failures)++;
    }
    g_nfree = keep;
    free(referenced);
    pause += resume_all();
  }
  forget_threads();
  *kept_out = (int)g_nfree;
  free(rs);
  return pause;
}

static int cmd_commit(void) {
  if (!g_in_tx) return fail("LIVE_BAD_REQUEST", 0, "commit without begin");
  if (g_aborted) {
    g_in_tx = 0;
    g_aborted = 0;
    return fail("LIVE_ABORTED", 0, "transaction was rolled back after a failed step; nothing was committed");
  }
  double us = forget_threads();
  int free_failures = 0, kept = 0;
  size_t nfree = g_nfree;
  u64 *kept_list = NULL;
  if (nfree) {
    us += release_deferred(&kept, &free_failures);
    kept_list = (u64 *)malloc(sizeof(u64) * (size_t)(kept ? kept : 1));
    if (kept_list) memcpy(kept_list, g_deferred_free, sizeof(u64) * (size_t)kept);
  }
  size_t steps = g_nundo;
  undo_clear();
  g_in_tx = 0;
  begin_ok();
  out_fmt(",\"steps\":%llu,\"freed\":%d,\"freeFailures\":%d,\"kept\":[", (unsigned long long)steps, (int)nfree - kept - free_failures, free_failures);
  for (int i = 0; kept_list && i < kept; i++) out_fmt("%s\"0x%llx\"", i ? "," : "", (unsigned long long)kept_list[i]);
  out_fmt("],\"pausedUs\":%.1f", us);
  free(kept_list);
  return 1;
}

static int cmd_abort(void) {
  if (!g_in_tx) return fail("LIVE_BAD_REQUEST", 0, "abort without begin");
  int was_aborted = g_aborted;
  if (!g_aborted) rollback();
  g_in_tx = 0;
  g_aborted = 0;
  begin_ok();
  out_fmt(",\"alreadyRolledBack\":%s,\"undoFailures\":%d", was_aborted ? "true" : "false", g_undo_failures);
  return 1;
}

static int dispatch(void) {
  const char *op = g_tok[0];
  g_hold_limit_ms = HOLD_LIMIT_DEFAULT_MS; /* `hold=` is per request */
  if (!strcmp(op, "hello")) {
    begin_ok();
    out_fmt(",\"agent\":\"hotpatch-win32-agent\",\"protocol\":%d,\"agentPid\":%lu,\"features\":[\"swap-without-sites\",\"quiescent\"]", PROTOCOL_VERSION,
            (unsigned long)GetCurrentProcessId());
    return 1;
  }
  if (!strcmp(op, "open")) return cmd_open();
  if (!strcmp(op, "module")) return cmd_module();
  if (!strcmp(op, "modules")) return cmd_modules();
  if (!strcmp(op, "read")) return cmd_read();
  if (!strcmp(op, "expect")) return cmd_expect();
  if (!strcmp(op, "write")) return cmd_write();
  if (!strcmp(op, "protect")) return cmd_protect();
  if (!strcmp(op, "flush")) return cmd_flush();
  if (!strcmp(op, "alloc")) return cmd_alloc();
  if (!strcmp(op, "alloc-at")) return cmd_alloc_at();
  if (!strcmp(op, "find-free")) return cmd_find_free();
  if (!strcmp(op, "protections")) return cmd_protections();
  if (!strcmp(op, "redirect")) return cmd_redirect();
  if (!strcmp(op, "free")) return cmd_free();
  if (!strcmp(op, "query")) return cmd_query();
  if (!strcmp(op, "find-marker")) return cmd_find_marker();
  if (!strcmp(op, "proc")) return cmd_proc();
  if (!strcmp(op, "call")) return cmd_call();
  if (!strcmp(op, "suspend")) return cmd_suspend();
  if (!strcmp(op, "resume")) return cmd_resume();
  if (!strcmp(op, "swap")) return cmd_swap();
  if (!strcmp(op, "begin")) {
    if (g_in_tx) return fail("LIVE_BAD_REQUEST", 0, "a transaction is already open");
    if (!need_process()) return 0;
    g_guard = g_ntok > 1 && !strcmp(g_tok[1], "guard");
    if (g_ntok > 1 && !g_guard) return fail("LIVE_BAD_REQUEST", 0, "begin: the only mode is `guard`");
    g_in_tx = 1;
    g_aborted = 0;
    undo_clear();
    begin_ok();
    return 1;
  }
  if (!strcmp(op, "commit")) return cmd_commit();
  if (!strcmp(op, "abort")) return cmd_abort();
  return fail("LIVE_BAD_REQUEST", 0, "unknown request %.40s", op);
}

/* Reads one line of any length (write requests carry whole code blocks as hex). */
static char *read_line(void) {
  static char *buf;
  static size_t cap;
  size_t len = 0;
  if (!buf) {
    cap = 1 << 16;
    buf = (char *)malloc(cap);
    if (!buf) ExitProcess(3);
  }
  for (;;) {
    if (!fgets(buf + len, (int)(cap - len), stdin)) return len ? buf : NULL;
    len += strlen(buf + len);
    if (len && buf[len - 1] == '\n') break;
    if (len + 1 >= cap) {
      cap *= 2;
      buf = (char *)realloc(buf, cap);
      if (!buf) ExitProcess(3);
    }
  }
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
  return buf;
}

int main(void) {
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
  QueryPerformanceFrequency(&g_freq);
  HMODULE ntdll = GetModuleHandleA("ntdll.dll");
  g_next_thread = (NtGetNextThreadFn)(void *)GetProcAddress(ntdll, "NtGetNextThread");
  g_query_thread = (NtQueryInformationThreadFn)(void *)GetProcAddress(ntdll, "NtQueryInformationThread");
  g_query_process = (NtQueryInformationProcessFn)(void *)GetProcAddress(ntdll, "NtQueryInformationProcess");
  g_query_system = (NtQuerySystemInformationFn)(void *)GetProcAddress(ntdll, "NtQuerySystemInformation");
  g_suspend_process = (NtProcessFn)(void *)GetProcAddress(ntdll, "NtSuspendProcess");
  g_resume_process = (NtProcessFn)(void *)GetProcAddress(ntdll, "NtResumeProcess");
  for (;;) {
    char *line = read_line();
    if (!line) break;
    if (tokenize(line) == 0) continue;
    g_op = g_tok[0];
    if (!strcmp(g_op, "quit")) break;
    if (!strcmp(g_op, "batch")) {
      g_out_len = 0;
      if (g_in_batch) fail("LIVE_BAD_REQUEST", 0, "batch inside a batch");
      else {
        g_in_batch = 1;
        g_batch_failed_at = -1;
        g_batch_index = 0;
        begin_ok();
      }
      send_line();
      continue;
    }
    if (!strcmp(g_op, "end")) {
      g_out_len = 0;
      if (!g_in_batch) fail("LIVE_BAD_REQUEST", 0, "end without batch");
      else {
        g_in_batch = 0;
        begin_ok();
        out_fmt(",\"failedAt\":%d", g_batch_failed_at);
      }
      send_line();
      continue;
    }
    if (g_in_batch && g_batch_failed_at >= 0) {
      fail("LIVE_SKIPPED", 0, "skipped: request %d of this batch failed", g_batch_failed_at);
      g_batch_index++;
      send_line();
      continue;
    }
    /* After a failed step the transaction is already rolled back: skip the rest until
     * commit/abort, so a driver may pipeline a whole plan without waiting for each answer. */
    if (g_in_tx && g_aborted && strcmp(g_op, "commit") && strcmp(g_op, "abort") && strcmp(g_op, "hello")) {
      fail("LIVE_ABORTED", 0, "skipped: an earlier step of this transaction failed and was rolled back");
      send_line();
      continue;
    }
    LARGE_INTEGER t0, t1;
    QueryPerformanceCounter(&t0);
    lx_unstop_watch_pid(g_unix_pid, 1); /* a stop Wine lost (host-ran.h) */
    int okv = dispatch();
    lx_unstop_watch_pid(g_unix_pid, 0);
    if (g_in_batch) {
      if (!okv) g_batch_failed_at = g_batch_index;
      g_batch_index++;
    }
    if (!okv && g_in_tx && !g_aborted && !g_guard) {
      rollback();
      g_aborted = 1;
      out_fmt(",\"rolledBack\":true,\"undoFailures\":%d", g_undo_failures);
    }
    QueryPerformanceCounter(&t1);
    out_fmt(",\"us\":%.1f", (double)(t1.QuadPart - t0.QuadPart) * 1e6 / (double)g_freq.QuadPart);
    send_line();
  }
  /* stdin closed or quit: never leave the target frozen or half patched. */
  if (g_in_tx && !g_aborted) rollback();
  forget_threads();
  if (g_proc) CloseHandle(g_proc);
  return 0;
}
