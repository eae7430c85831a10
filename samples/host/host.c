/*
 * host.exe: loads one scenario DLL (and, with --also, more) and runs its harness (hp_run) in rounds, driven over
 * stdin/stdout, so tests can compare outputs and a live patcher can patch the DLL between
 * (or, with --worker, during) rounds. The protocol is documented in PROTOCOL.md; keep the
 * two in step. Every line is flushed at once: stdout is a pipe, and the driver waits for
 * lines, so a line sitting in a buffer would be a deadlock.
 */
#include <windows.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef int (*hp_run_fn)(char *out, int cap);
typedef const char *(*hp_name_fn)(void);

/* Far above any scenario's output (a few hundred bytes); hp_run returns -1 if it is not. */
#define OUT_CAP 65536
#define MAX_OUTPUTS 16
/* The worker sleeps 1 ms after this many calls, so it keeps the function hot without
 * taking a whole core from a shared machine. */
#define WORKER_BURST 50

/* The first DLL's hp_run, then those of the --also DLLs, run in this order every call. */
#define MAX_DLLS 8
static hp_run_fn run_fns[MAX_DLLS];
static int run_n;
static char round_buf[OUT_CAP];
static char worker_buf[OUT_CAP];

/* Worker state, all under outputs_lock so a report is consistent: calls equals the sum of
 * the per-output calls plus errors. */
static CRITICAL_SECTION outputs_lock;
static long worker_calls;
static long worker_errors;
static struct { unsigned hash; long calls; } outputs[MAX_OUTPUTS];
static int outputs_n;

static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

/* msvcrt's printf has no portable 64-bit hex conversion, so format addresses by hand. */
static const char *hex64(unsigned long long v, char *buf) {
  char tmp[17];
  int n = 0;
  do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  buf[0] = '0';
  buf[1] = 'x';
  for (int i = 0; i < n; i++) buf[2 + i] = tmp[n - 1 - i];
  buf[2 + n] = 0;
  return buf;
}

/* FNV-1a (32-bit) over the exact output bytes: the driver hashes the expected texts the
 * same way to tell which version produced each worker output. */
