/*
 * The target's memory through the Linux kernel, when the agent runs under Wine on Linux
 * (included by agent.c; see PROTOCOL.md, "Memory I/O under Wine").
 *
 * Under Wine 8 every ReadProcessMemory / WriteProcessMemory is a wineserver request, and the
 * server serves it by attaching to a thread of the target with ptrace (PTRACE_ATTACH, wait4
 * until the thread has stopped, pread/pwrite on /proc/PID/mem or PTRACE_PEEKDATA, then
 * PTRACE_DETACH: seen with strace on the wineserver). So each call waits for a target thread
 * to be scheduled, twice, besides the server round trip. A Wine process is also a Linux
 * process, and a Windows program under Wine can make Linux system calls itself (the `syscall`
 * instruction reaches the kernel directly: Wine's own ntdll calls go through its dispatcher).
 * process_vm_readv / process_vm_writev move any number of ranges of another process's memory
 * in one call, with no server and no ptrace stop. So the agent reads every thread's stack in
 * one call, every site in one call, and stores every site in one call, without the bytes
 * between sites.
 *
 * Used only when all of these hold, else the agent keeps the Win32 calls:
 *   - ntdll exports wine_get_host_version and the host is "Linux" (x86-64 Linux system call
 *     numbers: never executed on Windows, where the same instruction means something else);
 *   - the target's Linux pid is found beyond doubt, without writing to the target through Wine:
 *     a fresh page is committed in the target (VirtualAllocEx) and freed again, twice, and
 *     exactly one Linux process must read that address as zeros while it is committed and fail
 *     to read it once it is freed (lx_candidates_fresh);
 *   - every pause re-checks it: the first range of the stack read is a thread's TEB ClientId
 *     (Windows pid and thread id), which must be the target's;
 *   - the kernel moved every byte asked for; a partial transfer falls back (a write that
 *     moved some sites puts them back first, then the Win32 path writes all of them).
 * process_vm_writev never changes a protection (it needs the pages writable, which the plan
 * made them); a range it cannot move whole is moved by pread / pwrite on /proc/PID/mem
 * (lx_mem_move), which is how the server itself reaches such pages. Once the pid is known no
 * memory request goes to the server: its ptrace stop of a target thread can fail under load
 * and leave that thread traced by the server for good (PROTOCOL.md, "Memory I/O under Wine").
 */
#ifndef HOTPATCH_HOST_IO_H
#define HOTPATCH_HOST_IO_H

#include <stddef.h>
#include <stdint.h>

#define LX_PREAD64 17
#define LX_PWRITE64 18
#define LX_OPEN 2
#define LX_CLOSE 3
#define LX_GETPID 39
#define LX_GETDENTS64 217
#define LX_PROCESS_VM_READV 310
#define LX_PROCESS_VM_WRITEV 311
#define LX_IOV_MAX 1024
#define LX_O_DIRECTORY 0200000
#define LX_O_RDWR 2

typedef struct {
  void *base;
  size_t len;
} LxIov;

/* Arguments and result are 64-bit (`long` is 32-bit on Windows). */
typedef int64_t lx_word;
static lx_word lx_syscall(lx_word nr, lx_word a, lx_word b, lx_word c, lx_word d, lx_word e, lx_word f) {
  lx_word ret;
  register lx_word r10 __asm__("r10") = d;
  register lx_word r8 __asm__("r8") = e;
  register lx_word r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}

/* 1 when the agent runs under Wine on Linux (the only host whose system calls it makes). */
static int lx_host(void) {
  static int known = -1;
  if (known >= 0) return known;
  typedef void(__cdecl * HostVersionFn)(const char **sysname, const char **release);
  HostVersionFn fn = (HostVersionFn)(void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), "wine_get_host_version");
  const char *sys = NULL, *rel = NULL;
  if (fn) fn(&sys, &rel);
  known = sys != NULL && strcmp(sys, "Linux") == 0 && lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0) > 0;
  return known;
}

