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

/* Thread `tid`'s run time (ns) and scheduler state letter; 0 when it is gone. */
static int lx_thread_run_state(lx_word tid, u64 *run, char *state) {
  static char path[48], buf[512];
  u64 delay;
  if (!lx_schedstat(tid, run, &delay)) return 0;
  snprintf(path, sizeof path, "/proc/%lld/stat", (long long)tid);
  if (!lx_read_small(path, buf, sizeof buf)) return 0;
  const char *p = strrchr(buf, ')'); /* "TID (comm) S ...": the name may hold spaces and parentheses */
  if (!p || p[1] != ' ') return 0;
  *state = p[2];
  return 1;
}

static void lx_ran_note(void *ctx, lx_word tid) {
  (void)ctx;
  char state;
  if (g_nran >= LX_RAN_MAX || !lx_thread_run_state(tid, &g_ran_run[g_nran], &state)) return;
  g_ran_tid[g_nran++] = tid;
}

/*
 * A target frozen by a stop signal Wine lost. The wineserver reads another process's memory,
 * and the debug registers of every context read, by PTRACE_ATTACH to a target thread and a
 * wait4 for its SIGSTOP under a 50 ms watchdog. On a loaded machine a thread that does not get
 * a core in time makes the server give up; its PTRACE_DETACH fails on the still running
 * thread, which takes the SIGSTOP later, and the server passes it on: every thread of the
 * target that is not traced enters group stop (state T) and stays there until SIGCONT (seen:
 * the target's threads in do_signal_stop, the agent waiting for ever on a context). A Wine
 * suspension needs each thread to run its signal handler, so no hold can complete on such a
 * target. Before each hold and between tries the agent sends the target SIGCONT when one of
 * its threads is in group stop; a thread held by Wine stays held (it waits in the server, not
 * in the stop). Returns 1 when it sent SIGCONT.
 */
#define LX_SIGCONT 18
static void lx_note_stopped(void *ctx, lx_word tid) {
  u64 run;
  char state;
  if (lx_thread_run_state(tid, &run, &state) && state == 'T') *(int *)ctx = 1;
}

static int lx_continue_stopped(lx_word pid) {
  if (pid <= 0 || !lx_host()) return 0;
  static char path[40];
  int stopped = 0;
  snprintf(path, sizeof path, "/proc/%lld/task", (long long)pid);
  lx_each_numbered(path, lx_note_stopped, &stopped);
  return stopped && lx_syscall(LX_KILL, pid, LX_SIGCONT, 0, 0, 0, 0) == 0;
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
