/**
 * Which of its caller's stack arguments a function reads: the fifth argument on, which the
 * x64 convention passes at [rsp+0x28], [rsp+0x30], ... as the function finds rsp at its entry
 * (above the return address and the 32-byte home area). For entry-arguments.ts: a new body
 * that reads a slot its old body never read takes an argument old callers do not push.
 *
 * The frame is followed on the straight line from the entry (the prologue: pushes, `sub rsp,
 * imm`, `mov rbp, rsp` / `lea rbp, [rsp+X]`); after it, every rsp-based access is taken at the
 * prologue's depth (compilers for Windows x64 keep rsp fixed in the body: outgoing arguments are
 * stored, not pushed). A function that moves rsp by a register or aligns it (alloca, __chkstk,
 * `and rsp, -32`) has no depth this can follow: its reads are unknown (null).
 */
import { Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { ROLE_INTEGER, ROLE_POINTER, roleInsnAlone, VOLATILE_MASK, type RoleInsn } from './argument-roles.ts';
import { spanOf } from './register-effects.ts';
import { opAccessOf, opKindOf } from '../disasm/operands.ts';

/** Offset of the first stack argument from rsp at entry (return address + home area). */
export const FIRST_STACK_ARG = 0x28;
/** Stack argument slots tracked (the 5th to the 20th argument). */
const SLOTS = 16;
/** How far the prologue walk goes. */
const PROLOGUE_MAX = 24;

const factory = new InstructionInfoFactory();

/** The offset from entry rsp of the slot bits in `mask`, as `[rsp+0x28]` names (entry frame). */
export function stackSlotNames(mask: number): string {
  const out: string[] = [];
  for (let k = 0; k < SLOTS; k++) if ((mask & (1 << k)) !== 0) out.push(`[rsp+0x${(FIRST_STACK_ARG + 8 * k).toString(16)}]`);
  return out.join(', ');
}

/** How an instruction of the prologue moves rsp (bytes, growing the frame), or null when it is not a prologue step. */
function prologueStep(insn: Instruction): { grow: number } | { rbp: number } | null {
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Push && insn.op0Kind === OpKind.Register) return { grow: 8 };
  if (mn === Mnemonic.Sub && insn.op0Register === Register.RSP && insn.op1Kind !== OpKind.Register) return { grow: Number(insn.immediate(1)) };
  if (mn === Mnemonic.Mov && insn.op0Kind === OpKind.Register && insn.op0Register === Register.RBP && insn.op1Kind === OpKind.Register && insn.op1Register === Register.RSP) return { rbp: 0 };
  if (mn === Mnemonic.Lea && insn.op0Register === Register.RBP && insn.memoryBase === Register.RSP && insn.memoryIndex === Register.None) return { rbp: Number(insn.memoryDisplacement) };
  return null;
}

/** Whether `insn` sets rsp in a way no fixed depth follows (a register amount, an alignment, a load). */
function movesRspUnknown(insn: Instruction): boolean {
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || insn.op0Register !== Register.RSP) return false;
  const mn = insn.mnemonic;
  if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && insn.op1Kind !== OpKind.Register) return false;
  return true;
}

/**
 * The caller stack-argument slots `f` reads (bit k: [rsp+0x28+8k] at entry), or null when its
 * frame cannot be followed.
 */
export function stackArgumentReads(image: Uint8Array, f: FunctionInfo): number | null {
  return stackArgumentUse(image, f, false)?.reads ?? null;
}

/**
 * What `f` does with each caller stack-argument slot it reads (ROLE_* bits of argument-roles.ts
 * per slot, the fifth argument first), or null when its frame cannot be followed. A slot read
 * as 32 bits or narrower (`mov eax, [rsp+0x30]`, `add eax, [rsp+0x30]`, `movsx`, `movss`) holds
 * no pointer (INTEGER); one loaded whole into a register is followed on the straight line after
 * the load with the register roles' evidence (argument-roles.ts: dereferenced, POINTER; used as
 * 32 bits, scaled or multiplied, INTEGER), through copies and across calls in callee-saved
 * registers, up to the next branch, return or write. A slot read as 64 bits into memory or an
 * xmm register, compared, or whose address is taken is evidence of nothing. For
 * entry-arguments.ts: a fifth or later parameter moved, removed or swapped while the new body
 * reads the same slots or fewer (sample entry-args-stack).
 */
export function stackArgumentRoles(image: Uint8Array, f: FunctionInfo): number[] | null {
  return stackArgumentUse(image, f, true)?.roles ?? null;
}

