/**
 * Index registers as multiples of one value, for element-stride.ts. An optimised body scales
 * an index in one instruction (`lea r,[x+x*2]`, `imul r,x,0xc`, `shl r,3`) and indexes with it;
 * a -O0 body spells the same product in steps on copies of the index it reloaded from its
 * stack slot (gcc: `movsxd rdx,eax; mov rax,rdx; add rax,rax; add rax,rdx; shl rax,2` is
 * 12*i; `cdqe; lea rdx,[rax*8]` is 8*i) and adds the product to the pointer it reloaded
 * (`add rax,rdx`). Each register is kept as k times a value named by an id (a value the body
 * loaded or computed otherwise gets a new id the first time it is read): a copy (`mov` of a
 * 32- or 64-bit register) or a sign extension (`movsxd`, `cdqe`) keeps the id and k (`movzx`
 * reads 8 or 16 bits only, a part of the value, and is not followed), `add`/`sub` of two registers of the same id adds or
 * subtracts their k, `shl`, `imul` by a constant and a `lea` of one id (`[x*s]`, `[x+x*s]`)
 * multiply it; a constant added leaves k (the element index stays the scaled one). Any other
 * write, explicit or implicit (image-constants.ts `dropWritten`: iced's used registers),
 * forgets the register, and a call the volatile ones. Only the multiplier is read (the
 * element size an indexed access or a pointer step implies), never the value.
 */
import { type Instruction, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { dropWritten } from './image-constants.ts';
import { fullRegister } from './added-field.ts';
import { IMMEDIATE_KINDS, immediateOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

interface Term {
  readonly id: number;
  readonly k: number;
}

/** A general register of 32 or 64 bits (a write of one defines the full register). */
const isWide = (r: Register): boolean => RegisterExt.isGPR64(r) || RegisterExt.isGPR32(r);

export class IndexMultiples {
  private readonly terms = new Map<number, Term>();
  private next = 0;

  /** The multiplier register `r` holds its value at (1 when none is known). */
  multiplier(r: Register): number {
    return this.terms.get(fullRegister(r))?.k ?? 1;
  }

  private term(r: Register): Term {
    const f = fullRegister(r);
    let t = this.terms.get(f);
    if (t === undefined) this.terms.set(f, (t = { id: this.next++, k: 1 }));
    return t;
  }

  /** Follows the multiples through `insn` (call after every other reader of this instruction). */
  step(insn: Instruction): void {
    const mn = insn.mnemonic;
    if (mn === Mnemonic.Call) {
      for (const r of VOLATILE_REGISTERS) this.terms.delete(r);
      return;
    }
    // cdqe sign-extends eax into rax: the same value.
    if (mn === Mnemonic.Cdqe) return;
    const explicit = insn.opCount > 0 && insn.op0Kind === OpKind.Register && isWide(insn.op0Register) && mn !== Mnemonic.Xchg;
    const t = explicit ? this.result(insn) : null;
    // Every register the instruction writes, explicitly or not (`mul`'s rdx:rax, `cmpxchg`'s rax, `rep stos`' rcx/rdi), holds no known multiple but the one modelled.
    dropWritten(insn, this.terms);
    if (t !== null && t.k >= 1) this.terms.set(fullRegister(insn.op0Register), t);
  }

  /** The term `insn` leaves in its destination, or null when it is no multiple of a known value. */
  private result(insn: Instruction): Term | null {
    const mn = insn.mnemonic;
    const src = insn.opCount >= 2 && insn.op1Kind === OpKind.Register && isWide(insn.op1Register) ? insn.op1Register : Register.None;
    const imm = insn.opCount === 2 && IMMEDIATE_KINDS.has(insn.op1Kind);
    switch (mn) {
      case Mnemonic.Mov:
      case Mnemonic.Movsxd:
        return src === Register.None ? null : this.term(src);
      case Mnemonic.Add:
      case Mnemonic.Sub: {
        if (imm) return this.terms.get(fullRegister(insn.op0Register)) ?? null;
        if (src === Register.None) return null;
        const a = this.term(insn.op0Register);
        const b = this.term(src);
        return a.id === b.id ? { id: a.id, k: mn === Mnemonic.Add ? a.k + b.k : a.k - b.k } : null;
      }
      case Mnemonic.Shl: {
        if (insn.op1Kind !== OpKind.Immediate8 || insn.immediate(1) >= 8n) return null;
        const a = this.term(insn.op0Register);
        return { id: a.id, k: a.k << Number(insn.immediate(1)) };
      }
      case Mnemonic.Imul: {
        if (insn.opCount !== 3 || src === Register.None || !IMMEDIATE_KINDS.has(insn.op2Kind)) return null;
        const a = this.term(src);
        return { id: a.id, k: a.k * immediateOf(insn, 2) };
      }
      case Mnemonic.Lea:
        return this.leaTerm(insn);
      default:
        return null;
    }
  }

  /** `lea r,[x*s]` or `lea r,[b+x*s]` with b and x of one id, no displacement. */
  private leaTerm(insn: Instruction): Term | null {
    const b = insn.memoryBase;
    const x = insn.memoryIndex;
    if (x === Register.None || insn.memoryDisplacement !== 0n || !isWide(x)) return null;
    const tx = this.term(x);
    const s = insn.memoryIndexScale;
    if (b === Register.None) return { id: tx.id, k: s * tx.k };
    if (!isWide(b)) return null;
    const tb = this.term(b);
    return tb.id === tx.id ? { id: tx.id, k: tb.k + s * tx.k } : null;
  }
}
