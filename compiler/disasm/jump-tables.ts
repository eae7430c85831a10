/**
 * Jump tables behind `jmp reg`: the straight-line code before the jump is read backwards
 * (decoded in address order, one reused iced Instruction) to find the table load, the
 * table base and the bound on the index, then the table's entries are read. Used by
 * decode-function.ts, which owns descent and calls these once the lead-in is decoded.
 */
import { FlowControl, Instruction, InstructionInfoFactory, MemorySize, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { readU32, sectionAt, type MappedImage } from '../image/map-image.ts';
import type { Rva } from '../../common/types.ts';
import type { JumpTable } from '../image/types.ts';
import { VOLATILE_REGISTERS } from './operands.ts';

/** Most entries a table is read with (also the scan limit). */
export const MAX_TABLE_ENTRIES = 4096;

/** A decoded instruction as descent keeps it: where it is and how control leaves it. */
export interface DecodedStep {
  readonly rva: Rva;
  readonly length: number;
  readonly flow: FlowControl;
}

/** Which decoded instruction's bytes hold an RVA (decode-function.ts's Coverage). */
export interface InstructionOwners {
  /** Start of the instruction whose bytes include `rva`, or -1. */
  ownerOf(rva: number): number;
}

let infoFactory: InstructionInfoFactory | null = null;
/** Registers a call may change (Win64: the volatile ones). */

/** Full registers each decoded instruction may write, by RVA (one InstructionInfo per instruction). */
export type WriteCache = Map<number, readonly Register[]>;

/**
 * True when `insn` (decoded at its RVA, `ip` = RVA) may write `reg` (any width), explicitly
 * or implicitly (string ops, mul, xchg, cpuid, ...), or is a call and `reg` is volatile.
 */
export function clobbers(insn: Instruction, reg: Register, cache: WriteCache): boolean {
  if (reg === Register.None) return false;
  const key = Number(insn.ip);
  let w = cache.get(key);
  if (w === undefined) {
    const out = new Set<Register>();
    const f = insn.flowControl;
    if (f === FlowControl.Call || f === FlowControl.IndirectCall) for (const v of VOLATILE_REGISTERS) out.add(v);
    infoFactory ??= new InstructionInfoFactory();
    const info = infoFactory.info(insn);
    try {
      for (const u of info.usedRegisters() as Array<{ register: Register; access: OpAccess; free(): void }>) {
        const a = u.access;
        if (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) out.add(RegisterExt.fullRegister(u.register));
        u.free();
      }
    } finally {
      info.free();
    }
    w = [...out];
    cache.set(key, w);
  }
  return w.includes(RegisterExt.fullRegister(reg));
}

/** Same register family (rax/eax/ax/al are one). */
function sameReg(a: Register, b: Register): boolean {
  return a !== Register.None && b !== Register.None && RegisterExt.fullRegister(a) === RegisterExt.fullRegister(b);
}

/**
 * Whether control goes on to the next instruction after one with this flow: not after a
 * jmp, an indirect jmp, a ret, a ud2 or an int3 (whatever follows them is entered only by
 * a branch, so it starts a straight line of its own).
 */
export function fallsThrough(flow: FlowControl): boolean {
  return flow !== FlowControl.UnconditionalBranch && flow !== FlowControl.IndirectBranch && flow !== FlowControl.Return && flow !== FlowControl.Exception && flow !== FlowControl.Interrupt;
}

/**
 * Straight-line predecessors of `at`, nearest first (decoded, ending exactly where the next
 * starts, and falling through into it: a `jmp` or `ret` before ends the line, so the walk
 * never reads a bound or a register copy from a block that does not lead here).
 */
export function chainBefore(byRva: ReadonlyMap<number, DecodedStep>, cov: InstructionOwners, at: number, max: number): Rva[] {
  const chain: Rva[] = [];
  let expect = at;
  while (chain.length < max) {
    const s = cov.ownerOf(expect - 1);
    const p = s < 0 ? undefined : byRva.get(s);
    if (p === undefined || p.rva + p.length !== expect || !fallsThrough(p.flow)) break;
    chain.push(p.rva);
    expect = s;
  }
  return chain;
}

/**
 * True when `jmp reg` is a tail call through a function pointer: the nearest instruction
 * before it (on its straight line) that writes the register loads it, whole, from memory
 * without an index register and not from the stack (`mov rax, [rcx + 0x18]`, a struct field
 * or vtable slot, or `mov rax, [rip + g]`). Such a jump has no cases to find, like `call rax`
 * or `jmp [mem]`. A stack slot (rsp or rbp based) may hold what the function itself spilled:
 * a case address it computed from a table (`add rcx, rax; mov [rsp + 8], rcx` ...
 * `mov rax, [rsp + 8]; jmp rax`), whose cases would then be missed and whose entries, read
 * as data by a carried copy, would send the new body into the old one; pointer-jumps.ts
 * decides those jumps over every path instead.
 */
export function isPointerTailCall(decodeAt: (rva: number) => void, insn: Instruction, byRva: ReadonlyMap<number, DecodedStep>, cov: InstructionOwners, jumpRva: number, jmpReg: Register, writes: WriteCache): boolean {
  if (RegisterExt.isGPR64(jmpReg) === false) return false;
  for (const s of chainBefore(byRva, cov, jumpRva, 24)) {
    decodeAt(s);
    if (!clobbers(insn, jmpReg, writes)) continue;
    const base = insn.memoryBase;
    return insn.mnemonic === Mnemonic.Mov && insn.op0Register === jmpReg && insn.op1Kind === OpKind.Memory && insn.memoryIndex === Register.None && insn.memorySize === MemorySize.UInt64 && base !== Register.RSP && base !== Register.RBP;
  }
  return false;
}

/** What walking back from a `jmp reg` reads; the context every step of the walk shares. */
interface Walk {
  readonly decodeAt: (rva: number) => void;
  /** The reused instruction `decodeAt` decodes into. */
  readonly insn: Instruction;
  readonly byRva: ReadonlyMap<number, DecodedStep>;
  readonly writes: WriteCache;
}

/** The table as the lines before the jump describe it, filled in while walking back. */
interface TableTrace {
  /** rel32: entries relative to the table (gcc/LLVM); rva32: entries are RVAs (MSVC). */
  readonly kind: 'rel32' | 'rva32';
  /**
   * Where the lines say the table is (-1: not found yet). A decoded displacement, so a plain
   * number until readTableEntries checks it against a section (compiler/README.md, "Address
   * types"); JumpTable.rva is the checked Rva.
   */
  tableRva: number;
  /** The register holding the index (None once it was loaded from memory: see idxMem). */
  loadIdx: Register;
  /** The register the load adds the index to: the table (rel32) or __ImageBase (rva32). */
  readonly loadBase: Register;
  /** The memory the index was loaded from, for a `cmp [mem], N` bound. */
  idxMem: { base: Register; index: Register; displ: bigint } | null;
  haveBase: boolean;
  /** The `lea` that sets the base register: entering after it would bring another base. */
  baseRva: Rva | -1;
  /** The base `lea` is the function's only one, off the straight line (proven later, on every path). */
  baseHoisted: boolean;
  /** Entries to read (-1: not found yet). */
  bound: number;
  count: 'guard' | 'scan';
  /** The instruction from which on the bound holds. */
  guardRva: Rva | -1;
  /** Bounds checked on other registers (`cmp edx, N; ja` before `mov esi, edx` ... `mov eax, esi`). */
  readonly checked: Map<Register, { bound: number; guardRva: Rva }>;
  /**
   * The bound came from a `cmp` of the index's low 8 or 16 bits (`cmp r9b, 0x1a`): it holds
   * for the whole register only once the walk finds the index zero-extended from that width
   * at most (`movzx r9d, dl`) before any other write of it; 0 when nothing is pending.
   */
  narrowBits: number;
}

/** True when the instruction `w.insn` holds writes `r` (as its first operand or otherwise). */
function writesReg(w: Walk, r: Register): boolean {
  return (w.insn.op0Kind === OpKind.Register && sameReg(w.insn.op0Register, r)) || clobbers(w.insn, r, w.writes);
}

/**
 * Recognises the two switch idioms and reads the table:
 * gcc/LLVM `lea rX,[rip+T]; movsxd rY,[rX+rI*4]; add rY,rX; jmp rY` (entries relative to T) and
 * MSVC `lea rB,[rip+__ImageBase]; mov eY,[rB+rI*4+T]; add rY,rB; jmp rY` (entries are RVAs).
 * The index is followed back through register copies (mov, movzx, movsxd, cdqe) and a load
 * from memory to what bounds it: `cmp rI, N` + `ja`/`jae` (N + 1 or N entries), `and rI, M`
 * (M + 1), a clamp `cmp rI, N` + `mov rJ, M` + `cmovb rJ, rI` (max(N - 1, M) + 1; LLVM's
 * switch whose last case is the default), or a zero-extended byte (up to 256). Without a readable bound (an index the
 * compiler knows the range of: a loaded enum discriminant, a computed value) the table is
 * read by scanning: until its first entry that is not a case inside the function, or where
 * another table the function addresses begins. Every index the code can use selects a true
 * case, so the true cases form a prefix of what is read; extra entries are never taken.
 * `insn` holds the decoded `jmp reg` on entry. `forceScan`: the bound check can be skipped
 * by a branch, so read by scanning, relying on the base only.
 */
export function recoverJumpTable(
  img: MappedImage,
  decodeAt: (rva: number) => void,
  insn: Instruction,
  byRva: ReadonlyMap<number, DecodedStep>,
  cov: InstructionOwners,
  jumpRva: Rva,
  inside: (rva: number) => boolean,
  stops: ReadonlySet<number>,
  writes: WriteCache,
  forceScan = false,
): JumpTable | null {
  const walk: Walk = { decodeAt, insn, byRva, writes };
  const jmpReg = insn.op0Register;
  // Walk back through the straight-line predecessors (decoded in address order).
  const chain = chainBefore(byRva, cov, jumpRva, 24);
  const load = findTableLoad(walk, jmpReg, chain);
  if (load === null) return null;
  const t = load.trace;
  const traced = traceBaseAndBound(walk, t, chain, load.next);
  if (traced === null) return null;
  let found = traced;
  if (!found && t.haveBase && t.bound < 0) {
    // No bound on the straight line at all: scan (the base `lea` is what the jump relies on).
    // Nothing on the line bounds the index (the bound is "at" the jump): a branch entering
    // after the base (a loop's back edge to the index load: gcc's `switch-dispatch`) needs
    // the base proven on every path, as a hoisted one does.
    t.bound = MAX_TABLE_ENTRIES;
    t.count = 'scan';
    t.guardRva = jumpRva;
    found = true;
  }
  // The base off the straight line (hoisted above a loop head, or set once for a switch
  // LLVM duplicated into its predecessors): a candidate the decoder keeps only when
  // base-paths.ts proves the `lea`'s value reaches the jump on every path. With no bound on
  // the straight line, or an index the code computes with no check (a Rust enum's niche
  // decoded by `cmov`), the table is read by scanning from that base, as with a base `lea`
  // on the straight line; no bound at all: nothing on the line is relied on but the base.
  // MSVC's form (rva32) takes the table from the load's displacement: its hoisted base is a
  // `lea` of __ImageBase (the vcruntime memcpy sets r10 once at its entry and indexes three
  // tables through it below, swc-html 1.15.33's 0x82cdb0).
  if (!found && !t.haveBase) {
    const hoisted = hoistedTableBase(walk, t.loadBase, jumpRva, t.kind === 'rva32' ? 0 : undefined);
    if (hoisted !== null) {
      if (t.kind === 'rel32') t.tableRva = hoisted.tableRva;
      t.baseRva = hoisted.leaRva;
      t.baseHoisted = true;
      found = true;
      if (t.bound < 0) {
        t.bound = MAX_TABLE_ENTRIES;
        t.count = 'scan';
        t.guardRva = jumpRva;
      }
    }
  }
  if (!found) return null;
  // Read by scanning with no cap, the table relies on nothing on the line but its base: where
  // the index was last computed (a load, a `cmp` counted as a write) bounds nothing, and a
  // branch entering after it (another path's index) needs only the base proven (swc-html
  // 1.15.33's 0x77ff3, entered at the `mov eax, eax` before it by a loop's first pass).
  if (t.count === 'scan' && t.bound === MAX_TABLE_ENTRIES) t.guardRva = jumpRva;
  if (forceScan) {
    if (t.baseRva < 0 || t.baseHoisted) return null;
    t.bound = MAX_TABLE_ENTRIES;
    t.count = 'scan';
    t.guardRva = t.baseRva;
  }
  return readTableEntries(img, t, jumpRva, inside, stops);
}

/**
 * The two instructions right before the jump, walking back: `add jmpReg, src` and the load
 * `movsxd jmpReg, [src + idx*4]` (rel32) or `mov jmpReg32, [src + idx*4 + T]` (rva32). Null
 * when either is missing or the registers are written in between; `next` is the chain
 * index after the load.
 */
function findTableLoad(w: Walk, jmpReg: Register, chain: readonly number[]): { trace: TableTrace; next: number } | null {
  let addSrc: Register = Register.None;
  for (let i = 0; i < chain.length; i++) {
    w.decodeAt(chain[i]!);
    const insn = w.insn;
    const m = insn.mnemonic;
    if (addSrc === Register.None) {
      if (m === Mnemonic.Add && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && sameReg(insn.op0Register, jmpReg)) {
        addSrc = insn.op1Register;
      } else if (writesReg(w, jmpReg)) return null; // the jump register is recomputed after the add
      continue;
    }
    if ((m === Mnemonic.Movsxd || m === Mnemonic.Mov) && insn.op0Kind === OpKind.Register && sameReg(insn.op0Register, jmpReg) && insn.op1Kind === OpKind.Memory && insn.memoryIndexScale === 4 && sameReg(insn.memoryBase, addSrc)) {
      const displ = Number(BigInt.asUintN(32, insn.memoryDisplacementU64));
      let kind: 'rel32' | 'rva32';
      let tableRva = -1;
      if (m === Mnemonic.Mov && displ !== 0 && insn.memoryDisplSize >= 4 && insn.op0Register === RegisterExt.fullRegister32(jmpReg)) {
        kind = 'rva32';
        tableRva = displ;
      } else if (m === Mnemonic.Movsxd && displ === 0) kind = 'rel32';
      else return null;
      const trace: TableTrace = {
        kind,
        tableRva,
        loadIdx: insn.memoryIndex,
        loadBase: insn.memoryBase,
        idxMem: null,
        haveBase: false,
        baseRva: -1,
        baseHoisted: false,
        bound: -1,
        count: 'guard',
        guardRva: -1,
        checked: new Map(),
        narrowBits: 0,
      };
      return { trace, next: i + 1 };
    }
    if (writesReg(w, jmpReg) || writesReg(w, addSrc)) return null;
  }
  return null;
}

/**
 * Walks on back from the load (chain[from..]) to the table base (`lea base, [rip+T]`) and
 * the bound, in either order, following the index back through register copies and a load
 * from memory. True when both were found, false when the chain ended first, null when the
 * code does not have the idiom's shape.
 */
function traceBaseAndBound(w: Walk, t: TableTrace, chain: readonly Rva[], from: number): boolean | null {
  for (let i = from; i < chain.length; i++) {
    const s = chain[i]!;
    w.decodeAt(s);
    if (t.bound < 0 && isClampMove(w.insn) && writesReg(w, t.loadIdx)) {
      // `cmp rI, N` + `mov rJ, M` + `cmovb rJ, rI` (LLVM's switch whose last case is the
      // default: index = min(rI, N)), read back as a bound rather than a scan.
      const c = boundFromClamp(w, t.loadIdx, chain, i);
      w.decodeAt(s);
      if (c !== null) {
        t.bound = c.bound;
        t.guardRva = c.guardRva;
        if (t.haveBase) return true;
        continue;
      }
    }
    if (t.narrowBits !== 0 && writesReg(w, t.loadIdx)) proveNarrowBound(w, t);
    if (!traceStep(w, t, s)) return null;
    if (t.bound >= 0 && t.haveBase && t.narrowBits === 0) return true;
  }
  // A narrow check with no zero-extension found on the line bounds only the low bits.
  if (t.narrowBits !== 0) dropBound(t);
  return false;
}

/**
 * At the last write of the index before a narrow `cmp` (decoded in `w.insn`): the bound
 * stands when that write zero-extends at most `narrowBits` bits (`movzx` of a byte, or of a
 * byte or word for a 16-bit check), else it is dropped and the walk reads this write as any
 * other (a copy, a load, a computed index: a scan).
 */
function proveNarrowBound(w: Walk, t: TableTrace): void {
  const insn = w.insn;
  const fromBits = insn.op1Kind === OpKind.Register ? (RegisterExt.isGPR8(insn.op1Register) ? 8 : RegisterExt.isGPR16(insn.op1Register) ? 16 : 64) : insn.memorySize === MemorySize.UInt8 ? 8 : insn.memorySize === MemorySize.UInt16 ? 16 : 64;
  const zeroExtends = insn.mnemonic === Mnemonic.Movzx && insn.op0Kind === OpKind.Register && (RegisterExt.isGPR32(insn.op0Register) || RegisterExt.isGPR64(insn.op0Register));
  if (zeroExtends && fromBits <= t.narrowBits) t.narrowBits = 0;
  else dropBound(t);
}

function dropBound(t: TableTrace): void {
  t.bound = -1;
  t.guardRva = -1;
  t.narrowBits = 0;
}

/** One instruction of traceBaseAndBound (decoded in `w.insn`, at `s`); false: not the idiom. */
function traceStep(w: Walk, t: TableTrace, s: Rva): boolean {
  const insn = w.insn;
  const m = insn.mnemonic;
  // A register checked later but written here no longer holds the checked value there.
  for (const r of [...t.checked.keys()]) if (clobbers(insn, r, w.writes)) t.checked.delete(r);
  if (m === Mnemonic.Lea && insn.op0Kind === OpKind.Register && sameReg(insn.op0Register, t.loadBase) && insn.isIpRelMemoryOperand) {
    if (t.haveBase) return true;
    const target = Number(BigInt.asUintN(64, insn.ipRelMemoryAddress));
    if (t.kind === 'rel32') t.tableRva = target;
    else if (target !== 0) return false; // MSVC form needs __ImageBase in the base register
    t.haveBase = true;
    t.baseRva = s;
  } else if (!t.haveBase && writesReg(w, t.loadBase)) {
    return false; // the base register is not what the `lea` set
  } else if (t.bound < 0 && m === Mnemonic.Cdqe && sameReg(Register.RAX, t.loadIdx)) {
    // rax = sign-extended eax: the same index (the bound check is on eax).
  } else if (t.bound < 0 && (m === Mnemonic.Mov || m === Mnemonic.Movzx || m === Mnemonic.Movsxd) && writesReg(w, t.loadIdx)) {
    return followIndexCopy(w, t, s);
  } else if (t.bound < 0 && m === Mnemonic.And && writesReg(w, t.loadIdx) && isImm(insn.op1Kind)) {
    const mask = BigInt.asIntN(64, insn.immediate(1));
    if (mask < 0n || mask >= BigInt(MAX_TABLE_ENTRIES)) return false;
    t.bound = Number(mask) + 1;
    t.guardRva = s;
  } else if (m === Mnemonic.Cmp && isImm(insn.op1Kind) && t.bound < 0) {
    return boundFromCmp(w, t, s);
  } else if (t.bound < 0 && writesReg(w, t.loadIdx)) {
    // The index is computed (or loaded) with no check we can read: the compiler knows
    // its range (an enum discriminant, a masked value), we read the table by scanning.
    t.bound = MAX_TABLE_ENTRIES;
    t.count = 'scan';
    t.guardRva = s;
  }
  return true;
}

const CLAMP_MOVES: ReadonlySet<Mnemonic> = new Set([Mnemonic.Cmovb, Mnemonic.Cmovbe, Mnemonic.Cmovae, Mnemonic.Cmova]);

function isClampMove(insn: Instruction): boolean {
  return CLAMP_MOVES.has(insn.mnemonic) && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register;
}

/**
 * The bound a clamp gives the index register `idx`, written by the cmov at chain[at]
 * (decoded in `w.insn`): the cmov keeps the compared register or puts a constant in its
 * place, so the index is at most max(N or N - 1, M). Walking back from the cmov: `cmp rI, N`
 * (the register the cmov moves, or overwrites, at no narrower width) with no flag writer and
 * no write of rI in between, and `mov rJ, M` (the constant operand) with no other write of rJ
 * in between, in either order; the bound holds from the earlier of the two. Unsigned
 * conditions only (b, be, ae, a): a signed clamp lets a negative index through. Null when the
 * lines do not have this shape.
 */
function boundFromClamp(w: Walk, idx: Register, chain: readonly Rva[], at: number): { bound: number; guardRva: Rva } | null {
  const insn = w.insn;
  const m = insn.mnemonic;
  const dst = insn.op0Register;
  const src = insn.op1Register;
  // A 32- or 64-bit write sets the whole register (a narrower one keeps the upper bits).
  const whole = (r: Register): boolean => RegisterExt.isGPR32(r) || RegisterExt.isGPR64(r);
  if (!sameReg(dst, idx) || sameReg(dst, src) || !whole(dst)) return null;
  // b/be: dst = src when src < N (<= N), else dst keeps M. ae/a: dst = src (M) when dst >= N (> N).
  const compared = m === Mnemonic.Cmovb || m === Mnemonic.Cmovbe ? src : dst;
  const constant = compared === src ? dst : src;
  const inclusive = m === Mnemonic.Cmovbe || m === Mnemonic.Cmova;
  let n = -1;
  let mConst = -1;
  let guard = -1;
  let flagsLive = true;
  for (let i = at + 1; i < chain.length && (n < 0 || mConst < 0); i++) {
    const s = chain[i]!;
    w.decodeAt(s);
    const x = w.insn;
    if (mConst < 0 && sameReg(x.op0Register, constant) && x.op0Kind === OpKind.Register) {
      if (x.mnemonic !== Mnemonic.Mov || !isImm(x.op1Kind) || !whole(x.op0Register)) return null;
      const v = BigInt.asIntN(64, x.immediate(1));
      if (v < 0n || v >= BigInt(MAX_TABLE_ENTRIES)) return null;
      mConst = Number(v);
      guard = s;
      continue;
    }
    if (mConst < 0 && writesReg(w, constant)) return null;
    if (n < 0 && flagsLive && x.mnemonic === Mnemonic.Cmp && x.op0Kind === OpKind.Register && isImm(x.op1Kind)) {
      const r = x.op0Register;
      const wide = r === compared || (RegisterExt.isGPR64(r) && RegisterExt.fullRegister(compared) === r);
      if (!wide) return null;
      const v = BigInt.asIntN(64, x.immediate(1));
      if (v <= 0n || v >= BigInt(MAX_TABLE_ENTRIES)) return null;
      n = Number(v);
      guard = s;
      continue;
    }
    if (n < 0) {
      if (x.rflagsModified !== 0) flagsLive = false;
      if (writesReg(w, compared)) return null;
      if (!flagsLive) return null;
    }
  }
  if (n < 0 || mConst < 0) return null;
  const bound = Math.max(inclusive ? n : n - 1, mConst) + 1;
  return bound > MAX_TABLE_ENTRIES ? null : { bound, guardRva: guard as Rva };
}

/** A mov/movzx/movsxd writing the index: a byte bound, a copy of another register, or a load. */
function followIndexCopy(w: Walk, t: TableTrace, s: Rva): boolean {
  const insn = w.insn;
  if (insn.mnemonic === Mnemonic.Movzx && (insn.op1Kind === OpKind.Register ? RegisterExt.isGPR8(insn.op1Register) : insn.memorySize === MemorySize.UInt8)) {
    // A zero-extended byte: at most 256 entries, whatever the code checks before.
    t.bound = 256;
    t.count = 'scan';
    t.guardRva = s;
  } else if (insn.op1Kind === OpKind.Register) {
    t.loadIdx = insn.op1Register;
    const c = t.checked.get(RegisterExt.fullRegister(t.loadIdx));
    if (c !== undefined) {
      // The index is a copy of a register checked later on the same straight line;
      // code entering after this copy could bring another value.
      t.bound = c.bound;
      t.guardRva = s;
    }
  } else if (insn.op1Kind === OpKind.Memory && !insn.isIpRelMemoryOperand) {
    t.idxMem = { base: insn.memoryBase, index: insn.memoryIndex, displ: insn.memoryDisplacementU64 };
    t.loadIdx = Register.None;
  } else return false;
  return true;
}

/**
 * `cmp idx, N` (register or the memory the index was loaded from): the next conditional
 * jump, with no flag writer in between, gives the bound (ja: N + 1, jae: N); another
 * condition (je, jne, a signed one) bounds nothing and the walk goes on. A check of
 * another register followed by ja/jae is remembered: it bounds the index if the index
 * turns out to be a copy of that register.
 */
const NARROW_MEMORY: ReadonlySet<MemorySize> = new Set([MemorySize.UInt8, MemorySize.Int8, MemorySize.UInt16, MemorySize.Int16]);

function boundFromCmp(w: Walk, t: TableTrace, s: Rva): boolean {
  const insn = w.insn;
  const regMatch = insn.op0Kind === OpKind.Register && sameReg(insn.op0Register, t.loadIdx);
  const mem = t.idxMem;
  const memMatch = insn.op0Kind === OpKind.Memory && mem !== null && insn.memoryBase === mem.base && insn.memoryIndex === mem.index && insn.memoryDisplacementU64 === mem.displ;
  // `cmp byte [mem], N` after a wider load of [mem] (a byte load already bounds the index at
  // 256): the check covers the low bits only, so it bounds nothing.
  if (memMatch && NARROW_MEMORY.has(insn.memorySize)) return true;
  if (regMatch || memMatch) {
    const n = Number(BigInt.asUintN(32, insn.immediate(1)));
    let at = s + insn.length;
    for (let k = 0; k < 8; k++) {
      const next = w.byRva.get(at);
      if (next === undefined) break;
      w.decodeAt(at);
      if (insn.flowControl === FlowControl.ConditionalBranch) {
        if (insn.mnemonic === Mnemonic.Ja) t.bound = n + 1;
        else if (insn.mnemonic === Mnemonic.Jae) t.bound = n;
        break;
      }
      if (insn.rflagsModified !== 0 || next.flow !== FlowControl.Next) break;
      at += next.length;
    }
    // `cmp idx, N; je/jne` tests one value (Rust: a niche variant, a loop on one tag): no
    // bound, and not the end of the idiom either; the walk goes on to a bound or a scan.
    if (t.bound >= 0) t.guardRva = s;
    w.decodeAt(s);
    if (t.bound >= 0 && regMatch && (RegisterExt.isGPR8(insn.op0Register) || RegisterExt.isGPR16(insn.op0Register))) t.narrowBits = RegisterExt.isGPR8(insn.op0Register) ? 8 : 16;
  } else if (insn.op0Kind === OpKind.Register) {
    if (sameReg(insn.op0Register, t.loadIdx)) return false;
    const n = Number(BigInt.asUintN(32, insn.immediate(1)));
    const jcc = w.byRva.get(s + insn.length);
    if (jcc !== undefined && jcc.flow === FlowControl.ConditionalBranch) {
      w.decodeAt(s + insn.length);
      const b = insn.mnemonic === Mnemonic.Ja ? n + 1 : insn.mnemonic === Mnemonic.Jae ? n : -1;
      w.decodeAt(s);
      const reg = RegisterExt.fullRegister(insn.op0Register);
      // A narrow check (`cmp dl, N`) bounds only the low bits the copy takes with the rest.
      const wide = RegisterExt.isGPR32(insn.op0Register) || RegisterExt.isGPR64(insn.op0Register);
      if (b > 0 && wide && !t.checked.has(reg)) t.checked.set(reg, { bound: b, guardRva: s });
    }
  }
  return true;
}

/**
 * The base was hoisted out of the loop (or set once before a switch LLVM duplicated into its
 * predecessors): a `lea base,[rip+T]` off the straight line gives T, else null. When the
 * function sets the register with several such `lea`s, the nearest one before the jump in
 * address order (the rest may load other tables' bases the register holds in other loops).
 * A candidate only: the decoder keeps the table when base-paths.ts proves that value
 * reaches the jump on every path (any `lea` of the same T counts there), so a wrong pick
 * is refused, never trusted.
 */
function hoistedTableBase(w: Walk, loadBase: Register, jumpRva: Rva, only?: number): { tableRva: number; leaRva: Rva } | null {
  let before: { tableRva: number; leaRva: Rva } | null = null;
  let first: { tableRva: number; leaRva: Rva } | null = null;
  for (const p of w.byRva.values()) {
    w.decodeAt(p.rva);
    const insn = w.insn;
    // The 64-bit register only: a 32-bit `lea` truncates the address.
    if (insn.mnemonic === Mnemonic.Lea && insn.op0Kind === OpKind.Register && insn.op0Register === RegisterExt.fullRegister(loadBase) && insn.isIpRelMemoryOperand) {
      const c = { tableRva: Number(BigInt.asUintN(64, insn.ipRelMemoryAddress)), leaRva: p.rva };
      if (only !== undefined && c.tableRva !== only) continue;
      if (first === null || c.leaRva < first.leaRva) first = c;
      if (c.leaRva < jumpRva && (before === null || c.leaRva > before.leaRva)) before = c;
    }
  }
  return before ?? first;
}

/**
 * Reads the entries: `bound` of them for a guarded table (every one must be a case inside
 * the function), up to the first non-case or another table's start for a scanned one.
 */
function readTableEntries(img: MappedImage, t: TableTrace, jumpRva: Rva, inside: (rva: number) => boolean, stops: ReadonlySet<number>): JumpTable | null {
  const { bound, count, tableRva, kind, guardRva, baseRva, baseHoisted } = t;
  if (bound <= 0 || bound > MAX_TABLE_ENTRIES || tableRva <= 0 || guardRva < 0) return null;
  const sec = sectionAt(img, tableRva);
  if (sec === undefined) return null;
  const targets: number[] = [];
  for (let i = 0; i < bound; i++) {
    const at = tableRva + i * 4;
    if (count === 'scan' && i > 0 && stops.has(at)) break;
    if (at + 4 > sec.rva + sec.size) {
      if (count === 'scan') break;
      return null;
    }
    const raw = readU32(img, at);
    const target = kind === 'rel32' ? tableRva + (raw | 0) : raw;
    if (!inside(target)) {
      if (count === 'scan') break;
      return null;
    }
    targets.push(target);
  }
  if (targets.length === 0) return null;
  // A scan that never met a non-case entry may have stopped short of the true table.
  if (count === 'scan' && bound === MAX_TABLE_ENTRIES && targets.length === bound) return null;
  return { rva: tableRva as Rva, entryKind: kind, targets: targets as Rva[], jumpRva, guardRva: (baseRva >= 0 && !baseHoisted ? Math.min(guardRva, baseRva) : guardRva) as Rva, boundRva: guardRva as Rva, count, baseRva, baseHoisted };
}

/** Not IMMEDIATE_KINDS: with `Immediate64` (a `mov r64, imm64`), without `Immediate8to16` (`cmp/and r16, imm8`). */
export function isImm(k: OpKind): boolean {
  return k === OpKind.Immediate8 || k === OpKind.Immediate8to32 || k === OpKind.Immediate8to64 || k === OpKind.Immediate32 || k === OpKind.Immediate32to64 || k === OpKind.Immediate16 || k === OpKind.Immediate64;
}
