/*
 * switch-dispatch: an interpreter loop whose switch has no default (`__builtin_unreachable()`:
 * the opcode's range is the compiler's knowledge, as a Rust `match` on an enum is). clang
 * duplicates the dispatch into the loop's latch: the table base is set once before the loop
 * (`lea r10, [rip + T]`) and the latch's copy reads the next opcode with no bound check,
 *   mov esi, [rcx + r11*4]; movsxd rsi, [r10 + rsi*4]; add rsi, r10; jmp rsi
 * so that jump has neither a base nor a bound on its straight line. Its table is read by
 * scanning from the base `lea` off the straight line, trusted only when base-paths.ts proves
 * r10 holds it on every path (compiler/disasm/jump-tables.ts). Before, the latch's jump had
 * "no recognisable jump table" and run_ops was refused CODE_NOT_UNDERSTOOD (the shape of
 * hundreds of swc-html's Rust functions). gcc keeps one dispatch with its `lea` on its line.
 * v1 -> v2: opcode 6 subtracts 3x instead of 2x. Changed function: run_ops.
 *
 * objdump -d (clang): run_ops has two `jmp *%rsi` through one table and one `lea` of it.
 */
#define HP_NAME "switch-dispatch"
#include "../common/harness.h"

HP_FN int run_ops(const int *code, int n, int x) {
  int acc = 0;
  for (int i = 0; i < n; i++) {
    switch (code[i]) {
    case 0: acc += x; break;
    case 1: acc -= 3; break;
    case 2: acc *= 5; break;
    case 3: acc ^= 0x55; break;
    case 4: acc = acc / 3 + 7; break;
    case 5: acc += acc >> 2; break;
#if HP_VERSION == 1
    case 6: acc -= x * 2; break;
#else
    case 6: acc -= x * 3; break;
#endif
    default: __builtin_unreachable();
    }
  }
  return acc;
}

static const int prog_a[] = { 0, 2, 6, 1, 3 };
static const int prog_b[] = { 6, 6, 0, 4, 5, 2, 6 };
static const int prog_c[] = { 3, 0, 0, 5, 1, 4 };

static void hp_vectors(hp_out *o) {
  static const struct { const int *code; int n; } progs[] = { { prog_a, 5 }, { prog_b, 7 }, { prog_c, 6 } };
  for (int p = 0; p < 3; p++) {
    for (int x = 1; x <= 3; x++) {
      out_str(o, "run_ops(prog");
      out_int(o, p);
      out_str(o, ", ");
      out_int(o, x);
      out_str(o, ") = ");
      out_int(o, run_ops(progs[p].code, progs[p].n, x));
      out_nl(o);
    }
  }
}
