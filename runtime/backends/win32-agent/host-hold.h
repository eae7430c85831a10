/*
 * A hold that cannot complete, under Wine on Linux (included by agent.c after resume_all; see
 * PROTOCOL.md, "A hold that cannot complete").
 *
 * A hold reads every held thread's context, and under Wine that read waits, without a timeout,
 * until the thread has run its SIGUSR1 handler. A target thread that never runs again (left in a
 * ptrace stop, state `t` in /proc/TID/stat with the wineserver as TracerPid in /proc/TID/status,
 * which SIGCONT does not end) makes the agent's main thread wait for ever inside the hold, with
 * the rest of the target suspended: the driver's request limit then kills the agent, and Wine
 * keeps the target suspended after the agent is gone (suspend counts outlive their holder).
 *
 * So the unstopper (host-ran.h), which runs every LX_UNSTOP_BUSY_MS while a request is served,
 * also watches the hold: after LX_HOLD_KICK_MS it looks for target threads a tracer holds and
 * sends that tracer, when it is the wineserver, SIGCHLD (every LX_HOLD_KICK_EVERY_MS): the
 * server then reaps the stop it missed and lets the thread go (server/ptrace.c:
 * sigchld_callback, a wait4 without waiting; a SIGCHLD with nothing to reap changes nothing).
 * After LX_HOLD_LIMIT_MS (HOTPATCH_AGENT_HOLD_LIMIT_MS in the agent's environment: tests) it gives the hold up: it takes the hold from the main thread (which
 * parks at its next step, should its wait ever end), resumes the target, answers the request
 * with LIVE_HOLD_STUCK naming the thread waited for and every target thread not sleeping or
 * traced (Linux tid, state, wchan, tracer), and ends the agent. A hold comes before any byte of its request is
 * written, so the request changes nothing in the target.
 */
#ifndef HOTPATCH_HOST_HOLD_H
#define HOTPATCH_HOST_HOLD_H

#define LX_SIGCHLD 17
#define LX_HOLD_KICK_MS 1000
#define LX_HOLD_KICK_EVERY_MS 250
#define LX_HOLD_LIMIT_MS 15000

static volatile LONG g_hold_state; /* 0: no hold; 1: a hold reads contexts; 2: the unstopper gave it up */
static volatile LONG64 g_hold_since; /* GetTickCount64() when the hold began */
static volatile LONG g_hold_tid; /* the Windows thread whose context the hold reads */
static volatile LONG g_hold_kicks; /* SIGCHLDs sent to a tracer that held a target thread */
static ULONGLONG g_hold_kicked_at;

/* The target's threads as the unstopper sees them: every thread not sleeping, for the message;
 * the tracers of threads in a ptrace stop. Buffers are the unstopper's own. */
typedef struct {
  char path[64], buf[2048], task[40], dents[4096];
  char list[320];
  size_t len;
  lx_word tracers[4];
  int ntracers;
} LxTraceScan;

/* TracerPid of a Linux thread of `pid`, 0 when none or unreadable. */
static lx_word lx_tracer_of(LxTraceScan *s, lx_word pid, lx_word tid) {
  snprintf(s->path, sizeof s->path, "/proc/%lld/task/%lld/status", (long long)pid, (long long)tid);
  if (!lx_read_small(s->path, s->buf, sizeof s->buf)) return 0;
  const char *t = strstr(s->buf, "TracerPid:");
  return t ? (lx_word)strtoll(t + 10, NULL, 10) : 0;
}

static lx_word g_trace_pid;
/* Notes thread `tid` when it is not sleeping untraced: its state, tracer and wchan. */
static void lx_note_traced(void *ctx, lx_word tid) {
  LxTraceScan *s = (LxTraceScan *)ctx;
  char state = lx_thread_state(tid, s->path, s->buf);
  if (state == 0) return;
  lx_word tracer = lx_tracer_of(s, g_trace_pid, tid);
  if (state == 'S' && tracer <= 0) return;
  snprintf(s->path, sizeof s->path, "/proc/%lld/task/%lld/wchan", (long long)g_trace_pid, (long long)tid);
  if (!lx_read_small(s->path, s->buf, 64)) s->buf[0] = 0;
  if (s->len + 80 < sizeof s->list) {
    int n = snprintf(s->list + s->len, sizeof s->list - s->len, "%s%lld %c %s", s->len ? ", " : "", (long long)tid, state, s->buf[0] ? s->buf : "-");
    if (n > 0) s->len += (size_t)n;
    if (tracer > 0 && (n = snprintf(s->list + s->len, sizeof s->list - s->len, " traced by %lld", (long long)tracer)) > 0) s->len += (size_t)n;
  }
  if (tracer <= 0) return;
  for (int i = 0; i < s->ntracers; i++)
    if (s->tracers[i] == tracer) return;
  if (s->ntracers < 4) s->tracers[s->ntracers++] = tracer;
}

