/*
 * Between the tries of a hold (included by agent.c after host-sched.h; see PROTOCOL.md, "A try
 * the target did not run between"): did the target's threads run since the last resume?
 *
 * Under Wine a hold stops each thread inside its SIGUSR1 handler, blocked in the server until
 * the resume wakes it. A thread woken by the resume but not yet given a core when the next try
 * suspends it again has not executed one instruction of its own: it finds the new SIGUSR1
 * pending as it returns from the handler and stops again at the very same RIP. On a busy
 * machine a woken nice-0 thread may wait longer than the retry's delay (a fair-class wake-up
 * that does not preempt waits for the tick, 4 ms at HZ=250, and more behind other runnable
 * tasks), so a thread caught in a site once could be caught there on every try without ever
 * running: LIVE_THREAD_IN_SITE for a thread that was never given the chance to leave.
 *
 * So after the delay the agent also waits, Sleep(1) at a time and at most LX_RAN_WAIT_MS, until
 * no thread of the target is still waiting for its first turn since the resume: every Linux
 * thread of the target whose run time (/proc/TID/schedstat, ns) has not grown since the resume
 * must be sleeping (state S or D in /proc/TID/stat: blocked in its own wait, which the resume
 * gave back to it), not runnable (R: woken, waiting for a core). A thread that ran at least
 * once has left the handler and executed its own code (or blocked again in it).
 *
 * Under Wine on Linux only (host-io.h), with the target's Linux pid known; elsewhere (Windows:
 * SuspendThread's resumption needs no signal) nothing to wait for.
 */
#ifndef HOTPATCH_HOST_RAN_H
#define HOTPATCH_HOST_RAN_H

#define LX_RAN_MAX 256
#define LX_RAN_WAIT_MS 50

static lx_word g_ran_tid[LX_RAN_MAX];
static u64 g_ran_run[LX_RAN_MAX];
static int g_nran;

/* Thread `tid`'s scheduler state letter from /proc/TID/stat, 0 when it is gone; `path` (48
 * bytes) and `buf` (512) are the caller's, so that another thread can read states too. */
static char lx_thread_state(lx_word tid, char *path, char *buf) {
  snprintf(path, 48, "/proc/%lld/stat", (long long)tid);
  if (!lx_read_small(path, buf, 512)) return 0;
  const char *p = strrchr(buf, ')'); /* "TID (comm) S ...": the name may hold spaces and parentheses */
  return p && p[1] == ' ' ? p[2] : 0;
}

/* Thread `tid`'s run time (ns) and scheduler state letter; 0 when it is gone. */
static int lx_thread_run_state(lx_word tid, u64 *run, char *state) {
  static char path[48], buf[512];
  u64 delay;
  if (!lx_schedstat(tid, run, &delay)) return 0;
  return (*state = lx_thread_state(tid, path, buf)) != 0;
}

static void lx_ran_note(void *ctx, lx_word tid) {
  (void)ctx;
  char state;
  if (g_nran >= LX_RAN_MAX || !lx_thread_run_state(tid, &g_ran_run[g_nran], &state)) return;
  g_ran_tid[g_nran++] = tid;
}

/*
 * A target frozen by a stop signal Wine lost (PROTOCOL.md, "Memory I/O under Wine"): every
 * thread of the target that is not traced in group stop (state T) until SIGCONT, and no Wine
 * suspension can complete on it, since each needs the thread to run its signal handler. Before
 * each hold the agent sends the target SIGCONT when one of its threads is in group stop, and
 * a thread of the agent's own does the same all along (the unstopper, below). A
 * thread Wine holds stays held: it waits in the server, not in the stop. A ptrace stop (the
 * server reading a context) is state t, not T, and is left alone.
 */
#define LX_SIGCONT 18
static volatile LONG g_continued; /* SIGCONTs the agent sent to a target in group stop (`swap` reports its own) */
typedef struct {
  int stopped;
  char task[40], path[48], buf[512], dents[4096];
} LxStopScan;

static void lx_note_stopped(void *ctx, lx_word tid) {
  LxStopScan *s = (LxStopScan *)ctx;
  if (!s->stopped && lx_thread_state(tid, s->path, s->buf) == 'T') s->stopped = 1;
}

/* Sends `pid` SIGCONT when one of its threads is in group stop, scanning into `s` (each thread
 * its own); returns 1 when it did. */
static int lx_continue_stopped_in(lx_word pid, LxStopScan *s) {
  if (pid <= 0 || !lx_host()) return 0;
  s->stopped = 0;
  snprintf(s->task, sizeof s->task, "/proc/%lld/task", (long long)pid);
  lx_each_numbered_in(s->task, s->dents, sizeof s->dents, lx_note_stopped, s);
  return s->stopped && lx_syscall(LX_KILL, pid, LX_SIGCONT, 0, 0, 0, 0) == 0;
}

