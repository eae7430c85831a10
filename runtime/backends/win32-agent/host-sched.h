/*
 * The pause's scheduling boost under Wine on Linux (included by agent.c after host-io.h; see
 * PROTOCOL.md, "The hold on a busy machine").
 *
 * Under Wine 8 a thread counts as stopped only once it has run its SIGUSR1 handler: the
 * wineserver's suspend sends the signal, the thread (running, or woken from whatever wait it
 * blocks in) runs the handler, which sends its context to the server and waits there; the
 * agent's GetThreadContext waits for that. So every thread of the target needs a core once per
 * pause, and on a busy machine it queues behind every runnable process at its weight. For the
 * pause the agent raises the target's Linux threads, and its own, to nice -20 (setpriority),
 * and SCHED_FIFO (lx_shorten_slice), and puts every one back to the value it read once the
 * target runs again. A watchdog process puts them back if the agent dies in between
 * (host-guard.h): nothing is raised without it.
 *
 * Only under Wine on Linux with the target's Linux pid known (host-io.h), only with the right
 * to lower a nice value (root or CAP_SYS_NICE; otherwise the first setpriority fails and
 * nothing is changed), only threads listed in /proc/PID/task just before the pause (a thread
 * created after that is held like any other, just not boosted). `HOTPATCH_AGENT_BOOST=none` in
 * the agent's environment turns it off, `nice` leaves SCHED_FIFO and the slices out, `slice`
 * gives the shortest slice instead of SCHED_FIFO, `target` is `slice` without the wineserver
 * (comparisons); `rt` is the default.
 */
#ifndef HOTPATCH_HOST_SCHED_H
#define HOTPATCH_HOST_SCHED_H

#define LX_GETPRIORITY 140
#define LX_SETPRIORITY 141
#define LX_PRIO_PROCESS 0
#define LX_BOOST_MAX 512
#define LX_BOOST_NICE (-20)

typedef struct {
  lx_word tid;
  int nice; /* before the boost */
  int sliced; /* its slice was shortened (see lx_shorten_slice) */
  u64 slice; /* the slice it had, ns (0: the kernel's default) */
  unsigned policy;
} LxBoosted;

static LxBoosted g_boosted[LX_BOOST_MAX];
static int g_nboosted, g_nsliced;

#include "host-guard.h" /* the watchdog that puts the boost back when the agent dies */

/* A nice value (-20..19) as text, without the C library; its length. */
static int lx_nice_text(char *out, int nice) {
  int k = 0;
  if (nice < 0) out[k++] = '-', nice = -nice;
  if (nice >= 10) out[k++] = (char)('0' + nice / 10);
  out[k++] = (char)('0' + nice % 10);
  out[k] = 0;
  return k;
}

/*
 * The wake-up half of the boost. Linux (EEVDF, 6.6+) lets a woken task preempt the running one
 * only when it is the most eligible AND the running one is past its protected slice
 * (RUN_TO_PARITY), or when the woken task's slice is shorter than the running one's
 * (PREEMPT_SHORT, 6.12+). Otherwise it waits for the tick (4 ms at HZ=250): a thread woken by
 * Wine's SIGUSR1, the wineserver woken by its request, the agent woken by the answer, each
 * could wait up to a tick behind a busy process whatever its nice; measured here as single
 * context reads or server round trips of 2-3 ms. A task's own slice (sched_setattr
 * sched_runtime for SCHED_OTHER/SCHED_BATCH, 0.1-100 ms, 6.12+; ignored by older kernels) set
 * to the minimum, 0.1 ms, makes its wake-ups preempt. It gives no more CPU than the nice does
 * (a shorter slice is a shorter turn, not a larger share), so a task left with it by an agent
 * killed mid-pause runs as before, in shorter turns: unlike SCHED_FIFO/RR, nothing to starve.
 * Put back after the pause: the recorded slice, or 0 (the kernel's default) when it had the
 * default (g_default_slice, the agent's own thread's before any boost).
 */
