/*
 * padded-struct-fix: the negative twin of padded-struct. The same 32-byte-aligned global
 * struct stats (24 bytes, zero-initialised, in .bss), read by stats_score at the same
 * offsets in both versions; v2 fixes stats_score's arithmetic only (a negative key is an error, -1).
 * The layout inferred from the code's accesses is the same, so it must be patched.
 * Changed function: stats_score.
 *
 * objdump -d: stats_score reads g_stats at +0, +8, +16 in both versions.
 */
#define HP_NAME "padded-struct-fix"
#include "../common/harness.h"

struct stats {
  long long hits;
  long long misses;
  long long total;
};

__attribute__((aligned(32))) struct stats g_stats;
__attribute__((aligned(32))) long long g_rounds;

HP_FN long long stats_score(int key) {
#if HP_VERSION >= 2
  if (key < 0) return -1;
#endif
  return g_stats.hits * 1000000 + g_stats.misses * 1000 + g_stats.total + g_rounds + key * 2;
}

static void hp_vectors(hp_out *o) {
  for (int k = -2; k < 3; k++) {
    out_str(o, "stats_score(");
    out_int(o, k);
    out_str(o, ") = ");
    out_int(o, stats_score(k));
    out_nl(o);
  }
}
