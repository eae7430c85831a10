/*
 * new-catch: the fix adds catch clauses for exception types v1 never caught. parse_size
 * throws an int (bad digit), a const char * (too large) or a size_error; v1 catches only
 * size_error (the others escape to the caller's catch-all), v2 catches int and const char *
 * in parse_size itself. gcc reaches each caught type's typeinfo through a `DW.ref._ZTI...`
 * cell in .data (written by base relocations only, never by code), so v2's .data gains
 * cells and the CRT's .data after them shifts. Those cells are loader-only: a patch carries
 * the new LSDA with type entries that reach the typeinfo objects themselves.
 * Changed function: parse_size.
 *
 * objdump -t: DW.ref._ZTIi and DW.ref._ZTIPKc in v2 only; objdump -s -j .data: v2 is larger.
 */
#define HP_NAME "new-catch"
#include "../common/harness.h"

struct size_error {
  int code;
};

HP_EXTERN_C HP_FN long parse_size(const char *s) {
  try {
    long v = 0;
    for (; *s; s++) {
      if (*s < '0' || *s > '9') throw (int)*s;
      v = v * 10 + (*s - '0');
      if (v > 100000) throw "too large";
    }
    if (v == 0) throw size_error{ -1 };
    return v;
  } catch (const size_error &e) {
    return e.code;
#if HP_VERSION >= 2
  } catch (int c) {
    return -1000 - c;
  } catch (const char *) {
    return -2;
#endif
  }
}

/* The caller's catch-all: what escapes parse_size. */
static long guarded(const char *s) {
  try {
    return parse_size(s);
  } catch (...) {
    return -99;
  }
}

static void hp_vectors(hp_out *o) {
  static const char *const inputs[] = { "42", "0", "12x", "9999999" };
  for (unsigned k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
    out_str(o, "parse_size(\"");
    out_str(o, inputs[k]);
    out_str(o, "\") = ");
    out_int(o, guarded(inputs[k]));
    out_nl(o);
  }
}
