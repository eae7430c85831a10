/**
 * `jmp reg` that leaves the function: a tail call through a code pointer, which has no cases
 * to find (like `call reg`). Proven by a forward must-analysis over the decoded control flow
 * (base-paths.ts's graph) of which 64-bit registers hold a pointer from outside the function
 * on every path: a value the caller passed (the registers at the entry), a 64-bit load
 * without an index and not from the stack (a struct field, a vtable slot, a global), a `lea` of code outside the
 * function's ranges (a CPU-feature dispatch storing one of two implementations), or a copy
 * of such a register. Any other write (a call: the volatile registers) loses it; an
 * instruction no decoded path reaches is entered with nothing known. A function that takes
 * an address inside its own ranges (labels as values) is never read this way: a stored label
 * could come back through a load.
 */
import { FlowControl, MemorySize, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { flowEdges, isPadding, type FlowGraph } from './base-paths.ts';
import { clobbers } from './jump-tables.ts';

/** The 64-bit registers tracked (rsp never holds a code pointer). */
const GPRS: readonly Register[] = [Register.RAX, Register.RCX, Register.RDX, Register.RBX, Register.RBP, Register.RSI, Register.RDI, Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15];
const ALL = (1 << GPRS.length) - 1;
/** A stack slot may hold anything the function spilled (a case address it computed): not a pointer from outside. */
const STACK: ReadonlySet<Register> = new Set([Register.RSP, Register.RBP]);
const bitOf = (r: Register): number => {
  const i = GPRS.indexOf(RegisterExt.fullRegister(r));
  return i < 0 ? 0 : 1 << i;
};

/**
 * True when `reg` holds a pointer from outside the function at `jumpRva` on every decoded
 * path. `inside`: whether an RVA is in the function's ranges; `outsideCode`: whether an RVA
 * is code (an executable section) outside them.
 */
export function jumpsThroughOutsidePointer(g: FlowGraph, jumpRva: number, reg: Register, inside: (rva: number) => boolean, outsideCode: (rva: number) => boolean): boolean {
  const want = RegisterExt.isGPR64(reg) ? bitOf(reg) : 0;
  if (want === 0) return false;
  for (const p of g.byRva.values()) for (const r of p.refs) if (!r.isBranch && inside(r.target)) return false;
  const { succ, reached } = flowEdges(g);
  // Entry masks only shrink (intersection at joins): the worklist ends.
  const held = new Map<number, number>();
  const queue: number[] = [];
  const meet = (x: number, mask: number): void => {
    if (!g.byRva.has(x)) return;
    const old = held.get(x);
    const m = old === undefined ? mask : old & mask;
    if (old === m) return;
    held.set(x, m);
    queue.push(x);
  };
  // The entry (the first root) holds what the caller passed; the starts of the function's
  // other parts are entered by its own branches, or, when none is decoded, with nothing known.
  const entry = g.roots[0] ?? -1;
  meet(entry, ALL);
  for (const p of g.byRva.values()) if (!reached.has(p.rva) && p.rva !== entry && !isPadding(g, p.rva)) meet(p.rva, 0);
  while (queue.length > 0) {
    const x = queue.pop()!;
    const out = transfer(g, x, held.get(x)!, outsideCode);
    for (const y of succ.get(x)!) meet(y, out);
  }
  return ((held.get(jumpRva) ?? 0) & want) !== 0;
}

/** The registers holding an outside pointer after the instruction at `x`, given `mask` before it. */
function transfer(g: FlowGraph, x: number, mask: number, outsideCode: (rva: number) => boolean): number {
  g.decodeAt(x);
  const insn = g.insn;
  let out = mask;
  for (let i = 0; i < GPRS.length; i++) if ((out & (1 << i)) !== 0 && clobbers(insn, GPRS[i]!, g.writes)) out &= ~(1 << i);
  if (insn.flowControl !== FlowControl.Next || insn.op0Kind !== OpKind.Register || !RegisterExt.isGPR64(insn.op0Register)) return out;
  const dst = bitOf(insn.op0Register);
  const m = insn.mnemonic;
  if (m === Mnemonic.Lea && insn.isIpRelMemoryOperand && outsideCode(Number(BigInt.asUintN(64, insn.ipRelMemoryAddress)))) out |= dst;
  else if (m === Mnemonic.Mov && insn.op1Kind === OpKind.Memory && insn.memoryIndex === Register.None && insn.memorySize === MemorySize.UInt64 && !STACK.has(insn.memoryBase)) out |= dst;
  else if (m === Mnemonic.Mov && insn.op1Kind === OpKind.Register && RegisterExt.isGPR64(insn.op1Register) && (mask & bitOf(insn.op1Register)) !== 0) out |= dst;
  return out;
}