static int lx_continue_stopped(lx_word pid) {
  static LxStopScan scan;
  if (!lx_continue_stopped_in(pid, &scan)) return 0;
  InterlockedIncrement(&g_continued);
  return 1;
}

/*
 * A thread the wineserver lost (PROTOCOL.md, "A thread the server lost"). The server serves
 * ReadProcessMemory / WriteProcessMemory by another program, and each thread's debug registers
 * when Wine suspends and resumes it, by PTRACE_ATTACH of a target thread, and waits 3 s for its
 * stop (its watchdog, measured under Wine 8). A thread that gets no core that long makes the
 * server give up: its PTRACE_DETACH fails (the thread is not stopped yet), so the server takes
 * the thread for dead (unix pid -1) and never signals it again, while the thread lives on,
 * traced by the server. Each later suspension of that thread is only counted: the SIGUSR1 that
 * makes a Wine thread stop in its handler and report its context is never sent, and a context
 * read (every hold) waits for ever. So while a hold waits for contexts, the unstopper sends that
 * SIGUSR1 itself to each thread of the target traced by the wineserver and not in a ptrace stop
 * (state t) for LX_LOST_MS, again every LX_LOST_MS while it stays so. The server's own stops
 * never last that long unless the thread got no core, and a signal to a thread whose stop is
 * merely late only makes it look in the server for a suspension, as every Wine thread does on
 * SIGUSR1, and go on. A thread signalled once stays lost (the server never attaches it again):
 * at each later hold it gets its signal at once.
 */
#define LX_SIGUSR1 10
#define LX_TGKILL 234
#define LX_LOST_MS 500
#define LX_LOST_MAX 64
static volatile LONG g_unstop_holding; /* a hold waits for the target's contexts */
static volatile LONG g_unstop_server; /* the wineserver's Linux pid (host-sched.h), -1: unknown */
static volatile LONG g_lost_signals; /* SIGUSR1s sent to threads the server lost */
typedef struct {
  lx_word tid;
  DWORD since;
} LxLost;
typedef struct {
  lx_word pid;
  DWORD now;
  int n, nnext;
  int nknown;
  LxLost seen[LX_LOST_MAX], next[LX_LOST_MAX];
  lx_word known[LX_LOST_MAX]; /* threads signalled before: lost for good */
  char task[40], path[64], buf[2048], dents[4096];
} LxLostScan;

/* The value after `key` in a /proc status text, as a number (letter 0) or its first letter. */
static lx_word lx_status_field(const char *text, const char *key, int letter) {
  const char *p = strstr(text, key);
  if (!p) return -1;
  p += strlen(key);
  while (*p == ' ' || *p == '\t') p++;
  return letter ? (lx_word)(unsigned char)*p : (lx_word)strtoll(p, NULL, 10);
}

static void lx_note_lost(void *ctx, lx_word tid) {
  LxLostScan *s = (LxLostScan *)ctx;
  snprintf(s->path, sizeof s->path, "/proc/%lld/task/%lld/status", (long long)s->pid, (long long)tid);
  if (s->nnext >= LX_LOST_MAX || !lx_read_small(s->path, s->buf, sizeof s->buf)) return;
  if (lx_status_field(s->buf, "TracerPid:", 0) != g_unstop_server || lx_status_field(s->buf, "State:", 1) == 't') return;
  int known = 0;
  for (int i = 0; i < s->nknown; i++)
    if (s->known[i] == tid) known = 1;
  DWORD since = known ? s->now - LX_LOST_MS : s->now;
  for (int i = 0; i < s->n; i++)
    if (s->seen[i].tid == tid) since = s->seen[i].since;
  if (s->now - since >= LX_LOST_MS && lx_syscall(LX_TGKILL, s->pid, tid, LX_SIGUSR1, 0, 0, 0) == 0) {
    InterlockedIncrement(&g_lost_signals);
    since = s->now;
    if (!known && s->nknown < LX_LOST_MAX) s->known[s->nknown++] = tid;
  }
  s->next[s->nnext].tid = tid;
  s->next[s->nnext++].since = since;
}

/* One look at `pid`'s threads for those the server lost, while a hold waits (else forgets). */
static void lx_signal_lost(lx_word pid, LxLostScan *s) {
  if (pid != s->pid) s->nknown = 0; /* another target */
  s->pid = pid;
  if (!g_unstop_holding || g_unstop_server <= 0) {
    s->n = 0;
    return;
  }
  s->now = GetTickCount();
  s->nnext = 0;
  snprintf(s->task, sizeof s->task, "/proc/%lld/task", (long long)pid);
  lx_each_numbered_in(s->task, s->dents, sizeof s->dents, lx_note_lost, s);
  memcpy(s->seen, s->next, sizeof(LxLost) * (size_t)s->nnext);
  s->n = s->nnext;
}

