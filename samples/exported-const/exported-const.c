/*
 * exported-const: an exported const struct changes its initial values. hp_limits (in .rdata,
 * exported by name) holds the limits validate_level enforces; v2 widens them (10..100 ->
 * 5..200). The compiler folds the constants into validate_level's code, so the code reads
 * nothing from hp_limits and the diff shows only a code change. But the host (any importer)
 * reads the export: after a patch it would see the old limits while the patched code
 * enforces the new ones. A changed exported data symbol must be refused, whether or not
 * code still reads it, naming hp_limits.
 * Changed data: hp_limits (exported, read-only); changed function: validate_level.
 *
 * objdump -d: validate_level compares with immediates (0xa/0x64 in v1, 0x5/0xc8 in v2);
 * objdump -p: hp_limits in the export table.
 */
#define HP_NAME "exported-const"
#include "../common/harness.h"

struct limits {
  int min_level;
  int max_level;
};

#if HP_VERSION == 1
HP_EXPORT const struct limits hp_limits = { 10, 100 };
#else
HP_EXPORT const struct limits hp_limits = { 5, 200 };
#endif

HP_FN int validate_level(int level) {
  return level >= hp_limits.min_level && level <= hp_limits.max_level;
}

static void hp_vectors(hp_out *o) {
  static const int levels[] = { 0, 5, 9, 10, 50, 100, 150, 200, 201 };
  for (unsigned i = 0; i < sizeof levels / sizeof levels[0]; i++) {
    out_str(o, "validate_level(");
    out_int(o, levels[i]);
    out_str(o, ") = ");
    out_int(o, validate_level(levels[i]));
    out_nl(o);
  }
}
