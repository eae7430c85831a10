/*
 * dllmain-attach: DllMain's DLL_PROCESS_ATTACH branch sets a global the exported code reads;
 * v2 sets another value. The DLL's entry point is the mingw CRT's DllMainCRTStartup
 * (unchanged), which calls __DllMainCRTStartup, which calls DllMain: DllMain is reached only
 * from the entry point, so its process-attach work ran when the module loaded. Redirected,
 * DllMain would run again only for thread attach/detach and process detach; g_seed keeps the
 * old value. It must be refused (compiler/diff/load-time-only.ts).
 * Changed function: DllMain.
 *
 * objdump -d: __DllMainCRTStartup calls DllMain; nothing else references it.
 */
#define HP_NAME "dllmain-attach"
#include "../common/harness.h"

static volatile long long g_seed;

/* BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID), spelled without windows.h. */
HP_FN int DllMain(void *instance, unsigned long reason, void *reserved) {
  (void)instance;
  (void)reserved;
  if (reason == 1) { /* DLL_PROCESS_ATTACH */
#if HP_VERSION == 1
    g_seed = 1000;
#else
    g_seed = 2024;
#endif
  }
  return 1;
}

HP_FN long long seeded(long long k) { return g_seed * k + 1; }

static void hp_vectors(hp_out *o) {
  for (int k = 1; k <= 3; k++) {
    out_str(o, "seeded(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, seeded(k));
    out_nl(o);
  }
}