#define LX_SCHED_SETATTR 314
#define LX_SCHED_GETATTR 315
#define LX_SHORT_SLICE 100000ull /* ns: the kernel's minimum custom slice */
typedef struct {
  unsigned size, policy;
  u64 flags;
  int nice;
  unsigned priority;
  u64 runtime, deadline, period;
} LxSchedAttr; /* SCHED_ATTR_SIZE_VER0: 48 bytes */
static u64 g_default_slice;

/* 1 when HOTPATCH_AGENT_BOOST is `name`; an unset variable reads as "rt", the default. */
static int lx_boost_mode_is(const char *name) {
  char mode[16];
  DWORD n = GetEnvironmentVariableA("HOTPATCH_AGENT_BOOST", mode, sizeof mode);
  if (n == 0) return strcmp(name, "rt") == 0;
  return n < sizeof mode && strcmp(mode, name) == 0;
}

static int lx_slices_wanted(void) { return !lx_boost_mode_is("nice"); }

/*
 * SCHED_FIFO for the pause (the default; `slice` and `target` give the shortest slice instead):
 * priority 1 for the target's threads, 2 for the wineserver's and the agent's (so the agent
 * always gets a core to put everything back), restored like the slice. A fair-class wake-up,
 * nice -20 and the shortest slice included, still waits for the tick now and then, a
 * real-time one does not (measured: PROTOCOL.md). Safe to leave on only because the watchdog
 * (host-guard.h) demotes every thread if the agent dies between the boost and the restore.
 */
static int g_rt_prio; /* the SCHED_FIFO priority for the threads being boosted, 0: not rt */
static int lx_rt_wanted(void) { return lx_boost_mode_is("rt"); }

/* Reads thread `b->tid`'s policy and slice into `b`; 0 when it has no slice to shorten (only
 * SCHED_OTHER (0) and SCHED_BATCH (3) have slices). */
static int lx_read_slice(LxBoosted *b) {
  static LxSchedAttr at;
  memset(&at, 0, sizeof at);
  if (lx_syscall(LX_SCHED_GETATTR, b->tid, (lx_word)(uintptr_t)&at, sizeof at, 0, 0, 0) < 0 || (at.policy != 0 && at.policy != 3)) return 0;
  b->policy = at.policy;
  b->slice = at.runtime == g_default_slice ? 0 : at.runtime;
  return 1;
}

/* Shortens thread `b->tid`'s slice (read by lx_read_slice) to LX_SHORT_SLICE at nice `nice`,
 * its policy kept; with g_rt_prio, makes it SCHED_FIFO at that priority instead. */
static void lx_shorten_slice(LxBoosted *b, int nice) {
  static LxSchedAttr at;
  memset(&at, 0, sizeof at);
  at.size = sizeof at;
  at.policy = b->policy;
  at.nice = nice;
  at.runtime = LX_SHORT_SLICE;
  if (g_rt_prio > 0) {
    at.policy = 1; /* SCHED_FIFO */
    at.nice = 0;
    at.priority = (unsigned)g_rt_prio;
    at.runtime = 0;
  }
  if (lx_syscall(LX_SCHED_SETATTR, b->tid, (lx_word)(uintptr_t)&at, 0, 0, 0, 0) < 0) return;
  b->sliced = 1;
  g_nsliced++;
}

/* Puts a shortened slice back (with the nice it had). */
static void lx_restore_slice(const LxBoosted *b) {
  static LxSchedAttr at;
  memset(&at, 0, sizeof at);
  at.size = sizeof at;
  at.policy = b->policy;
  at.nice = b->nice;
  at.runtime = b->slice;
  lx_syscall(LX_SCHED_SETATTR, b->tid, (lx_word)(uintptr_t)&at, 0, 0, 0, 0);
}

#define LX_READ 0
#define LX_WRITE 1
#define LX_O_RDWR 2
#define LX_GROUPS_MAX 8
/* Autogroups raised (kernel.sched_autogroup_enabled: nice acts only inside a task's autogroup,
 * and each autogroup, one per session, gets an equal share of the CPU whatever its tasks' nice;
 * the wineserver, a daemon, has one of its own): the process whose /proc/PID/autogroup was
 * written and the group nice it had. */
