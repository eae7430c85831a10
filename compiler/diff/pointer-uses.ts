/**
 * Whether an 8-byte field is used as a pointer or as a number, for field-retype.ts: a pointer
 * field that becomes an int64 at the same offset (test/probes/red-ptr.c: v1 `o->v = &g_vals[k]`,
 * show reads `*o->v`; v2 stores the value and adds it) keeps offset, size and the integer kind
 * of every access, so only what the loaded or stored value is used for tells the types apart.
 * Objects old code built hold addresses where new code reads numbers (or the reverse).
 *
 * Evidence, in address order over straight-line code (any branch, call or return that does not
 * decide ends the watch, and so does a write to the register):
 * - pointer: an 8-byte load of the field whose register is then a memory operand's base or
 *   index (dereferenced, or indexed from); an 8-byte store of a register that holds an address
 *   (written by a `lea` of a RIP-relative address, or by a `lea` based on such a register).
 * - value: the field's 8 bytes as the memory operand of `add`, `sub` or `imul` into a register
 *   that is then returned (`ret` with it in rax) without being used as an address first.
 * A load passed to a call, compared, or copied gives neither: a fix that keeps a pointer and
 * passes it on where the old body dereferenced it is not a retype.
 */
import { FlowControl, type Instruction, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { opKindOf } from '../disasm/operands.ts';

const fullRegister = (r: Register): number => RegisterExt.fullRegister(r);

export type PointerUse = 'pointer' | 'value';

/** Arithmetic that, with the field as its memory operand, makes a number unless the result is then used as an address. */
const VALUE_ARITH = new Set<number>([Mnemonic.Add, Mnemonic.Sub, Mnemonic.Imul]);

/** Registers read as a memory operand's base or index by `insn` (not `lea`'s: that computes, it does not dereference). */
function addressRegisters(insn: Instruction): number[] {
  const out: number[] = [];
  for (let k = 0; k < insn.opCount; k++) {
    if (opKindOf(insn, k) !== OpKind.Memory) continue;
    if (insn.mnemonic === Mnemonic.Lea) break;
    if (insn.memoryBase !== Register.None && insn.memoryBase !== Register.RIP) out.push(fullRegister(insn.memoryBase));
    if (insn.memoryIndex !== Register.None) out.push(fullRegister(insn.memoryIndex));
    break;
  }
  return out;
}

const RAX_ONLY = new Set<number>([Mnemonic.Cdqe, Mnemonic.Cwde, Mnemonic.Cbw]);
const RDX_ONLY = new Set<number>([Mnemonic.Cqo, Mnemonic.Cdq, Mnemonic.Cwd]);
const BOTH = new Set<number>([Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv]);

/** Registers `insn` writes without naming them as an operand (of those followed here). */
function implicitWrites(insn: Instruction): readonly Register[] {
  const mn = insn.mnemonic;
  if (RAX_ONLY.has(mn)) return [Register.RAX];
  if (RDX_ONLY.has(mn)) return [Register.RDX];
  if (BOTH.has(mn) && insn.opCount === 1) return [Register.RAX, Register.RDX];
  return [];
}

/** The 64-bit register `insn` writes as its first operand, or -1. */
function written(insn: Instruction): number {
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register) return -1;
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Cmp || mn === Mnemonic.Test || mn === Mnemonic.Push) return -1;
  return fullRegister(insn.op0Register);
}

/** Follows the values of field accesses (by their index in the access list) to what they are used for. */
export class PointerUseTracker {
  /** Register -> the access whose loaded value (load) or arithmetic result (value) it holds. */
  private readonly pending = new Map<number, { at: number; arith: boolean }>();
  /** Registers holding an address (see the module comment). */
  private readonly addresses = new Set<number>();
  readonly uses = new Map<number, PointerUse>();

  /** `insn` accesses a field through an argument: the access is number `at` of the list, `size` bytes. Call before `step`. */
  access(insn: Instruction, at: number, size: number): void {
    if (size !== 8) return;
    const mn = insn.mnemonic;
    if (insn.opCount === 2 && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Memory) {
      const r = fullRegister(insn.op0Register);
      if (r !== insn.op0Register) return;
      if (mn === Mnemonic.Mov) this.watch = [r, at, false];
      else if (VALUE_ARITH.has(mn)) this.watch = [r, at, true];
    } else if (mn === Mnemonic.Mov && insn.op0Kind === OpKind.Memory && insn.op1Kind === OpKind.Register && this.addresses.has(fullRegister(insn.op1Register))) {
      this.uses.set(at, 'pointer');
    }
  }

  private watch: [number, number, boolean] | null = null;

  /** Follows one instruction (after `access`, when it made one). */
  step(insn: Instruction): void {
    for (const r of addressRegisters(insn)) {
      const p = this.pending.get(r);
      if (p !== undefined && this.uses.get(p.at) !== 'value') this.uses.set(p.at, 'pointer');
      this.pending.delete(r);
    }
    const fc = insn.flowControl;
    if (fc === FlowControl.Return) {
      const p = this.pending.get(Register.RAX);
      if (p !== undefined && p.arith && !this.uses.has(p.at)) this.uses.set(p.at, 'value');
    }
    if (fc !== FlowControl.Next) {
      this.pending.clear();
      this.addresses.clear();
      this.watch = null;
      return;
    }
    // Implicit writes: cdqe and cwde write rax; cqo and cdq rdx; one-operand mul, imul, div, idiv both.
    for (const r of implicitWrites(insn)) this.pending.delete(r);
    const w = written(insn);
    if (w >= 0) {
      this.pending.delete(w);
      const isAddress = insn.mnemonic === Mnemonic.Lea && (insn.memoryBase === Register.RIP || this.addresses.has(fullRegister(insn.memoryBase)));
      if (isAddress && w === insn.op0Register) this.addresses.add(w);
      else this.addresses.delete(w);
    }
    if (this.watch !== null) {
      const [r, at, arith] = this.watch;
      this.pending.set(r, { at, arith });
      this.watch = null;
    }
  }
}
