/*
 * threaded-switch: a bytecode interpreter: a switch inside a loop. gcc hoists the table's
 * base (`lea r9, [rip + T]`) above the loop head, so the loop's back edge enters the
 * dispatch between that `lea` and the bound on the opcode: the straight line from the `lea`
 * to the indirect jump has more than one path into it. Every path must be proven to reach
 * the jump with r9 still holding T (it is written nowhere else) and a bounded index for the
 * table to be carried. v2 fixes OP_SUB (operands swapped) and adds OP_NEG.
 * Changed function: run_program.
 *
 * objdump -d: run_program's `lea ...,%r9` comes before the loop head that `jl` at the loop's
 * end targets; `movzbl`/`movslq (%r9,%rax,4)`/`add %r9`/`jmp *%rax` follow the head.
 */
#define HP_NAME "threaded-switch"
#include "../common/harness.h"

enum { OP_HALT, OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_DUP, OP_SWAP, OP_DROP, OP_NEG, OP_INC };

HP_FN long run_program(const unsigned char *code, int len) {
  long stack[16];
  int sp = 0;
  for (int pc = 0; pc < len;) {
    switch (code[pc++]) {
    case OP_HALT: return sp > 0 ? stack[sp - 1] : 0;
    case OP_PUSH: if (sp < 16 && pc < len) stack[sp++] = code[pc++]; else return -1; break;
    case OP_ADD: if (sp < 2) return -2; stack[sp - 2] += stack[sp - 1]; sp--; break;
#if HP_VERSION == 1
    case OP_SUB: if (sp < 2) return -2; stack[sp - 2] = stack[sp - 1] - stack[sp - 2]; sp--; break;
#else
    case OP_SUB: if (sp < 2) return -2; stack[sp - 2] -= stack[sp - 1]; sp--; break;
    case OP_NEG: if (sp < 1) return -2; stack[sp - 1] = -stack[sp - 1]; break;
#endif
    case OP_MUL: if (sp < 2) return -2; stack[sp - 2] *= stack[sp - 1]; sp--; break;
    case OP_DUP: if (sp < 1 || sp >= 16) return -2; stack[sp] = stack[sp - 1]; sp++; break;
    case OP_SWAP: if (sp < 2) return -2; { long t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; } break;
    case OP_DROP: if (sp < 1) return -2; sp--; break;
    case OP_INC: if (sp < 1) return -2; stack[sp - 1]++; break;
    default: return -3;
    }
  }
  return sp > 0 ? stack[sp - 1] : 0;
}

static void hp_vectors(hp_out *o) {
  static const unsigned char p1[] = { OP_PUSH, 9, OP_PUSH, 4, OP_SUB, OP_HALT };
  static const unsigned char p2[] = { OP_PUSH, 3, OP_DUP, OP_MUL, OP_INC, OP_NEG, OP_HALT };
  static const unsigned char p3[] = { OP_PUSH, 7, OP_PUSH, 2, OP_SWAP, OP_SUB, OP_PUSH, 5, OP_ADD, OP_HALT };
  static const unsigned char *const progs[] = { p1, p2, p3 };
  static const int lens[] = { sizeof p1, sizeof p2, sizeof p3 };
  for (int k = 0; k < 3; k++) {
    out_str(o, "run_program(p");
    out_int(o, k + 1);
    out_str(o, ") = ");
    out_int(o, run_program(progs[k], lens[k]));
    out_nl(o);
  }
}
