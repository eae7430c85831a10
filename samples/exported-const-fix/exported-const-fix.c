/*
 * exported-const-fix: the negative twin of exported-const. The exported const struct
 * hp_limits keeps its values (10..100); v2 fixes validate_level's upper bound, which was
 * exclusive by mistake (level < max). The export's bytes are the same in both versions, so
 * the code fix must be patched.
 * Changed function: validate_level.
 *
 * objdump -d: validate_level compares with 0x64 using a different condition code.
 */
#define HP_NAME "exported-const-fix"
#include "../common/harness.h"

struct limits {
  int min_level;
  int max_level;
};

HP_EXPORT const struct limits hp_limits = { 10, 100 };

HP_FN int validate_level(int level) {
#if HP_VERSION == 1
  return level >= hp_limits.min_level && level < hp_limits.max_level;
#else
  return level >= hp_limits.min_level && level <= hp_limits.max_level;
#endif
}

static void hp_vectors(hp_out *o) {
  static const int levels[] = { 0, 5, 9, 10, 50, 99, 100, 101 };
  for (unsigned i = 0; i < sizeof levels / sizeof levels[0]; i++) {
    out_str(o, "validate_level(");
    out_int(o, levels[i]);
    out_str(o, ") = ");
    out_int(o, validate_level(levels[i]));
    out_nl(o);
  }
}