static void lx_trace_scan(LxTraceScan *s, lx_word pid) {
  s->len = 0;
  s->list[0] = 0;
  s->ntracers = 0;
  g_trace_pid = pid;
  snprintf(s->task, sizeof s->task, "/proc/%lld/task", (long long)pid);
  lx_each_numbered_in(s->task, s->dents, sizeof s->dents, lx_note_traced, s);
}

/* Sends SIGCHLD to each tracer that is a wineserver (its /proc/PID/comm). */
static void lx_kick_tracers(LxTraceScan *s) {
  for (int i = 0; i < s->ntracers; i++) {
    snprintf(s->path, sizeof s->path, "/proc/%lld/comm", (long long)s->tracers[i]);
    if (!lx_read_small(s->path, s->buf, 64) || strncmp(s->buf, "wineserver", 10)) continue;
    if (lx_syscall(LX_KILL, s->tracers[i], LX_SIGCHLD, 0, 0, 0, 0) == 0) InterlockedIncrement(&g_hold_kicks);
  }
}

/* The main thread: a hold begins / reads thread `tid` / ends. A hold the unstopper gave up is
 * never continued: the main thread parks and the unstopper ends the process. */
static void lx_hold_park_if_taken(void) {
  if (InterlockedCompareExchange(&g_hold_state, 0, 0) == 2) Sleep(INFINITE);
}
static void lx_hold_begin(void) {
  g_hold_since = (LONG64)GetTickCount64();
  g_hold_kicked_at = 0;
  InterlockedExchange(&g_hold_state, 1);
}
static void lx_hold_reading(DWORD tid) {
  lx_hold_park_if_taken();
  InterlockedExchange(&g_hold_tid, (LONG)tid);
}
static void lx_hold_end(void) {
  if (InterlockedCompareExchange(&g_hold_state, 0, 1) != 1) Sleep(INFINITE);
}

/* The limit: LX_HOLD_LIMIT_MS, or HOTPATCH_AGENT_HOLD_LIMIT_MS (tests: a shorter one). */
static ULONGLONG lx_hold_limit_ms(void) {
  static ULONGLONG limit;
  if (!limit) {
    char v[24];
    DWORD n = GetEnvironmentVariableA("HOTPATCH_AGENT_HOLD_LIMIT_MS", v, sizeof v);
    long long ms = n > 0 && n < sizeof v ? strtoll(v, NULL, 10) : 0;
    limit = ms > 0 ? (ULONGLONG)ms : LX_HOLD_LIMIT_MS;
  }
  return limit;
}

/* The unstopper, each turn while the target's pid is watched. */
static void lx_hold_tick(lx_word pid) {
  static LxTraceScan scan;
  if (InterlockedCompareExchange(&g_hold_state, 0, 0) != 1) return;
  ULONGLONG now = GetTickCount64(), waited = now - (ULONGLONG)g_hold_since;
  if (waited < LX_HOLD_KICK_MS) return;
  if (waited < lx_hold_limit_ms()) {
    if (now - g_hold_kicked_at < LX_HOLD_KICK_EVERY_MS) return;
    g_hold_kicked_at = now;
    lx_trace_scan(&scan, pid);
    lx_kick_tracers(&scan);
    return;
  }
  if (InterlockedCompareExchange(&g_hold_state, 2, 1) != 1) return; /* the hold ended meanwhile */
  Sleep(200); /* a main thread whose wait ended just now reaches its next step and parks there */
  lx_trace_scan(&scan, pid);
  resume_all();
  char msg[700];
  snprintf(msg, sizeof msg, "the hold waited %llu ms for the context of thread %ld and was given up, the target resumed, nothing written by this request; target threads not sleeping or traced (Linux tid, state, wchan): %s; SIGCHLDs sent to the tracer: %ld",
           (unsigned long long)waited, (long)g_hold_tid, scan.len ? scan.list : "none", (long)g_hold_kicks);
  g_out_len = 0; /* the main thread, parked or blocked in the hold, writes nothing any more */
  out_fmt("{\"ok\":false,\"op\":");
  out_jstr(g_op);
  out_fmt(",\"code\":\"LIVE_HOLD_STUCK\",\"message\":");
  out_jstr(msg);
  out_fmt(",\"thread\":%ld}\n", (long)g_hold_tid);
  fwrite(g_out, 1, g_out_len, stdout);
  fflush(stdout);
  TerminateProcess(GetCurrentProcess(), 4);
}

#endif
