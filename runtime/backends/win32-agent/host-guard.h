/*
 * The boost's watchdog under Wine on Linux (included by host-sched.h; see PROTOCOL.md, "The hold
 * on a busy machine", "An agent that dies").
 *
 * The agent raises the target's threads, the wineserver's and its own for a pause and puts them
 * back after. An agent killed in between (SIGKILL, a crash, TerminateProcess) would leave them
 * raised: at nice -20 and SCHED_FIFO (the default), or with a short slice
 * (HOTPATCH_AGENT_BOOST=slice); SCHED_FIFO left behind starves the machine. Nothing in the kernel undoes a scheduling change when the process that
 * made it dies (RLIMIT_RTTIME kills the real-time thread rather than demoting it, and would kill
 * the target; SCHED_RESET_ON_FORK acts on fork only). So the agent forks, once, a watchdog: a
 * Linux process that shares nothing with it but one end of a socket pair. Before the agent
 * changes a thread's nice, slice or policy, or an autogroup's nice, it sends the watchdog what
 * that thread or group had; after it has put everything back it sends "clear". When the agent's
 * end closes (the kernel closes it whatever way the agent died) with records not cleared, the
 * watchdog puts them back itself and exits. Nothing is changed that the watchdog was not told
 * first: a record that cannot be sent means no boost.
 *
 * The child of the raw fork is a copy of the calling thread of a Wine process: it blocks every
 * signal (Wine's handlers must never run there), closes every file descriptor but its socket
 * (the agent's stdio, the wineserver's socket: a reader of the agent's pipes must see them close
 * when the agent dies), leaves the process group (a signal to the agent's group does not reach
 * it; it stays in the session, so in the agent's autogroup, which it can write back through its
 * own /proc entry once the agent is gone) and from then on makes raw system calls only, no Wine or C library call that could take a
 * lock another thread held at the fork.
 */
#ifndef HOTPATCH_HOST_GUARD_H
#define HOTPATCH_HOST_GUARD_H

#define LX_READ 0
#define LX_RT_SIGPROCMASK 14
#define LX_SENDTO 44
#define LX_SOCKETPAIR 53
#define LX_FORK 57
#define LX_KILL 62
#define LX_SETPGID 109
#define LX_GETPPID 110
#define LX_EXIT_GROUP 231
#define LX_CLOSE_RANGE 436
#define LX_AF_UNIX 1
#define LX_SOCK_STREAM 1
#define LX_SOCK_CLOEXEC 02000000
#define LX_MSG_NOSIGNAL 0x4000
#define LX_SIGKILL 9

enum { LX_GUARD_THREAD = 1, LX_GUARD_GROUP = 2, LX_GUARD_CLEAR = 3 };
typedef struct {
  lx_word id; /* thread id, or the pid whose autogroup */
  u64 slice; /* thread: the slice to put back (0: the kernel's default) */
  int kind, nice; /* the nice it had (thread or autogroup) */
  unsigned policy; /* thread: its policy */
  int sliced; /* thread: its slice or policy may be changed (put back policy and slice too) */
} LxGuardRec;

typedef void (*LxGuardFn)(lx_word fd);
#define LX_GUARD_OFF (-3)
static lx_word g_guard_fd = -2; /* the agent's end; -2 not started yet, -1 unavailable, LX_GUARD_OFF */

/* HOTPATCH_AGENT_GUARD=off (test only): boost without the watchdog, as builds before it did, so
 * that a test can show what an agent killed mid-boost left behind then. */
static int lx_guard_wanted(void) {
  char v[8];
  DWORD n = GetEnvironmentVariableA("HOTPATCH_AGENT_GUARD", v, sizeof v);
  return !(n > 0 && n < sizeof v && strcmp(v, "off") == 0);
}
static int g_guard_pending; /* records sent since the last clear */

/* Closes every descriptor but `keep` (close_range, Linux 5.9+; else one by one). */
static void lx_close_all_but(lx_word keep) {
  if (keep > 0) lx_syscall(LX_CLOSE_RANGE, 0, keep - 1, 0, 0, 0, 0);
  if (lx_syscall(LX_CLOSE_RANGE, keep + 1, 0xffffffffll, 0, 0, 0, 0) == 0) return;
  for (lx_word fd = 0; fd < 65536; fd++)
    if (fd != keep) lx_syscall(LX_CLOSE, fd, 0, 0, 0, 0, 0);
}

