/*
 * enum-unbounded: negative twin of enum-lengths. The same switch from an enum to a name with
 * no default (`__builtin_unreachable()`), returning the name only: clang reads one LLVM
 * self-relative table with no bound check and no lengths table beside it,
 *   movzx eax, byte [rcx]; lea rcx, [rip + REL]; movsxd rax, [rcx + rax*4]; add rax, rcx
 * so nothing in the image bounds the table: its extent is unknown and a change that needs it
 * is refused RELATIVE_TABLE_UNBOUNDED (compiler/diff/relative-table-extent.ts). gcc makes a
 * table of absolute pointers (base-relocated), which is patched.
 * v1 -> v2: the fifth name is fixed ("epsilom" -> "epsilon"). Changed function: tok_str.
 *
 * objdump -d (clang): tok_str has no cmp before its table load.
 */
#define HP_NAME "enum-unbounded"
#include "../common/harness.h"

enum tok { T_A, T_B, T_C, T_D, T_E, T_F, T_G };
struct tokv {
  unsigned char kind;
};

HP_FN const char *tok_str(const struct tokv *t) {
  switch ((enum tok)t->kind) {
  case T_A: return "alpha";
  case T_B: return "beta";
  case T_C: return "gamma";
  case T_D: return "delta";
#if HP_VERSION == 1
  case T_E: return "epsilom";
#else
  case T_E: return "epsilon";
#endif
  case T_F: return "zeta";
  case T_G: return "eta";
  }
  __builtin_unreachable();
}

static void hp_vectors(hp_out *o) {
  for (int k = T_A; k <= T_G; k++) {
    struct tokv t = { (unsigned char)k };
    out_str(o, "tok_str(");
    out_int(o, k);
    out_str(o, ") = ");
    out_str(o, tok_str(&t));
    out_nl(o);
  }
}
