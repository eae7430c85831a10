/*
 * peek.exe PID ADDR LEN: another Windows program that reads a process's memory, as a debugger,
 * a monitor or an antivirus would. Prints `ready`, waits for a line on stdin, then calls
 * ReadProcessMemory once and prints `read 1` or `read 0 error N`. Under Wine the wineserver
 * serves the read by ptrace-attaching a thread of that process (PROTOCOL.md, "Memory I/O
 * under Wine").
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 4) return 2;
  HANDLE p = OpenProcess(PROCESS_VM_READ, FALSE, (DWORD)strtoul(argv[1], NULL, 0));
  if (!p) return 3;
  unsigned long long addr = strtoull(argv[2], NULL, 0);
  SIZE_T len = (SIZE_T)strtoul(argv[3], NULL, 0), got = 0;
  unsigned char buf[256];
  if (len > sizeof buf) len = sizeof buf;
  printf("ready\n");
  char line[16];
  if (!fgets(line, sizeof line, stdin)) return 4;
  BOOL ok = ReadProcessMemory(p, (LPCVOID)(ULONG_PTR)addr, buf, len, &got);
  if (ok && got == len) printf("read 1\n");
  else printf("read 0 error %lu\n", (unsigned long)GetLastError());
  CloseHandle(p);
  return 0;
}