static unsigned fnv1a(const char *s, int n) {
  unsigned h = 2166136261u;
  for (int i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* Counts one worker call: n is hp_run's return value, buf its output. */
static void account(int n, const char *buf) {
  int bad = n < 0 || n >= OUT_CAP;
  unsigned h = bad ? 0 : fnv1a(buf, n);
  EnterCriticalSection(&outputs_lock);
  worker_calls++;
  if (bad) {
    worker_errors++;
  } else {
    int i = 0;
    while (i < outputs_n && outputs[i].hash != h) i++;
    if (i < outputs_n) outputs[i].calls++;
    else if (outputs_n < MAX_OUTPUTS) { outputs[i].hash = h; outputs[i].calls = 1; outputs_n++; }
    else worker_errors++; /* more distinct outputs than any patch explains */
  }
  LeaveCriticalSection(&outputs_lock);
}

/* Every DLL's hp_run into consecutive parts of buf; the total length, or the first failure.
 * With one DLL this is exactly hp_run. */
static int run_fn(char *buf, int cap) {
  int total = 0;
  for (int i = 0; i < run_n; i++) {
    int n = run_fns[i](buf + total, cap - total);
    if (n < 0 || n >= cap - total) return n < 0 ? n : cap;
    total += n;
  }
  return total;
}

static DWORD WINAPI worker(LPVOID arg) {
  (void)arg;
  for (;;) {
    for (int i = 0; i < WORKER_BURST; i++) account(run_fn(worker_buf, OUT_CAP), worker_buf);
    Sleep(1);
  }
  return 0;
}

static void print_round(int round, int with_worker) {
  say("round %d", round);
  int n = run_fn(round_buf, OUT_CAP);
  if (n < 0 || n >= OUT_CAP) {
    say("error hp_run returned %d", n);
  } else {
    /* One output line per `say`, so each is flushed as it is written. */
    char *line = round_buf;
    while (*line) {
      char *nl = strchr(line, '\n');
      if (!nl) { say("%s", line); break; }
      *nl = 0;
      say("%s", line);
      line = nl + 1;
    }
  }
  say("end %d", round);
  if (with_worker) {
    EnterCriticalSection(&outputs_lock);
    say("worker calls=%ld errors=%ld outputs=%d", worker_calls, worker_errors, outputs_n);
    for (int i = 0; i < outputs_n; i++) say("worker output fnv1a=%08x calls=%ld", outputs[i].hash, outputs[i].calls);
    LeaveCriticalSection(&outputs_lock);
  }
  say("ready");
}

/* Loads one scenario DLL and appends its hp_run (0, or the exit code of the failure). */
static HMODULE mods[MAX_DLLS];
static hp_name_fn name_fns[MAX_DLLS];
static int load_dll(const char *path) {
  HMODULE mod = LoadLibraryA(path);
  if (!mod) {
    fprintf(stderr, "host: cannot load %s (error %lu)\n", path, (unsigned long)GetLastError());
    return 3;
  }
  hp_run_fn fn = (hp_run_fn)(void *)GetProcAddress(mod, "hp_run");
  hp_name_fn name_fn = (hp_name_fn)(void *)GetProcAddress(mod, "hp_name");
  if (!fn || !name_fn) {
    fprintf(stderr, "host: %s does not export hp_run and hp_name\n", path);
    return 4;
  }
  mods[run_n] = mod;
  name_fns[run_n] = name_fn;
  run_fns[run_n++] = fn;
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  const char *also[MAX_DLLS - 1];
  int also_n = 0;
  int with_worker = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--worker") == 0) with_worker = 1;
    else if (strcmp(argv[i], "--also") == 0 && i + 1 < argc && also_n < MAX_DLLS - 1) also[also_n++] = argv[++i];
    else if (!path && argv[i][0] != '-') path = argv[i];
    else { fprintf(stderr, "host: unknown argument %s\n", argv[i]); return 2; }
  }
  if (!path) {
    fprintf(stderr, "usage: host.exe PATH\\TO\\scenario.dll [--also PATH\\TO\\other.dll]... [--worker]\n");
    return 2;
  }

  int rc = load_dll(path);
  for (int i = 0; rc == 0 && i < also_n; i++) rc = load_dll(also[i]);
  if (rc != 0) return rc;

  say("pid %lu", (unsigned long)GetCurrentProcessId());
  for (int i = 0; i < run_n; i++) {
    char file[MAX_PATH + 1];
    DWORD len = GetModuleFileNameA(mods[i], file, MAX_PATH);
    file[len] = 0;
    char base[24];
    /* The first DLL: `module` and `name`; each --also DLL: `also` and `also-name`. */
    say("%s %s %s", i == 0 ? "module" : "also", hex64((unsigned long long)(ULONG_PTR)mods[i], base), file);
    say("%s %s", i == 0 ? "name" : "also-name", name_fns[i]());
  }

  if (with_worker) {
    InitializeCriticalSection(&outputs_lock);
    if (!CreateThread(NULL, 0, worker, NULL, 0, NULL)) {
      fprintf(stderr, "host: cannot start the worker thread (error %lu)\n", (unsigned long)GetLastError());
      return 5;
    }
  }

  int round = 1;
  print_round(round, with_worker);
  char cmd[256];
  while (fgets(cmd, sizeof cmd, stdin)) {
    cmd[strcspn(cmd, "\r\n")] = 0;
    if (strcmp(cmd, "run") == 0) print_round(++round, with_worker);
    else if (strcmp(cmd, "quit") == 0) break;
    else if (cmd[0] == 0) continue;
    else { say("error unknown command %s", cmd); say("ready"); }
  }
  say("bye");
  /* ExitProcess, not return: the worker thread may be inside hp_run. */
  ExitProcess(0);
}
