/*
 * target.exe PROBE.DLL [--worker]: the live process the agent's primitive tests attach to.
 * Prints `pid`, `module`, and the addresses GetProcAddress gives for `value` and for
 * kernel32!HeapAlloc (a forwarded export), so the tests can check the agent's remote export
 * lookup against the loader's own answer. Then, for every stdin line `run`, prints
 * `result <value(1)> calls <worker calls> odd <worker results that were neither 2 nor 3>`.
 * With --worker a thread calls value(1) in a loop, so patches land while it runs.
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>

typedef int (*value_fn)(int);
static value_fn value;
static volatile LONG calls, odd;

static DWORD WINAPI worker(LPVOID arg) {
  (void)arg;
  for (;;) {
    for (int i = 0; i < 200; i++) {
      int r = value(1);
      if (r != 2 && r != 3) InterlockedIncrement(&odd);
      InterlockedIncrement(&calls);
    }
    Sleep(0);
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) return 2;
  HMODULE m = LoadLibraryA(argv[1]);
  if (!m) return 3;
  value = (value_fn)(void *)GetProcAddress(m, "value");
  void *heap_alloc = (void *)GetProcAddress(GetModuleHandleA("kernel32.dll"), "HeapAlloc");
  printf("pid %lu\n", (unsigned long)GetCurrentProcessId());
  printf("module 0x%llx\n", (unsigned long long)(ULONG_PTR)m);
  printf("value 0x%llx\n", (unsigned long long)(ULONG_PTR)value);
  printf("heapalloc 0x%llx\n", (unsigned long long)(ULONG_PTR)heap_alloc);
  if (argc > 2 && !strcmp(argv[2], "--worker")) CreateThread(NULL, 0, worker, NULL, 0, NULL);
  printf("ready\n");
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (!strncmp(line, "quit", 4)) break;
    printf("result %d calls %ld odd %ld\n", value(1), (long)calls, (long)odd);
  }
  return 0;
}