/* process_vm_readv / _writev over n ranges (local[i] and remote[i] of equal length), in calls
 * of at most IOV_MAX ranges. Returns 1 when every byte moved; else 0, with *moved the bytes
 * moved before the first range that failed (the kernel never splits a range). */
static int lx_move(lx_word pid, int write, LxIov *local, LxIov *remote, long n, size_t *moved) {
  *moved = 0;
  for (long at = 0; at < n; at += LX_IOV_MAX) {
    long k = n - at < LX_IOV_MAX ? n - at : LX_IOV_MAX;
    size_t want = 0;
    for (long i = 0; i < k; i++) want += remote[at + i].len;
    lx_word r = lx_syscall(write ? LX_PROCESS_VM_WRITEV : LX_PROCESS_VM_READV, pid, (lx_word)(uintptr_t)(local + at), k, (lx_word)(uintptr_t)(remote + at), k, 0);
    if (r < 0) return 0;
    *moved += (size_t)r;
    if ((size_t)r != want) return 0;
  }
  return 1;
}

/* "/proc/PID" + tail into `out` (64 bytes, writable data), without the C library (the watchdog
 * calls it, see host-guard.h). */
static char *lx_proc_path(char *out, lx_word pid, const char *tail) {
  char digits[24];
  int n = 0;
  do digits[n++] = (char)('0' + pid % 10), pid /= 10;
  while (pid > 0 && n < 20);
  memcpy(out, "/proc/", 6);
  int k = 6;
  while (n > 0) out[k++] = digits[--n];
  size_t t = strlen(tail);
  memcpy(out + k, tail, t + 1);
  return out;
}

/*
 * pread / pwrite on /proc/PID/mem: what the wineserver itself does for ReadProcessMemory /
 * WriteProcessMemory, without its ptrace stop of a target thread. Unlike process_vm_readv /
 * _writev it reaches pages without read or write access, as a debugger does (the kernel's
 * FOLL_FORCE: a write to a read-only private page gets a private copy, as the server's write
 * does). The descriptor is opened once per pid (the access check is made at open) and kept.
 * Returns 1 when every byte moved; else 0, with *moved the bytes moved from the start.
 */
static lx_word g_lx_mem_fd = -1, g_lx_mem_pid;
static int lx_mem_move(lx_word pid, int write, void *buf, u64 addr, size_t n, size_t *moved) {
  *moved = 0;
  if (pid <= 0 || addr > (u64)INT64_MAX - n) return 0;
  if (g_lx_mem_pid != pid) {
    if (g_lx_mem_fd >= 0) lx_syscall(LX_CLOSE, g_lx_mem_fd, 0, 0, 0, 0, 0);
    static char path[64]; /* writable data: see lx_candidates_fresh */
    lx_proc_path(path, pid, "/mem");
    g_lx_mem_fd = lx_syscall(LX_OPEN, (lx_word)(uintptr_t)path, LX_O_RDWR, 0, 0, 0, 0);
    g_lx_mem_pid = pid;
  }
  if (g_lx_mem_fd < 0) return 0;
  while (*moved < n) {
    lx_word r = lx_syscall(write ? LX_PWRITE64 : LX_PREAD64, g_lx_mem_fd, (lx_word)(uintptr_t)((unsigned char *)buf + *moved), (lx_word)(n - *moved), (lx_word)(addr + *moved), 0, 0);
    if (r <= 0) return 0;
    *moved += (size_t)r;
  }
  return 1;
}

/* Calls fn(ctx, n) for every entry of directory `path` (in writable data, see below) whose name
 * is a decimal number (/proc, /proc/PID/task), reading the entries into `dents` (`cap` bytes;
 * a thread of its own passes its own). 0 when the directory cannot be opened. */