static struct {
  lx_word pid;
  int nice;
} g_groups[LX_GROUPS_MAX];
static int g_ngroups;

/* Sets the autogroup nice of process `pid` to LX_BOOST_NICE (when autogroups exist and it is
 * higher), recording what it was; each group once (a later process of a group already raised
 * reads -20 and is skipped). */
static void lx_boost_autogroup(lx_word pid) {
  static char path[40], buf[64];
  snprintf(path, sizeof path, "/proc/%lld/autogroup", (long long)pid);
  lx_word fd = lx_syscall(LX_OPEN, (lx_word)(uintptr_t)path, LX_O_RDWR, 0, 0, 0, 0);
  if (fd < 0) return; /* no autogroups (or no right): nothing to do */
  lx_word n = lx_syscall(LX_READ, fd, (lx_word)(uintptr_t)buf, sizeof buf - 1, 0, 0, 0);
  const char *at = n > 0 ? (buf[n] = 0, strstr(buf, " nice ")) : NULL; /* "/autogroup-3685 nice 0" */
  if (at && g_ngroups < LX_GROUPS_MAX) {
    int nice = atoi(at + 6);
    static char v[8] = "-20";
    LxGuardRec r = {pid, 0, LX_GUARD_GROUP, nice, 0, 0};
    if (nice > LX_BOOST_NICE && lx_guard_send(&r) && lx_syscall(LX_WRITE, fd, (lx_word)(uintptr_t)v, 3, 0, 0, 0) == 3) {
      g_groups[g_ngroups].pid = pid;
      g_groups[g_ngroups].nice = nice;
      g_ngroups++;
    }
  }
  lx_syscall(LX_CLOSE, fd, 0, 0, 0, 0, 0);
}

static void lx_boost_thread(void *ctx, lx_word tid) {
  int *ok = (int *)ctx;
  if (!*ok || g_nboosted >= LX_BOOST_MAX) return;
  /* The kernel's getpriority returns 20 - nice (never negative). */
  lx_word raw = lx_syscall(LX_GETPRIORITY, LX_PRIO_PROCESS, tid, 0, 0, 0, 0);
  if (raw < 0) return; /* exited meanwhile */
  int nice = 20 - (int)raw;
  if (nice <= LX_BOOST_NICE) return;
  LxBoosted *b = &g_boosted[g_nboosted];
  b->tid = tid;
  b->nice = nice;
  b->sliced = 0;
  int slice = lx_slices_wanted() && lx_read_slice(b);
  /* The watchdog learns what the thread has before anything changes (host-guard.h). */
  LxGuardRec r = {tid, slice ? b->slice : 0, LX_GUARD_THREAD, nice, slice ? b->policy : 0, slice};
  if (!lx_guard_send(&r)) {
    *ok = 0;
    return;
  }
  if (lx_syscall(LX_SETPRIORITY, LX_PRIO_PROCESS, tid, LX_BOOST_NICE, 0, 0, 0) < 0) {
    *ok = g_nboosted > 0; /* no right to: give up; a thread that exited: go on */
    return;
  }
  g_nboosted++;
  if (slice) lx_shorten_slice(b, LX_BOOST_NICE);
}

/* Raises every thread of Linux process `pid` (its /proc/PID/task) to LX_BOOST_NICE (its
 * autogroup: lx_boost), recording what they were. 0 when the first one cannot be raised (no
 * right to: nothing changed). */
static int lx_boost_process(lx_word pid) {
  static char path[40]; /* writable data: see lx_candidates_fresh */
  snprintf(path, sizeof path, "/proc/%lld/task", (long long)pid);
  int ok = 1;
  if (!lx_each_numbered(path, lx_boost_thread, &ok)) return 0;
  return ok;
}

/* Puts every boosted thread and autogroup back to the nice value it had, in the reverse order
 * of the boost: the target's threads first, the agent's own last (see lx_boost). */
