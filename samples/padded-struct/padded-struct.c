/*
 * padded-struct: a zero-initialised global struct grows inside its alignment padding. v1's
 * struct stats is 24 bytes (hits, misses, total), v2 inserts `evictions` after hits (32
 * bytes). g_stats is 32-byte aligned and so is the global after it, so the .bss layout, the
 * section size and the next symbol stay put, and the initial contents are zeros in both:
 * nothing in the data tells the layouts apart, and COFF symbols carry no size. Only the
 * code does: v1 reads misses at +8 and total at +16, v2 reads misses at +16 and writes
 * evictions at +8. A patch would make the new code read the live old-layout struct with
 * new offsets; the compiler must refuse, naming g_stats.
 * Changed data: g_stats (layout); changed functions: stats_record, stats_report.
 *
 * objdump -d: the displacements into g_stats differ between v1 and v2; objdump -h: .bss
 * has the same size in both.
 */
#define HP_NAME "padded-struct"
#include "../common/harness.h"

struct stats {
  long long hits;
#if HP_VERSION >= 2
  long long evictions;
#endif
  long long misses;
  long long total;
};

__attribute__((aligned(32))) struct stats g_stats;
__attribute__((aligned(32))) long long g_rounds;

HP_FN void stats_record(int key) {
  if (key % 3 == 0) g_stats.hits++;
  else g_stats.misses++;
#if HP_VERSION >= 2
  if (key % 5 == 0) g_stats.evictions++;
#endif
  g_stats.total++;
  g_rounds++;
}

HP_FN long long stats_report(void) {
#if HP_VERSION >= 2
  return g_stats.hits * 1000000 + g_stats.misses * 1000 + g_stats.total + g_stats.evictions * 7;
#else
  return g_stats.hits * 1000000 + g_stats.misses * 1000 + g_stats.total;
#endif
}

static void hp_vectors(hp_out *o) {
  /* Counts from a fixed base so the output does not depend on earlier runs. */
  long long before = stats_report();
  for (int k = 0; k < 10; k++) stats_record(k);
  out_str(o, "stats_report() delta = ");
  out_int(o, stats_report() - before);
  out_nl(o);
}
