/*
 * enum-names: a switch mapping enum values to names. clang (LLVM's relative lookup table
 * conversion) compiles it to a .rdata table of 32-bit offsets relative to the table itself,
 * each pointing at a string: `lea rcx,[rip+T]; movslq (rcx,rax,4),rax; add rcx,rax`. gcc
 * makes a table of absolute pointers (base-relocated). v1 swaps the names of cyan and magenta, v2 fixes that: the strings stay
 * where they are (unchanged, the patch reuses OLD's), only the table's entries change,
 * so color_name and its table change; v3 is a pure logic fix in the same function (the
 * out-of-range answer's string), with the table unchanged.
 * A package that carries the clang table as literal bytes at another address makes every
 * entry point at the wrong bytes (names print empty or garbage): the entries must be
 * re-based for the table's new address, and the verifier must check them by meaning.
 * Changed function: color_name.
 *
 * objdump -d (clang): color_name loads from [rcx+rax*4] and adds rcx; objdump -s -j .rdata:
 * the table's entries are small signed offsets.
 */
#define HP_NAME "enum-names"
#include "../common/harness.h"

enum color { RED, GREEN, BLUE, CYAN, MAGENTA, YELLOW, BLACK, WHITE };

HP_FN const char *color_name(int c) {
  switch (c) {
  case RED: return "red";
  case GREEN: return "green";
  case BLUE: return "blue";
#if HP_VERSION == 1
  case CYAN: return "magenta";
  case MAGENTA: return "cyan";
#else
  case CYAN: return "cyan";
  case MAGENTA: return "magenta";
#endif
  case YELLOW: return "yellow";
  case BLACK: return "black";
#if HP_VERSION >= 3
  default: return "(unknown)";
#else
  default: return "?";
#endif
  }
}

static void hp_vectors(hp_out *o) {
  for (int c = -1; c <= 8; c++) {
    out_str(o, "color_name(");
    out_int(o, c);
    out_str(o, ") = ");
    out_str(o, color_name(c));
    out_nl(o);
  }
}