static void lx_unboost(void) {
  for (int i = g_nboosted - 1; i >= 0; i--) {
    if (g_boosted[i].sliced) lx_restore_slice(&g_boosted[i]);
    lx_syscall(LX_SETPRIORITY, LX_PRIO_PROCESS, g_boosted[i].tid, g_boosted[i].nice, 0, 0, 0);
  }
  g_nboosted = 0;
  g_nsliced = 0;
  static char path[64], v[16];
  for (int i = g_ngroups - 1; i >= 0; i--) {
    lx_proc_path(path, g_groups[i].pid, "/autogroup");
    int len = lx_nice_text(v, g_groups[i].nice);
    lx_word fd = lx_syscall(LX_OPEN, (lx_word)(uintptr_t)path, LX_O_RDWR, 0, 0, 0, 0);
    if (fd < 0) continue; /* the process is gone, and its group with it when it was the last */
    lx_syscall(LX_WRITE, fd, (lx_word)(uintptr_t)v, len, 0, 0, 0);
    lx_syscall(LX_CLOSE, fd, 0, 0, 0, 0, 0);
  }
  g_ngroups = 0;
  lx_guard_clear();
}

/* The watchdog (host-guard.h): keeps the records the agent sends, in order, forgets
 * them at "clear", and at the end of the stream puts back what is left, with lx_unboost (raw
 * system calls only). */
static void lx_guard_run(lx_word fd) {
  LxGuardRec r;
  lx_word agent = lx_syscall(LX_GETPPID, 0, 0, 0, 0, 0, 0), self = lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0);
  g_nboosted = g_ngroups = 0;
  g_guard_fd = -1; /* lx_unboost's clear goes nowhere here */
  /* SCHED_FIFO above every thread it may have to demote (it sleeps in read until then), so the
   * restore gets a core at once even past target threads left SCHED_FIFO and spinning; when the
   * kernel refuses, it runs at its nice and the real-time throttle still leaves it a share. */
  static LxSchedAttr at;
  memset(&at, 0, sizeof at);
  at.size = sizeof at;
  at.policy = 1;
  at.priority = 3;
  lx_syscall(LX_SCHED_SETATTR, 0, (lx_word)(uintptr_t)&at, 0, 0, 0, 0);
  while (lx_guard_recv(fd, &r)) {
    if (r.kind == LX_GUARD_CLEAR) {
      g_nboosted = g_ngroups = 0;
    } else if (r.kind == LX_GUARD_GROUP && g_ngroups < LX_GROUPS_MAX) {
      g_groups[g_ngroups].pid = r.id == agent ? self : r.id; /* the agent's group is the watchdog's (same session), and outlives the agent */
      g_groups[g_ngroups++].nice = r.nice;
    } else if (r.kind == LX_GUARD_THREAD && g_nboosted < LX_BOOST_MAX) {
      LxBoosted *b = &g_boosted[g_nboosted++];
      b->tid = r.id;
      b->nice = r.nice;
      b->sliced = r.sliced;
      b->policy = r.policy;
      b->slice = r.slice;
    }
  }
  lx_unboost();
}

#define LX_STAT 4
#define LX_READLINK 89

/* 1 when the link at `path` (writable data) reads as a string ending with `tail`. */
static int lx_link_ends_with(char *path, const char *tail) {
  static char target[512];
  lx_word n = lx_syscall(LX_READLINK, (lx_word)(uintptr_t)path, (lx_word)(uintptr_t)target, sizeof target - 1, 0, 0, 0);
  if (n <= 0) return 0;
  target[n] = 0;
  size_t t = strlen(tail);
  return (size_t)n >= t && memcmp(target + n - t, tail, t) == 0;
}

typedef struct {
  const char *dir;
  int matches;
  lx_word pid;
} LxServer;

static void lx_check_server(void *ctx, lx_word pid) {
  LxServer *m = (LxServer *)ctx;
  static char path[64];
  snprintf(path, sizeof path, "/proc/%lld/exe", (long long)pid);
  if (!lx_link_ends_with(path, "/wineserver") && !lx_link_ends_with(path, "/wineserver64")) return;
  snprintf(path, sizeof path, "/proc/%lld/cwd", (long long)pid);
  if (!lx_link_ends_with(path, m->dir)) return;
  m->matches++;
  m->pid = pid;
}

