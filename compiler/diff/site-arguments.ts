/**
 * Two float parameters reordered (`fratio(double num, double den)` -> `fratio(double den,
 * double num)`): argument-permutation.ts' call-site evidence for the xmm argument registers.
 * Both bodies read xmm0 and xmm1 and argument-roles.ts follows no xmm register, so before
 * this the export was called hotpatchable while a module compiled against v1 passes num in
 * xmm0 and the patched body divides by it (probe test/probes/entry-args-fswap.c, gcc and clang).
 *
 * What an xmm argument register holds at a direct call is found on the straight line before
 * it, as for the GPRs: a load of a constant through RIP (`movsd xmm1,[rip+c]`, `movss`,
 * `movq`, `movaps`...) gives the constant's bytes (compared by value, so a constant that moved
 * between builds still matches), `xorps/xorpd/pxor x,x` gives zero, a register copy
 * (`movapd xmm1,xmm7`) follows its source, and so does a trip through a general register
 * (gcc -Os keeps a double in rbx across a call: `movq rbx,xmm1` ... `movq xmm0,rbx`; a
 * constant built as `mov rax,imm64; movq xmm0,rax` gives the same bytes as its load from
 * .rdata); reaching the caller's entry untouched gives the caller's own xmm argument; any
 * other write (implicit ones included, for general registers) gives nothing known. The sites then go through
 * the same `swappedArguments` as the integer ones (two registers passed swapped, no site
 * contradicting). A float parameter removed from the middle is not covered.
 *
 * The stack arguments (the fifth to the eighth: [rsp+0x20..0x38] at the call) are the same
 * evidence: two doubles or integers of one kind swapped there read the same slots in the same
 * roles (stack-arguments.ts), and the caller stores the same values into swapped slots (`mov
 * qword [rsp+0x28],imm`, `movsd [rsp+0x30],xmm6` followed back to its constant). A store
 * into a slot is followed to its source; a wider store over it, or `rsp` moving, is unknown
 * (probe entry-args-fshapes `five`).
 */
