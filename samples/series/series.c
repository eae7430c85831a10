/*
 * series: a cumulative series, baseline v1 then two later fixes in different functions.
 * v2 fixes word_count (v1 counted a trailing space as one more word); v3 keeps that fix
 * and also fixes vowel_count (v1/v2 missed upper-case vowels). A package for v3 built
 * against v1 carries both; one built against v2 only vowel_count.
 * Changed functions: v1 -> v2 word_count; v2 -> v3 vowel_count.
 *
 * objdump -d: word_count differs between v1 and v2, vowel_count between v2 and v3,
 * everything else is the same.
 */
#define HP_NAME "series"
#include "../common/harness.h"

HP_FN int word_count(const char *s) {
  int n = 0;
#if HP_VERSION == 1
  int in_word = 0;
  for (; *s; s++) {
    if (*s == ' ') in_word = 0;
    else if (!in_word) { in_word = 1; n++; }
  }
  if (*s == 0 && n > 0 && s[-1] == ' ') n++;
#else
  int in_word = 0;
  for (; *s; s++) {
    if (*s == ' ') in_word = 0;
    else if (!in_word) { in_word = 1; n++; }
  }
#endif
  return n;
}

HP_FN int vowel_count(const char *s) {
  int n = 0;
  for (; *s; s++) {
    char c = *s;
#if HP_VERSION >= 3
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
#endif
    if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') n++;
  }
  return n;
}

static void hp_vectors(hp_out *o) {
  static const char *const texts[] = { "hot patch", "Apply Every Update ", " one", "IOU" };
  for (unsigned k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    out_str(o, "\"");
    out_str(o, texts[k]);
    out_str(o, "\": word_count = ");
    out_int(o, word_count(texts[k]));
    out_str(o, ", vowel_count = ");
    out_int(o, vowel_count(texts[k]));
    out_nl(o);
  }
}