/* The Linux pid of the wineserver this agent talks to, or -1. Wine's server runs in the
 * directory `server-DEV-INO` (hex st_dev and st_ino of the prefix directory), so: the one
 * process whose executable is wineserver or wineserver64 and whose working directory ends
 * with that name for the agent's own prefix (WINEPREFIX, else $HOME/.wine). Found once. */
static lx_word lx_wineserver_pid(void) {
  static lx_word found = 0;
  if (found != 0) return found;
  found = -1;
  static char prefix[1024];
  DWORD n = GetEnvironmentVariableA("WINEPREFIX", prefix, sizeof prefix);
  if (n == 0 || n >= sizeof prefix) {
    n = GetEnvironmentVariableA("HOME", prefix, sizeof prefix - 8);
    if (n == 0 || n >= sizeof prefix - 8) return -1;
    memcpy(prefix + n, "/.wine", 7);
  }
  static unsigned char st[256]; /* struct stat: st_dev at 0, st_ino at 8 (x86-64) */
  if (lx_syscall(LX_STAT, (lx_word)(uintptr_t)prefix, (lx_word)(uintptr_t)st, 0, 0, 0, 0) < 0) return -1;
  u64 dev, ino;
  memcpy(&dev, st, 8);
  memcpy(&ino, st + 8, 8);
  char dir[64];
  snprintf(dir, sizeof dir, "/server-%llx-%llx", (unsigned long long)dev, (unsigned long long)ino);
  static char proc[] = "/proc";
  LxServer m = {dir, 0, -1};
  lx_each_numbered(proc, lx_check_server, &m);
  if (m.matches == 1) found = m.pid;
  return found;
}

/* 0 when HOTPATCH_AGENT_BOOST=none turns the boost off (then a swap that moves no memory need
 * not look for the target's Linux pid). */
static int lx_boost_wanted(void) { return !lx_boost_mode_is("none"); }

/*
 * Where a slow hold waited (HOTPATCH_AGENT_SCHEDSTAT=1, diagnostics): each boosted thread's
 * /proc/TID/schedstat (time run, time runnable but waiting for a core, ns) read just before the
 * suspension and again just after the resumption (both outside the pause), summed per process:
 * the target, the wineserver, the agent. A context read that took milliseconds while the
 * threads' waits for a core stayed small was not the scheduler's doing: the thread or the
 * server was not runnable (blocked, or the signal not taken) for that time.
 */
static u64 g_stat_run[LX_BOOST_MAX], g_stat_delay[LX_BOOST_MAX];
static int g_nb_agent, g_nb_server; /* g_boosted: [0, agent) the agent's, then the server's, then the target's */
static int g_stat_on;

/* Reads a small /proc file into buf (NUL-terminated); the bytes read, 0 when it cannot be read. */
static lx_word lx_read_small(const char *path, char *buf, lx_word cap) {
  lx_word fd = lx_syscall(LX_OPEN, (lx_word)(uintptr_t)path, 0, 0, 0, 0, 0);
  if (fd < 0) return 0;
  lx_word n = lx_syscall(LX_READ, fd, (lx_word)(uintptr_t)buf, cap - 1, 0, 0, 0);
  lx_syscall(LX_CLOSE, fd, 0, 0, 0, 0, 0);
  if (n <= 0) return 0;
  buf[n] = 0;
  return n;
}

static int lx_schedstat(lx_word tid, u64 *run, u64 *delay) {
  static char path[48], buf[96];
  snprintf(path, sizeof path, "/proc/%lld/schedstat", (long long)tid);
  if (!lx_read_small(path, buf, sizeof buf)) return 0;
  char *end;
  *run = strtoull(buf, &end, 10);
  *delay = strtoull(end, NULL, 10);
  return 1;
}