/* Starts the watchdog running `run` on its end of a socket pair; the agent's end, or -1. */
static lx_word lx_guard_start(LxGuardFn run) {
  static int fds[2];
  if (lx_syscall(LX_SOCKETPAIR, LX_AF_UNIX, LX_SOCK_STREAM | LX_SOCK_CLOEXEC, 0, (lx_word)(uintptr_t)fds, 0, 0) < 0) return -1;
  static u64 all = ~0ull, old;
  lx_syscall(LX_RT_SIGPROCMASK, 0 /* SIG_BLOCK */, (lx_word)(uintptr_t)&all, (lx_word)(uintptr_t)&old, 8, 0, 0);
  lx_word pid = lx_syscall(LX_FORK, 0, 0, 0, 0, 0, 0);
  if (pid == 0) { /* the watchdog: signals stay blocked */
    lx_close_all_but(fds[1]);
    lx_syscall(LX_SETPGID, 0, 0, 0, 0, 0, 0);
    run(fds[1]);
    lx_syscall(LX_EXIT_GROUP, 0, 0, 0, 0, 0, 0);
  }
  lx_syscall(LX_RT_SIGPROCMASK, 2 /* SIG_SETMASK */, (lx_word)(uintptr_t)&old, 0, 8, 0, 0);
  lx_syscall(LX_CLOSE, fds[1], 0, 0, 0, 0, 0);
  if (pid < 0) {
    lx_syscall(LX_CLOSE, fds[0], 0, 0, 0, 0, 0);
    return -1;
  }
  return fds[0];
}

/* Sends one record; 0 when the watchdog is gone (then it is never used again). */
static int lx_guard_send(const LxGuardRec *r) {
  if (g_guard_fd == LX_GUARD_OFF) return 1;
  if (g_guard_fd < 0) return 0;
  static LxGuardRec copy;
  copy = *r;
  if (lx_syscall(LX_SENDTO, g_guard_fd, (lx_word)(uintptr_t)&copy, sizeof copy, LX_MSG_NOSIGNAL, 0, 0) != (lx_word)sizeof copy) {
    lx_syscall(LX_CLOSE, g_guard_fd, 0, 0, 0, 0, 0);
    g_guard_fd = -1;
    return 0;
  }
  if (r->kind != LX_GUARD_CLEAR) g_guard_pending = 1;
  return 1;
}

/* After everything was put back: the watchdog forgets its records. */
static void lx_guard_clear(void) {
  if (!g_guard_pending) return;
  LxGuardRec r = {0, 0, LX_GUARD_CLEAR, 0, 0, 0};
  lx_guard_send(&r);
  g_guard_pending = 0;
}

/* Reads one whole record from the watchdog's end; 0 at end of stream (the agent is gone). */
static int lx_guard_recv(lx_word fd, LxGuardRec *r) {
  static unsigned char buf[sizeof(LxGuardRec)];
  size_t have = 0;
  while (have < sizeof buf) {
    lx_word n = lx_syscall(LX_READ, fd, (lx_word)(uintptr_t)(buf + have), (lx_word)(sizeof buf - have), 0, 0, 0);
    if (n == -4 /* EINTR */) continue;
    if (n <= 0) return 0;
    have += (size_t)n;
  }
  memcpy(r, buf, sizeof *r);
  return 1;
}

/* Test only: HOTPATCH_AGENT_TEST_DIE=boost makes the agent kill itself (SIGKILL, no cleanup of
 * any kind) right after the boost of a swap, before the suspension: what an agent killed there
 * leaves behind is what test/win32-agent.test.ts reads. */
static void lx_test_die_after_boost(void) {
  char v[16];
  DWORD n = GetEnvironmentVariableA("HOTPATCH_AGENT_TEST_DIE", v, sizeof v);
  if (n > 0 && n < sizeof v && strcmp(v, "boost") == 0) lx_syscall(LX_KILL, lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0), LX_SIGKILL, 0, 0, 0, 0);
}

#endif
