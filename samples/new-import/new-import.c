/*
 * new-import: the fix calls functions the old DLL does not import. v1's scale computes
 * value * num / den in 32-bit int (overflows, truncates); v2 calls kernel32's MulDiv
 * (64-bit intermediate, rounded). v1's parse_number only reads decimal digits; v2 calls
 * msvcrt's strtol (sign, 0x hex). Changed functions: scale, parse_number; new imports:
 * KERNEL32.dll!MulDiv and msvcrt.dll!strtol.
 *
 * objdump -p: v1's import table lacks MulDiv and strtol, v2's has both; objdump -d v2:
 * `call *__imp_MulDiv(%rip)` in scale and a call to strtol in parse_number.
 */
#define HP_NAME "new-import"
#include "../common/harness.h"
#if HP_VERSION >= 2
#include <windows.h>
#include <stdlib.h>
#endif

HP_FN int scale(int value, int num, int den) {
#if HP_VERSION == 1
  return value * num / den;
#else
  return MulDiv(value, num, den);
#endif
}

HP_FN long parse_number(const char *s) {
#if HP_VERSION == 1
  long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
#else
  return strtol(s, 0, 0);
#endif
}

static void hp_vectors(hp_out *o) {
  static const int cases[][3] = { { 10, 3, 2 }, { 7, 1, 2 }, { 100000, 300000, 1000 }, { -9, 2, 4 } };
  for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    out_str(o, "scale(");
    out_int(o, cases[k][0]);
    out_str(o, ", ");
    out_int(o, cases[k][1]);
    out_str(o, ", ");
    out_int(o, cases[k][2]);
    out_str(o, ") = ");
    out_int(o, scale(cases[k][0], cases[k][1], cases[k][2]));
    out_nl(o);
  }
  static const char *const texts[] = { "42", "-17", "0x1f", "0755" };
  for (unsigned k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    out_str(o, "parse_number(\"");
    out_str(o, texts[k]);
    out_str(o, "\") = ");
    out_int(o, parse_number(texts[k]));
    out_nl(o);
  }
}
