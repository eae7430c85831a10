/*
 * bcryptprimitives.dll for Wine 8, which lacks it: Rust's standard library (1.78+) and Go
 * (1.22+) import ProcessPrng from it for random numbers. This one answers through
 * RtlGenRandom (advapi32!SystemFunction036), which Wine has. Built by
 * test/real-live/prepare-prefix.sh into the test prefix's system32; used only by tests.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    ULONG n = size > 0x10000000 ? 0x10000000 : (ULONG)size;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    size -= n;
  }
  return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved) {
  (void)instance;
  (void)reason;
  (void)reserved;
  return TRUE;
}