/*
 * The unstopper. A stop can be lost at any time the server reads the target through ptrace
 * (a context read inside a hold; a late stop after the hold ended), and then everything that
 * needs a turn of a target thread waits without a timeout: a thread's suspension (the agent's
 * GetThreadContext), and every call Wine serves in the target itself through a system APC
 * (VirtualQueryEx, VirtualProtectEx, VirtualAllocEx: seen, `swap` waiting in its thread walk's
 * VirtualQueryEx on a stopped target until the driver's timeout); and a stop arriving after
 * the last request would leave the patched process frozen. So once the target's Linux pid is
 * known, one thread of the agent (started then) looks for a thread of the target in group stop
 * and sends SIGCONT: every LX_UNSTOP_BUSY_MS while a request is served (each request wakes it
 * first), every LX_UNSTOP_IDLE_MS between requests, until the agent exits or leaves the target.
 * It reads /proc with its own buffers only.
 */
#define LX_UNSTOP_BUSY_MS 5
#define LX_UNSTOP_IDLE_MS 100
static volatile LONG g_unstop_pid; /* the target's Linux pid to watch, else 0 */
static volatile LONG g_unstop_busy; /* a request is being served */
static HANDLE g_unstop_wake;

static DWORD WINAPI lx_unstop_watch(LPVOID unused) {
  (void)unused;
  static LxStopScan scan; /* this thread's own */
  static LxLostScan lost;
  for (;;) {
    LONG pid = g_unstop_pid;
    if (pid <= 0) {
      WaitForSingleObject(g_unstop_wake, INFINITE);
      continue;
    }
    if (lx_continue_stopped_in(pid, &scan)) InterlockedIncrement(&g_continued);
    lx_signal_lost(pid, &lost);
    WaitForSingleObject(g_unstop_wake, g_unstop_busy ? LX_UNSTOP_BUSY_MS : LX_UNSTOP_IDLE_MS);
  }
  return 0;
}

/* Watches `pid` (<= 0: nothing), `busy` while a request is served: starts the unstopper once,
 * and wakes it when a request starts. Nothing where it cannot run. */
static void lx_unstop_watch_pid(lx_word pid, int busy) {
  if (pid <= 0 || !lx_host() || g_unstop_wake == INVALID_HANDLE_VALUE) {
    InterlockedExchange(&g_unstop_pid, 0);
    return;
  }
  if (!g_unstop_wake) {
    HANDLE wake = CreateEventA(NULL, FALSE, FALSE, NULL);
    HANDLE th = wake ? CreateThread(NULL, 64 * 1024, lx_unstop_watch, NULL, 0, NULL) : NULL;
    if (!th) {
      if (wake) CloseHandle(wake);
      g_unstop_wake = INVALID_HANDLE_VALUE;
      return;
    }
    CloseHandle(th);
    g_unstop_wake = wake;
  }
  InterlockedExchange(&g_unstop_server, (LONG)lx_wineserver_pid());
  InterlockedExchange(&g_unstop_busy, busy);
  InterlockedExchange(&g_unstop_pid, (LONG)pid);
  if (busy) SetEvent(g_unstop_wake);
}

/* Just after a resume: every thread's run time. 0 when there is nothing to watch. */
static int lx_ran_begin(lx_word pid) {
  g_nran = 0;
  if (pid <= 0 || !lx_host()) return 0;
  static char path[40];
  snprintf(path, sizeof path, "/proc/%lld/task", (long long)pid);
  lx_each_numbered(path, lx_ran_note, NULL);
  return g_nran;
}

/* The threads still runnable that have not run since lx_ran_begin. */
static int lx_ran_waiting(void) {
  int waiting = 0;
  for (int i = 0; i < g_nran; i++) {
    u64 run;
    char state;
    if (!lx_thread_run_state(g_ran_tid[i], &run, &state)) continue; /* exited */
    if (run == g_ran_run[i] && state == 'R') waiting++;
  }
  return waiting;
}

/* Waits (Sleep(1) at a time, at most LX_RAN_WAIT_MS) until every thread of the target woken by
 * the last resume has run; returns the ms waited (-1: gave up with some thread still waiting). */
static int lx_ran_wait(void) {
  if (g_nran == 0) return 0;
  for (int ms = 0; ms < LX_RAN_WAIT_MS; ms++) {
    if (lx_ran_waiting() == 0) return ms;
    Sleep(1);
  }
  return lx_ran_waiting() == 0 ? LX_RAN_WAIT_MS : -1;
}

#endif
