/*
 * switch-table: a dense switch that gcc compiles to a jump table (a .rdata array of 32-bit
 * offsets; the dispatch is `movslq (%rdx,%rax,4),%rax; add %rdx,%rax; jmp *%rax`). v2
 * changes the table: opcode 5 gets its own case (it fell to default in v1), opcodes 9 and
 * 10 swap bodies, and a new case 13 extends the table. Each case computes something
 * different, so gcc cannot turn the switch into a lookup table of constants.
 * Changed function: apply_op.
 *
 * objdump -d: apply_op has `jmp *%rax` after a bounds compare (cmp $0xb / $0xd); the
 * table sits in .rdata (objdump -s -j .rdata).
 */
#define HP_NAME "switch-table"
#include "../common/harness.h"

HP_FN int apply_op(int op, int x) {
  switch (op) {
  case 0: return x + 1;
  case 1: return x - 7;
  case 2: return x * 3;
  case 3: return x ^ 0x55;
  case 4: return x << 2;
#if HP_VERSION >= 2
  case 5: return x % 7;
#endif
  case 6: return -x;
  case 7: return x | 0x100;
  case 8: return x & 0xf0;
#if HP_VERSION == 1
  case 9: return x / 3;
  case 10: return x * x;
#else
  case 9: return x * x;
  case 10: return x / 3;
#endif
  case 11: return (x >> 1) + 11;
#if HP_VERSION >= 2
  case 12: return x + 12;
  case 13: return ~x;
#endif
  default: return 0;
  }
}

static void hp_vectors(hp_out *o) {
  for (int op = 0; op <= 14; op++) {
    out_str(o, "apply_op(");
    out_int(o, op);
    out_str(o, ", 23) = ");
    out_int(o, apply_op(op, 23));
    out_nl(o);
  }
}
