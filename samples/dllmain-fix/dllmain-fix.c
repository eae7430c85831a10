/*
 * dllmain-fix: the negative twin of dllmain-attach. The same DllMain (its process-attach
 * branch sets g_seed), unchanged; v2 fixes seeded, an ordinary function the exported code
 * calls (v1 adds 1 instead of k). Only code that runs after the patch changed, so it must
 * stay hotpatchable and patch live: the load-time rule may not fire on a DLL just because
 * it has a DllMain.
 * Changed function: seeded.
 */
#define HP_NAME "dllmain-fix"
#include "../common/harness.h"

static volatile long long g_seed;

/* BOOL WINAPI DllMain(HINSTANCE, DWORD, LPVOID), spelled without windows.h. */
HP_FN int DllMain(void *instance, unsigned long reason, void *reserved) {
  (void)instance;
  (void)reserved;
  if (reason == 1) g_seed = 1000; /* DLL_PROCESS_ATTACH */
  return 1;
}

HP_FN long long seeded(long long k) {
#if HP_VERSION == 1
  return g_seed * k + 1;
#else
  return g_seed * k + k;
#endif
}

static void hp_vectors(hp_out *o) {
  for (int k = 1; k <= 3; k++) {
    out_str(o, "seeded(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, seeded(k));
    out_nl(o);
  }
}
