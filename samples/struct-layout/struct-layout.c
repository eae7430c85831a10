/*
 * struct-layout: a writable global struct changes layout. v2's struct settings gains a
 * field (timeout_ms) between existing ones, so `flags` and `limit` move, g_settings grows
 * and the code reading it (settings_score) uses new offsets. Patching settings_score alone
 * would read the running process's old-layout g_settings with new offsets; the compiler must
 * refuse ("writable global struct layout changed").
 * Changed data: g_settings (size and layout); changed function: settings_score.
 *
 * objdump -d: settings_score's displacements into g_settings differ (0x4/0x8 in v1,
 * 0x8/0xc in v2); objdump -s -j .data: g_settings is 12 bytes in v1, 16 in v2.
 */
#define HP_NAME "struct-layout"
#include "../common/harness.h"

struct settings {
  int version;
#if HP_VERSION >= 2
  int timeout_ms;
#endif
  int flags;
  int limit;
};

#if HP_VERSION == 1
struct settings g_settings = { 1, 0x6, 40 };
#else
struct settings g_settings = { 2, 250, 0x6, 40 };
#endif

HP_FN int settings_score(int bonus) {
  int s = g_settings.limit + bonus;
  if (g_settings.flags & 2) s *= 2;
#if HP_VERSION >= 2
  s += g_settings.timeout_ms / 50;
#endif
  return s;
}

static void hp_vectors(hp_out *o) {
  for (int b = 0; b <= 10; b += 5) {
    out_str(o, "settings_score(");
    out_int(o, b);
    out_str(o, ") = ");
    out_int(o, settings_score(b));
    out_nl(o);
  }
}
