/*
 * enum-lengths: a switch from an enum to a name and its length, with no default (the enum's
 * range is the compiler's knowledge: `__builtin_unreachable()`), as Rust's `match` on an
 * enum returning a `&str` is. clang (LLVM's switch-to-lookup-table and relative lookup table
 * conversions) reads two tables with one index and no bound check:
 *   movzx eax, byte [rcx]; lea rcx, [rip + LEN]; mov rcx, [rcx + rax*8]   (lengths, 8 bytes)
 *   lea r8, [rip + REL]; movsxd rax, [r8 + rax*4]; add rax, r8             (names, self-relative)
 * The lengths table ends where the relative one begins: (REL - LEN) / 8 entries bound the
 * relative table, which a package must re-base entry by entry (compiler/disasm/
 * relative-tables.ts siblingBound). Before it, the lengths table was taken for the
 * relative one (its lea's register is set again before the read) and the real relative
 * table keyed by its bytes, which do not change: tok_name looked unchanged, and a package
 * left OLD's name live. gcc makes a jump table indexed by the zero-extended byte.
 * v1 -> v2: the fifth name is fixed ("epsilom" -> "epsilon": same length, the string changes
 * in place, the tables' bytes do not). Changed function: tok_name.
 *
 * objdump -d (clang): tok_name has no cmp before either table load.
 */
#define HP_NAME "enum-lengths"
#include "../common/harness.h"

#include <stddef.h>

enum tok { T_A, T_B, T_C, T_D, T_E, T_F, T_G };
struct tokv {
  unsigned char kind;
};

HP_FN const char *tok_name(const struct tokv *t, size_t *len) {
  switch ((enum tok)t->kind) {
  case T_A: *len = 5; return "alpha";
  case T_B: *len = 4; return "beta";
  case T_C: *len = 5; return "gamma";
  case T_D: *len = 5; return "delta";
#if HP_VERSION == 1
  case T_E: *len = 7; return "epsilom";
#else
  case T_E: *len = 7; return "epsilon";
#endif
  case T_F: *len = 4; return "zeta";
  case T_G: *len = 3; return "eta";
  }
  __builtin_unreachable();
}

static void hp_vectors(hp_out *o) {
  for (int k = T_A; k <= T_G; k++) {
    struct tokv t = { (unsigned char)k };
    size_t len = 0;
    const char *s = tok_name(&t, &len);
    out_str(o, "tok_name(");
    out_int(o, k);
    out_str(o, ") = ");
    out_bytes(o, s, (int)len);
    out_nl(o);
  }
}