typedef void (*LxNumberFn)(void *ctx, lx_word n);
static int lx_each_numbered_in(char *path, char *dents, lx_word cap, LxNumberFn fn, void *ctx) {
  lx_word fd = lx_syscall(LX_OPEN, (lx_word)(uintptr_t)path, LX_O_DIRECTORY, 0, 0, 0, 0);
  if (fd < 0) return 0;
  for (;;) {
    lx_word n = lx_syscall(LX_GETDENTS64, fd, (lx_word)(uintptr_t)dents, cap, 0, 0, 0);
    if (n <= 0) break;
    for (lx_word off = 0; off < n;) {
      /* linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, char name[] */
      unsigned short reclen;
      memcpy(&reclen, dents + off + 16, 2);
      const char *name = dents + off + 19;
      off += reclen;
      lx_word v = 0;
      const char *c = name;
      for (; *c >= '0' && *c <= '9' && v < 0x40000000; c++) v = v * 10 + (*c - '0');
      if (!*c && c != name) fn(ctx, v);
    }
  }
  lx_syscall(LX_CLOSE, fd, 0, 0, 0, 0, 0);
  return 1;
}

/* lx_each_numbered_in on the agent thread's buffer. */
static int lx_each_numbered(char *path, LxNumberFn fn, void *ctx) {
  static char dents[32768];
  return lx_each_numbered_in(path, dents, sizeof dents, fn, ctx);
}

/*
 * Finding the target's Linux pid without writing to it through Wine (a write would be one of
 * the server's ptrace stops this file avoids). The agent commits a fresh page in the target
 * (VirtualAllocEx, which Wine serves inside the target, not by ptrace) and frees it again; the
 * target is the one Linux process in which that address reads as zeros while the page is
 * committed and cannot be read once it is freed. Two such rounds; exactly one process must pass
 * them all. Another process with memory at the same address (a twin of the same program) keeps
 * it across the free and drops out. The candidates are every process but the agent itself.
 */
#define LX_MAX_CANDIDATES 512
typedef struct {
  lx_word self;
  u64 addr;
  long n;
  int overflow;
  lx_word pids[LX_MAX_CANDIDATES];
} LxCandidates;

/* 1 when `addr` in process `pid` reads as 64 zero bytes (committed and untouched); -1 when it
 * cannot be read at all; 0 otherwise. */
static int lx_fresh_at(lx_word pid, u64 addr) {
  unsigned char got[64];
  LxIov l = {got, sizeof got}, r = {(void *)(uintptr_t)addr, sizeof got};
  size_t moved;
  if (!lx_move(pid, 0, &l, &r, 1, &moved)) return moved == 0 ? -1 : 0;
  for (size_t i = 0; i < sizeof got; i++)
    if (got[i]) return 0;
  return 1;
}

static void lx_collect_fresh(void *ctx, lx_word pid) {
  LxCandidates *c = (LxCandidates *)ctx;
  if (pid == c->self || lx_fresh_at(pid, c->addr) != 1) return;
  if (c->n < LX_MAX_CANDIDATES) c->pids[c->n++] = pid;
  else c->overflow = 1;
}

/* Every process (but the agent) in which `addr` reads as a fresh page (/proc walked). */
static void lx_candidates_fresh(LxCandidates *c, u64 addr) {
  /* In writable data: the kernel read a string literal of the agent's read-only data as
   * EFAULT under Wine 8 (measured), the same bytes in .data as the path. */
  static char proc[] = "/proc";
  c->self = lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0);
  c->addr = addr;
  c->n = 0;
  c->overflow = 0;
  lx_each_numbered(proc, lx_collect_fresh, c);
}

/* Keeps the candidates in which `addr` is a fresh page (want 1) or cannot be read (want -1). */
static void lx_candidates_keep(LxCandidates *c, u64 addr, int want) {
  long k = 0;
  for (long i = 0; i < c->n; i++)
    if (lx_fresh_at(c->pids[i], addr) == want) c->pids[k++] = c->pids[i];
  c->n = k;
}

#endif
