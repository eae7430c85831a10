/*
 * The bound on a hold (included by agent.c).
 *
 * A hold reads every held thread's context, and GetThreadContext returns only once the thread
 * has really stopped. Under Wine a suspension only signals the thread: the read waits, with no
 * time limit, until the thread has run its SIGUSR1 handler and reported its context to the
 * wineserver. A thread that never gets to run it (frozen by a cgroup, asleep in an
 * uninterruptible system call, lost by the server in a way the unstopper does not repair:
 * host-ran.h) would hold the agent for ever, and with it every other thread of the target. So
 * the contexts are read on a reader thread, and the hold waits for it for at most the hold
 * limit (`hold=MS`, PROTOCOL.md "The hold's bound"). Past that the hold gives up with
 * LIVE_HOLD_STUCK: every thread is let go and nothing is written.
 *
 * The reader stays blocked in its call. It is abandoned with its buffers, which it frees when
 * the call returns (the thread ran at last), and a new reader serves the next hold. At most
 * MAX_ABANDONED readers wait like that (each keeps a thread and a context buffer of MAX_THREADS
 * entries); past that a hold fails at once, as stuck, naming no new thread.
 *
 * The reader writes only into its own buffers: what it read becomes the agent's (g_ctx is the
 * current reader's context buffer) only when the hold has seen it finish.
 *
 * The hand-over goes through WaitOnAddress / WakeByAddressSingle, not events: under Wine an
 * event is a wineserver object, and the four server round trips of a hand-over and its answer
 * (each a wake-up to schedule on a busy machine) made the median pause of a real process ~0.4 ms
 * longer (bench/agent-ab.ts, watcher 2.5.0 -> 2.5.1, 10 threads, load ~13: 1.41 -> 1.82 ms).
 * Wine implements WaitOnAddress with futexes on Linux, without the server.
 */

#define HOLD_LIMIT_DEFAULT_MS 5000u
#define HOLD_LIMIT_MAX_MS 600000u
#define MAX_ABANDONED 4

enum { READER_IDLE, READER_BUSY, READER_DONE, READER_ABANDONED };

typedef struct {
  HANDLE thread;
  volatile LONG go;    /* bumped by the hold for each job */
  volatile LONG state; /* READER_*: BUSY while a job runs */
  DWORD flags; /* ContextFlags of every read */
  int n;       /* the job: read h[k] into ctx[at[k]], k < n */
  volatile LONG cur; /* the job entry being read now (the thread a stuck hold names) */
  HANDLE h[MAX_THREADS];
  int at[MAX_THREADS];
  int res[MAX_THREADS]; /* 1 read, 2 the thread has exited, 0 failed (err) */
  DWORD err[MAX_THREADS];
  double us[MAX_THREADS]; /* how long each read waited */
  CONTEXT *ctx;
} ContextReader;

static ContextReader *g_reader;
static volatile LONG g_abandoned; /* abandoned readers still blocked in a read */

static void reader_free(ContextReader *r) {
  if (r->thread) CloseHandle(r->thread);
  _aligned_free(r->ctx);
  free(r);
}

static DWORD WINAPI reader_main(LPVOID p) {
  ContextReader *r = (ContextReader *)p;
  LARGE_INTEGER f, t0, t1;
  QueryPerformanceFrequency(&f);
  LONG seen = 0;
  for (;;) {
    while (r->go == seen) WaitOnAddress(&r->go, &seen, sizeof seen, INFINITE);
    seen = r->go;
    for (int k = 0; k < r->n; k++) {
      CONTEXT *c = &r->ctx[r->at[k]];
      memset(c, 0, sizeof *c);
      c->ContextFlags = r->flags;
      InterlockedExchange(&r->cur, k);
      QueryPerformanceCounter(&t0);
      int ok = GetThreadContext(r->h[k], c) != 0;
      /* Abandoned meanwhile: the hold has let every thread go and may have closed h[k]. */
      if (InterlockedCompareExchange(&r->state, READER_ABANDONED, READER_ABANDONED) == READER_ABANDONED) break;
      QueryPerformanceCounter(&t1);
      r->us[k] = (double)(t1.QuadPart - t0.QuadPart) * 1e6 / (double)f.QuadPart;
      r->res[k] = ok;
      if (ok) continue;
      r->err[k] = GetLastError();
      DWORD code = 0;
      if (GetExitCodeThread(r->h[k], &code) && code != STILL_ACTIVE) {
        r->res[k] = 2;
        continue;
      }
      r->n = k + 1; /* the hold reports the first failure */
      break;
    }
    if (InterlockedCompareExchange(&r->state, READER_DONE, READER_BUSY) == READER_ABANDONED) {
      reader_free(r);
      InterlockedDecrement(&g_abandoned);
      return 0;
    }
    WakeByAddressSingle((PVOID)&r->state);
  }
}

/* The current reader, made when there is none (the hold checks MAX_ABANDONED first); NULL when it
 * cannot be (out of memory or threads). */
static ContextReader *reader_get(void) {
  if (g_reader) return g_reader;
  ContextReader *r = (ContextReader *)calloc(1, sizeof(ContextReader));
  if (!r) return NULL;
  r->ctx = (CONTEXT *)_aligned_malloc(sizeof(CONTEXT) * MAX_THREADS, 16);
  if (r->ctx) r->thread = CreateThread(NULL, 64 * 1024, reader_main, r, 0, NULL);
  if (!r->thread) {
    reader_free(r);
    return NULL;
  }
  return g_reader = r;
}

/*
 * Reads the contexts of the threads h[0..n) into the reader's buffer at at[k] (ContextFlags
 * `flags`), waiting at most `wait_ms`. 1: the reader finished (res, err and us say how each read
 * went); -1: the wait ran out, the reader is abandoned (no longer current: it may be freed at any
 * moment), and *stuck_at is the at[] of the read it was blocked in.
 */
static int reader_run(ContextReader *r, int n, DWORD flags, DWORD wait_ms, int *stuck_at) {
  r->n = n;
  r->flags = flags;
  r->cur = 0;
  InterlockedExchange(&r->state, READER_BUSY);
  InterlockedIncrement(&r->go);
  WakeByAddressSingle((PVOID)&r->go);
  ULONGLONG deadline = GetTickCount64() + wait_ms;
  LONG busy = READER_BUSY;
  for (ULONGLONG now = GetTickCount64(); r->state == READER_BUSY && now < deadline; now = GetTickCount64())
    WaitOnAddress(&r->state, &busy, sizeof busy, (DWORD)(deadline - now));
  if (r->state != READER_BUSY) return 1;
  int at = r->at[r->cur]; /* before giving it up: from then on the reader frees itself */
  if (InterlockedCompareExchange(&r->state, READER_ABANDONED, READER_BUSY) != READER_BUSY) return 1; /* it finished as the wait ran out */
  *stuck_at = at;
  InterlockedIncrement(&g_abandoned);
  g_reader = NULL;
  return -1;
}