/* Before the suspension: every boosted thread's schedstat (when asked for). */
static void lx_stat_begin(void) {
  char v[4];
  DWORD n = GetEnvironmentVariableA("HOTPATCH_AGENT_SCHEDSTAT", v, sizeof v);
  g_stat_on = n == 1 && v[0] == '1';
  for (int i = 0; g_stat_on && i < g_nboosted; i++)
    if (!lx_schedstat(g_boosted[i].tid, &g_stat_run[i], &g_stat_delay[i])) g_stat_run[i] = (u64)-1;
}

/* After the resumption (before lx_unboost): per process [target, server, agent] the time run and
 * the time waiting for a core during the pause, µs, and the longest wait of one thread. 0 when off. */
static int lx_stat_end(double run[3], double wait[3], double *max_wait) {
  run[0] = run[1] = run[2] = wait[0] = wait[1] = wait[2] = *max_wait = 0;
  if (!g_stat_on) return 0;
  for (int i = 0; i < g_nboosted; i++) {
    u64 r, d;
    if (g_stat_run[i] == (u64)-1 || !lx_schedstat(g_boosted[i].tid, &r, &d)) continue;
    int k = i < g_nb_agent ? 2 : i < g_nb_server ? 1 : 0;
    double w = (double)(d - g_stat_delay[i]) / 1000.0;
    run[k] += (double)(r - g_stat_run[i]) / 1000.0;
    wait[k] += w;
    if (w > *max_wait) *max_wait = w;
  }
  return 1;
}

/* Boosts the target (Linux pid `target`), the wineserver that stops its threads and the agent
 * itself; returns the threads boosted. */
static int lx_boost(lx_word target) {
  g_nboosted = 0;
  g_nsliced = 0;
  g_ngroups = 0;
  if (target <= 0 || !lx_host()) return 0;
  if (g_default_slice == 0) { /* the agent's own thread, never boosted yet: the kernel's default slice */
    static LxSchedAttr at;
    at.size = sizeof at;
    if (lx_syscall(LX_SCHED_GETATTR, 0, (lx_word)(uintptr_t)&at, sizeof at, 0, 0, 0) >= 0 && at.policy == 0) g_default_slice = at.runtime;
  }
  if (!lx_boost_wanted()) return 0;
  /* Nothing is raised without the watchdog that puts it back if the agent dies (host-guard.h);
   * HOTPATCH_AGENT_GUARD=off (test only) boosts without it, as earlier builds did. */
  if (g_guard_fd == -2) g_guard_fd = lx_guard_wanted() ? lx_guard_start(lx_guard_run) : LX_GUARD_OFF;
  if (g_guard_fd == -1) return 0;
  /* The agent first, the target last (and put back in the reverse order, lx_unboost): a target
   * thread that spins at SCHED_FIFO 1 must never find the agent, or the wineserver it waits
   * for, below it. Boosted the other way round, the agent ran at the real-time throttle's 5%
   * share while raising itself behind two spinning target threads on 2 cores, and a swap of 200
   * tries (test/quiesce-live.test.ts, a worker parked in old `run`) outlasted the driver's 30 s. */
  g_rt_prio = lx_rt_wanted() ? 2 : 0;
  if (!lx_boost_process(lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0))) return 0;
  g_nb_agent = g_nboosted;
  int with_server = !lx_boost_mode_is("target");
  lx_word server = with_server ? lx_wineserver_pid() : -1;
  if (server > 0) lx_boost_process(server);
  g_nb_server = g_nboosted;
  if (g_rt_prio) g_rt_prio = 1;
  int before = g_nboosted;
  int raised = lx_boost_process(target) && g_nboosted > before;
  /* Autogroups the other way round: a group shared by the target and the agent (one session) is
   * recorded under the target's pid, which outlives an agent that dies (the watchdog writes
   * the group back through /proc/PID/autogroup of a live member). */
  if (raised) lx_boost_autogroup(target);
  if (server > 0 && g_nb_server > g_nb_agent) lx_boost_autogroup(server);
  lx_boost_autogroup(lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0));
  return g_nboosted;
}

#endif
