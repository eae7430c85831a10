/*
 * A Linux helper for the agent's tests (built natively, not with mingw): holds one Linux thread
 * in a ptrace stop, as a tracer that never lets it go would, for SECONDS, then detaches.
 * Usage: ptrace-hold TID SECONDS. Prints "stopped TID" once the thread is in the stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int tid = atoi(argv[1]), secs = atoi(argv[2]), st;
  if (ptrace(PTRACE_SEIZE, tid, 0, 0) == -1 || ptrace(PTRACE_INTERRUPT, tid, 0, 0) == -1 || waitpid(tid, &st, __WALL) == -1) {
    perror("ptrace-hold");
    return 1;
  }
  printf("stopped %d\n", tid);
  fflush(stdout);
  sleep((unsigned)secs);
  ptrace(PTRACE_DETACH, tid, 0, 0);
  return 0;
}
