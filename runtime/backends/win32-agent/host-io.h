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
 *   - the target's Linux pid is found beyond doubt: a private page is allocated in the target
 *     (VirtualAllocEx), 32 bytes the agent makes up (time, counters, addresses) are written
 *     there through Wine, and exactly one Linux process must hold them at that address
 *     (process_vm_readv over /proc); the page is freed at once. A twin process in another Wine
 *     prefix (same Windows pid, same layout) cannot hold the same bytes;
 *   - every pause re-checks it: the first range of the stack read is a thread's TEB ClientId
 *     (Windows pid and thread id), which must be the target's;
 *   - the kernel moved every byte asked for; a partial transfer falls back (a write that
 *     moved some sites puts them back first, then the Win32 path writes all of them).
 * process_vm_writev never changes a protection (it needs the pages writable, which the plan
 * made them); a page it cannot write makes the agent fall back to WriteProcessMemory.
 */
#ifndef HOTPATCH_HOST_IO_H
#define HOTPATCH_HOST_IO_H

#include <stddef.h>
#include <stdint.h>

#define LX_OPEN 2
#define LX_CLOSE 3
#define LX_GETPID 39
#define LX_GETDENTS64 217
#define LX_PROCESS_VM_READV 310
#define LX_PROCESS_VM_WRITEV 311
#define LX_IOV_MAX 1024
#define LX_O_DIRECTORY 0200000

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

typedef struct {
  lx_word self, found;
  long matches;
  u64 addr;
  const unsigned char *want;
  size_t len;
} LxHolding;

static void lx_check_holding(void *ctx, lx_word pid) {
  LxHolding *h = (LxHolding *)ctx;
  unsigned char got[64];
  if (pid == h->self) return;
  LxIov l = {got, h->len}, r = {(void *)(uintptr_t)h->addr, h->len};
  size_t moved;
  if (lx_move(pid, 0, &l, &r, 1, &moved) && memcmp(got, h->want, h->len) == 0) h->found = pid, h->matches++;
}

/* The Linux process whose memory holds `len` bytes equal to `want` at `addr` (remote): its pid
 * when exactly one does, else -1. Walks /proc with getdents64. */
static lx_word lx_find_pid_holding(u64 addr, const unsigned char *want, size_t len) {
  /* In writable data: the kernel read a string literal of the agent's read-only data as
   * EFAULT under Wine 8 (measured), the same bytes in .data as the path. */
  static char proc[] = "/proc";
  LxHolding h = {lx_syscall(LX_GETPID, 0, 0, 0, 0, 0, 0), -1, 0, addr, want, len > 64 ? 64 : len};
  lx_each_numbered(proc, lx_check_holding, &h);
  return h.matches == 1 ? h.found : -1;
}

#endif