/** The prologue walk both of the above share: slots read, and with `withRoles` their roles (one walk for both). */
export function stackArgumentUse(image: Uint8Array, f: FunctionInfo, withRoles: boolean): { reads: number; roles: number[] } | null {
  const insns = f.decoded.insns;
  const { lo, hi } = spanOf(insns);
  const roles: number[] = Array<number>(SLOTS).fill(0);
  if (hi <= lo) return { reads: 0, roles };
  const decoder = new Decoder(64, image.subarray(lo, hi), DecoderOptions.None);
  const insn = new Instruction();
  let depth = 0;
  let rbpAt: number | null = null;
  let inPrologue = true;
  let expect: number = f.entry;
  let steps = 0;
  let mask = 0;
  // GPR -> the slot whose whole value it holds, on the straight line since the load (roles only).
  const held = new Map<number, number>();
  try {
    for (const d of [...insns].sort((a, b) => a.rva - b.rva)) {
      decoder.position = d.rva - lo;
      decoder.ip = BigInt(d.rva);
      decoder.decodeOut(insn);
      if (d.rva !== expect) held.clear();
      if (inPrologue && (d.rva !== expect || steps++ >= PROLOGUE_MAX)) inPrologue = false;
      const step = inPrologue ? prologueStep(insn) : null;
      if (step !== null && 'grow' in step) depth += step.grow;
      else if (step !== null) rbpAt = depth - step.rbp;
      else if (movesRspUnknown(insn)) return null;
      else if (insn.mnemonic === Mnemonic.Push || insn.mnemonic === Mnemonic.Pop || insn.mnemonic === Mnemonic.Ret) {
        // Epilogue pops and the return: no argument read.
      } else {
        const read = slotsRead(insn, depth, rbpAt);
        mask |= read;
        if (withRoles) followRoles(insn, d.rva, d.length, d.flow, read, held, roles);
      }
      if (d.flow !== FlowControl.Next) inPrologue = false;
      expect = d.rva + d.length;
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return { reads: mask, roles };
}

/** GPR numbers of a 64-bit register, or -1. */
const gpr64 = (r: Register): number => (RegisterExt.isGPR64(r) ? r - Register.RAX : -1);

/**
 * One instruction of the straight-line role search: evidence for the slots `held` registers
 * carry, then the slots `read` gives evidence for by the width of the read, then what the
 * instruction kills, copies or loads whole.
 */
function followRoles(insn: Instruction, rva: number, length: number, flow: FlowControl, read: number, held: Map<number, number>, roles: number[]): void {
  let e: RoleInsn | null = null;
  if (held.size > 0) {
    e = roleInsnAlone(insn, rva, length, flow);
    for (const u of e.uses) {
      const k = held.get(u >> 3);
      if (k !== undefined) roles[k]! |= u & (ROLE_POINTER | ROLE_INTEGER);
    }
  }
  const whole = read !== 0 && insn.mnemonic === Mnemonic.Mov && insn.op0Kind === OpKind.Register && gpr64(insn.op0Register) >= 0;
  if (read !== 0 && !whole) {
    const size = MemorySizeExt.size(insn.memorySize);
    if (size > 0 && size <= 4) for (let k = 0; k < SLOTS; k++) if ((read & (1 << k)) !== 0) roles[k]! |= ROLE_INTEGER;
  }
  if (flow !== FlowControl.Next && flow !== FlowControl.ConditionalBranch && flow !== FlowControl.Call) {
    held.clear();
    return;
  }
  if (e !== null) {
    const kill = flow === FlowControl.Call ? e.writes | VOLATILE_MASK : e.writes;
    const from = e.copySrc >= 0 ? held.get(e.copySrc) : undefined;
    for (const g of [...held.keys()]) if ((kill & (1 << g)) !== 0) held.delete(g);
    if (from !== undefined && e.copyDst >= 0) held.set(e.copyDst, from);
  }
  if (whole) held.set(gpr64(insn.op0Register), Math.log2(read & -read));
}

/** The stack-argument slots the memory operands of `insn` read, at frame depth `depth` (rbp = entry rsp - rbpAt). */
function slotsRead(insn: Instruction, depth: number, rbpAt: number | null): number {
  let mask = 0;
  for (let i = 0; i < insn.opCount; i++) {
    if (opKindOf(insn, i) !== OpKind.Memory || insn.memoryIndex !== Register.None) continue;
    const base = insn.memoryBase;
    const fromEntry = base === Register.RSP ? Number(insn.memoryDisplacement) - depth : base === Register.RBP && rbpAt !== null ? Number(insn.memoryDisplacement) - rbpAt : null;
    if (fromEntry === null || fromEntry < FIRST_STACK_ARG) continue;
    const k = Math.floor((fromEntry - FIRST_STACK_ARG) / 8);
    if (k >= SLOTS) continue;
    const info = factory.info(insn);
    const a = opAccessOf(info, i);
    info.free();
    if (a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) mask |= 1 << k;
  }
  return mask;
}