import { FlowControl, MemorySizeExt, Mnemonic, OpKind, Register, type Instruction } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { roleInsnAlone } from './argument-roles.ts';
import { decodeEach } from './register-effects.ts';
import { opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** xmm0-xmm3: the float argument registers of the x64 convention. */
export const XMM_ARG_NAMES = ['xmm0', 'xmm1', 'xmm2', 'xmm3'] as const;

/** Copies between xmm registers (the whole register or its low lane). */
const XMM_MOVES = new Set<number>([Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movups, Mnemonic.Movupd, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movsd, Mnemonic.Movss, Mnemonic.Movq, Mnemonic.Vmovaps, Mnemonic.Vmovapd, Mnemonic.Vmovups, Mnemonic.Vmovupd, Mnemonic.Vmovsd, Mnemonic.Vmovss, Mnemonic.Vmovq]);
const XMM_ZEROES = new Set<number>([Mnemonic.Xorps, Mnemonic.Xorpd, Mnemonic.Pxor, Mnemonic.Vxorps, Mnemonic.Vxorpd, Mnemonic.Vpxor]);

/** Locations the scan tracks: xmm0-15 as 0-15, the general registers rax-r15 as GPR + 0-15, the outgoing stack argument slots [rsp+0x20+8k] as STACK + k. */
const GPR = 16;
const STACK = 32;
/** The first stack argument's offset at a call, and how many slots are compared. */
const SLOT0 = 0x20;
const SLOTS = 4;
const RSP_BIT = 1 << 4;

/** The location of an xmm/ymm or 64/32-bit general register, or -1. */
function locationOf(r: Register): number {
  if (r >= Register.XMM0 && r <= Register.XMM15) return r - Register.XMM0;
  if (r >= Register.YMM0 && r <= Register.YMM15) return r - Register.YMM0;
  if (r >= Register.RAX && r <= Register.R15) return GPR + r - Register.RAX;
  if (r >= Register.EAX && r <= Register.R15D) return GPR + r - Register.EAX;
  return -1;
}

/** One instruction as the backward scan needs it: the xmm it writes and what it writes there. */
interface XmmInsn {
  readonly rva: number;
  readonly next: number;
  readonly flow: FlowControl;
  /** Direct call target, or -1. */
  readonly target: number;
  /** Location written (op0), or -1. */
  readonly dst: number;
  /** Stack slots written in a way the scan does not follow (bit per slot). */
  readonly slotClobbers: number;
  /** General registers written, implicitly too (bit per GPR number). */
  readonly gprWrites: number;
  /** The constant written (`#f` and its bytes in hex), or null. */
  readonly value: string | null;
  /** The location copied from, or -1. */
  readonly src: number;
}

function constantAt(image: Uint8Array, rva: number, size: number): string | null {
  if (size <= 0 || size > 16 || rva < 0 || rva + size > image.length) return null;
  const bytes = [...image.subarray(rva, rva + size)];
  // Zero as `xorps x,x` writes it, whatever its width.
  if (bytes.every((b) => b === 0)) return '#f0';
  return `#f${bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The little-endian bytes of `mov r,imm` (or `mov [m],imm`) as a constant of `width` bytes. */
function immediateBytes(insn: Instruction, width: number): string | null {
  const k = insn.op1Kind;
  if (k === OpKind.Register || k === OpKind.Memory || (width !== 4 && width !== 8)) return null;
  const v = BigInt.asUintN(width * 8, insn.immediate(1));
  const bytes = v.toString(16).padStart(width * 2, '0').match(/../g) ?? [];
  return v === 0n ? '#f0' : `#f${bytes.reverse().join('')}`;
}

/** A store into the outgoing stack argument slots: the one slot it sets (a full slot at most 8 bytes wide), and the slots it clobbers otherwise. */
function slotStore(insn: Instruction): { slot: number; clobbers: number } | null {
  if (insn.opCount < 1 || insn.op0Kind !== OpKind.Memory || insn.memoryBase !== Register.RSP || insn.memoryIndex !== Register.None) return null;
  if (insn.mnemonic === Mnemonic.Cmp || insn.mnemonic === Mnemonic.Test) return null;
  const lo = Number(BigInt.asIntN(64, insn.memoryDisplacement));
  const size = Math.max(1, MemorySizeExt.size(insn.memorySize));
  let clobbers = 0;
  for (let k = 0; k < SLOTS; k++) if (lo < SLOT0 + 8 * (k + 1) && SLOT0 + 8 * k < lo + size) clobbers |= 1 << k;
  if (clobbers === 0) return null;
  const k = (lo - SLOT0) / 8;
  const whole = Number.isInteger(k) && k >= 0 && k < SLOTS && size <= 8 && clobbers === 1 << k;
  return whole ? { slot: k, clobbers: 0 } : { slot: -1, clobbers };
}

function xmmInsnOf(image: Uint8Array, insn: Instruction, rva: number, length: number, flow: FlowControl): XmmInsn {
  const target = flow === FlowControl.Call && insn.op0Kind === OpKind.NearBranch64 ? Number(insn.nearBranchTarget) : -1;
  const base = { rva, next: rva + length, flow, target, gprWrites: roleInsnAlone(insn, rva, length, flow).writes, slotClobbers: 0 };
  const store = slotStore(insn);
  if (store !== null) {
    const mn = insn.mnemonic;
    const plain = store.slot >= 0 && (mn === Mnemonic.Mov || XMM_MOVES.has(mn)) && insn.opCount === 2;
    if (!plain) return { ...base, dst: -1, value: null, src: -1, slotClobbers: store.clobbers | (store.slot >= 0 ? 1 << store.slot : 0) };
    const dst = STACK + store.slot;
    if (insn.op1Kind === OpKind.Register) return { ...base, dst, value: null, src: locationOf(insn.op1Register) };
    return { ...base, dst, value: immediateBytes(insn, MemorySizeExt.size(insn.memorySize)), src: -1 };
  }
  const dst = insn.opCount >= 1 && insn.op0Kind === OpKind.Register ? locationOf(insn.op0Register) : -1;
  if (dst < 0) return { ...base, dst, value: null, src: -1 };
  const mn = insn.mnemonic;
  const last = insn.opCount - 1;
  const zeroes = XMM_ZEROES.has(mn) || (mn === Mnemonic.Xor && dst >= GPR);
  if (zeroes && opKindOf(insn, last) === OpKind.Register && locationOf(opRegisterOf(insn, last)) === dst && (last === 1 || locationOf(insn.op1Register) === dst)) return { ...base, dst, value: '#f0', src: -1 };
  const move = XMM_MOVES.has(mn) || mn === Mnemonic.Movd || (mn === Mnemonic.Mov && dst >= GPR);
  if (!move || insn.opCount !== 2) return { ...base, dst, value: null, src: -1 };
  if (insn.op1Kind === OpKind.Register) return { ...base, dst, value: null, src: locationOf(insn.op1Register) };
  // gcc moves a double constant bound for a stack slot through rax: `mov rax,[rip+c]`.
  if (insn.op1Kind === OpKind.Memory && insn.memoryBase === Register.RIP) return { ...base, dst, value: constantAt(image, Number(insn.memoryDisplacement), MemorySizeExt.size(insn.memorySize)), src: -1 };
  if (mn === Mnemonic.Mov && dst >= GPR) return { ...base, dst, value: immediateBytes(insn, insn.op0Register >= Register.RAX && insn.op0Register <= Register.R15 ? 8 : 4), src: -1 };
  return { ...base, dst, value: null, src: -1 };
}

/** What xmm `x` holds just before `code[i]`, on the straight line before it (at most 32 instructions back). */
function xmmBefore(code: readonly XmmInsn[], i: number, x: number, entry: number): string | null {
  let reg = x;
  for (let k = i - 1; k >= 0; k--) {
    const p = code[k]!;
    if (i - k > 32 || p.next !== code[k + 1]!.rva || p.flow !== FlowControl.Next) return null;
    if (p.dst !== reg) {
      // A general register written some other way (implicitly: `cqo`, `mul`) is unknown; so
      // is a stack slot written over, or one `rsp` moved away from.
      if (reg >= GPR && reg < STACK && (p.gprWrites & (1 << (reg - GPR))) !== 0) return null;
      if (reg >= STACK && ((p.slotClobbers & (1 << (reg - STACK))) !== 0 || (p.gprWrites & RSP_BIT) !== 0)) return null;
      continue;
    }
    if (p.value !== null) return p.value;
    if (p.src < 0) return null;
    reg = p.src;
  }
  return code[0]?.rva === entry && reg < 4 ? `farg:${reg}` : null;
}

/** What each call from `caller` to `target` passes beyond the GPRs, in address order. */
export interface SiteExtras {
  /** xmm0-xmm3 at each site: a constant, `farg:N` (the caller's own xmmN), or null. */
  readonly xmm: Array<Array<string | null>>;
  /** The stack argument slots 5-8 at each site, the same way. */
  readonly stack: Array<Array<string | null>>;
}

export function siteExtras(image: Uint8Array, caller: FunctionInfo, target: number): SiteExtras {
  const code: XmmInsn[] = [];
  decodeEach(image, caller.decoded.insns, (insn, d) => code.push(xmmInsnOf(image, insn, d.rva, d.length, d.flow)));
  const out: SiteExtras = { xmm: [], stack: [] };
  for (let i = 0; i < code.length; i++) {
    if (code[i]!.flow !== FlowControl.Call || code[i]!.target !== target) continue;
    out.xmm.push([0, 1, 2, 3].map((x) => xmmBefore(code, i, x, caller.entry)));
    out.stack.push([0, 1, 2, 3].map((k) => xmmBefore(code, i, STACK + k, caller.entry)));
  }
  return out;
}

const hex = (x: number): string => `0x${x.toString(16)}`;

/** A float value in words: `the constant 0x404e000000000000`, `its own xmm0`. */
function floatValueName(v: string): string {
  if (v.startsWith('farg:')) return `its own ${XMM_ARG_NAMES[Number(v.slice(5))] ?? v}`;
  if (v === '#f0') return 'zero';
  const bytes = v.slice(2).match(/../g) ?? [];
  return `the constant 0x${bytes.reverse().join('')}`;
}

/** `reads xmm0 and xmm1 as its old body did, but its callers in the module now pass them swapped (...)`; `stack`: slots a and b (the 5th argument is 0). */
export function describeExtraSwap(a: number, b: number, oldValues: readonly [string, string], caller: string, stack: boolean): string {
  const [x, y] = oldValues.map(floatValueName);
  const slot = (k: number): string => `its ${k + 5}th argument ([rsp+${hex(8 + SLOT0 + 8 * k)}] at entry)`;
  const [ra, rb] = stack ? [slot(a), slot(b)] : [XMM_ARG_NAMES[a]!, XMM_ARG_NAMES[b]!];
  return `reads ${ra} and ${rb} as its old body did, but its callers in the module now pass them swapped (old ${caller} passed ${x}, ${y} there; its new body ${y}, ${x}: ${stack ? '' : 'float '}parameters reordered?)`;
}
