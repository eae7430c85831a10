/**
 * The element-size half of the layout verdict. layout-shift.ts sees fields that moved and
 * added-field.ts fields accessed at a new constant offset of a pointer a function received;
 * neither sees an array of structures whose element grew at its end: the new field is read
 * through a pointer advanced past the element (gcc: `add $0xc,%rcx`, then `[rcx-0x4]`) or an
 * index the code scaled (clang: `lea rax,[rdx+rdx*2]`, then `[rcx+rax*4+0x8]`), never at a
 * constant offset of the argument itself. Probe heap-stride (test/probes/heap-stride.c,
 * test/probe-layout-live.test.ts): cells filled by old code in 8-byte steps, summed by the
 * patched function in 12-byte steps, printed neither version's sums.
 *
 * The evidence kept, per pointer a function received (an argument register, or a 64-bit copy
 * of it, as added-field.ts follows them; and the pointers derived from it by `lea r,[p+d]` or
 * by advancing it, or by adding a scaled index to it): the constant steps by which a loop
 * advances it (`add`/`sub`/`lea` with an immediate, between a backward branch's target and
 * the branch), the scale of each indexed load or store through it (`[p+i*s+d]`, not `lea`,
 * the index's multiplier folded in, index-multiples.ts: `lea i,[x+x*k]`, `lea i,[x*k]`,
 * `imul i,x,k`, `shl i,k`, `add i,i` of copies of one value) and the multiplier of an index
 * added to it (`add p,i`, -O0's spelling of `[p+i*s]`); an unscaled byte index is no
 * evidence. At -O0 the pointer lives in a stack slot and is reloaded before each access:
 * frame-slots.ts follows it there (probe red-stride, test/probe-red-live.test.ts: gcc and
 * clang -O0 were hotpatchable and, patched live, summed old 8-byte cells in 12-byte steps).
 * Only for an argument the body dereferences (an integer argument stepped in
 * a loop is a counter, not a pointer). The element size is the greatest common divisor of that evidence (an unrolled or
 * vectorised loop steps by a multiple of it). When both bodies give a size for the same
 * argument and the sizes differ, objects the old code laid out are walked at other strides
 * by the new code: refused. Unrolling that changes between builds without an index access
 * beside it can look the same (a false refusal, never a wrong "safe").
 * So can an index the compiler counts in other units: clang -O1 builds red-trip-index-fix's v2
 * fill (`o->arr[i] = 2 * j`) with one register holding 2i, stepped by 2 and scaled by 2
 * (`mov [rcx+rax*2+4],r8d; add rax,2`), where v1 steps i by 1 and scales by 4: sizes 2 and 4,
 * refused. Taking step x scale alone (4 both) would fix that, but a loop that touches every
 * other element (`i += 2`, scale 4: 8) would then match one over elements grown to 8 bytes
 * (scale 8, step 1), which the greatest common divisor refuses (4 and 8): left as it is.
 */
import { Instruction, Mnemonic, OpKind, Register } from 'iced-x86';
import { lowerBound } from '../../common/search.ts';
import { hex } from '../../common/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import { ARG_REGISTERS, fullRegister, updateHolds } from './added-field.ts';
import { decodeEach } from './register-effects.ts';
import { FrameSlots, type SlotPolicy, scanWithSlotPolicy } from './frame-slots.ts';
import { IndexMultiples } from './index-multiples.ts';
import { IMMEDIATE_KINDS, immediateOf, opKindOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** The element size a body implies for the array one argument points at. */
export interface ElementSize {
  readonly arg: number;
  readonly size: number;
  /** One instruction that shows it (`steps of 0xc at 0x1497`), for the reason text. */
  readonly evidence: string;
}

/** An argument whose element size differs between the old and new body. */
export interface StrideChange {
  readonly arg: number;
  readonly old: ElementSize;
  readonly new: ElementSize;
}

interface Candidate {
  readonly arg: number;
  readonly size: number;
  readonly rva: number;
  /** A loop step (kept only inside a loop) or an indexed access's scale. */
  readonly walk: boolean;
}

/** What the scan of one body gathers, in address order. */
interface Scan {
  /** Full register -> the argument it holds exactly (added-field.ts's map). */
  readonly holds: Map<number, number>;
  /** Full register -> the argument it points into (a `lea` of it, or it advanced). */
  readonly walks: Map<number, number>;
  /** The multiplier the body gave each register (an index it scaled). */
  readonly mult: IndexMultiples;
  readonly found: Candidate[];
  /** Arguments the body loads or stores through. */
  readonly derefs: Set<number>;
  /** Backward branches: [target, branch]. */
  readonly loops: Array<readonly [number, number]>;
  /** Indexed accesses through an argument: the index register and its scale. */
  readonly indexUses: Array<{ readonly arg: number; readonly reg: number; readonly scale: number; readonly rva: number }>;
  /** Registers advanced in place by a constant. */
  readonly advances: Array<{ readonly reg: number; readonly step: number; readonly rva: number }>;
}



const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The pointer argument register `r` holds (exactly or derived), or undefined. */
function pointerArg(r: Register, sc: Scan): number | undefined {
  if (r === Register.None || r === Register.RIP) return undefined;
  return sc.holds.get(r) ?? sc.walks.get(r);
}

/**
 * Evidence from the memory operand of `insn` (an indexed access through a pointer argument),
 * and the arguments it dereferences. Not `lea`: it is arithmetic as often as an address
 * (`lea rdx,[rdx+rdx*2]` multiplies), and an argument it names may be an integer.
 */
function indexedEvidence(insn: Instruction, sc: Scan, rva: number): void {
  if (insn.mnemonic === Mnemonic.Lea) return;
  for (let k = 0; k < insn.opCount; k++) {
    if (opKindOf(insn, k) !== OpKind.Memory) continue;
    const arg = pointerArg(insn.memoryBase, sc);
    if (arg === undefined) return;
    sc.derefs.add(arg);
    const x = insn.memoryIndex;
    if (x === Register.None) return;
    const reg = fullRegister(x);
    const scale = insn.memoryIndexScale;
    sc.indexUses.push({ arg, reg, scale, rva });
    const size = scale * sc.mult.multiplier(x);
    if (size > 1) sc.found.push({ arg, size, rva, walk: false });
    return;
  }
}

/** The immediate of `add/sub r, imm` or the displacement of `lea r,[r+d]` when `insn` advances register `r` in place; null otherwise. */
function advanceOf(insn: Instruction): { reg: number; step: number } | null {
  if (insn.opCount !== 2 || insn.op0Kind !== OpKind.Register) return null;
  const r = insn.op0Register;
  if (fullRegister(r) !== r) return null;
  const mn = insn.mnemonic;
  if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && IMMEDIATE_KINDS.has(insn.op1Kind)) {
    return { reg: r, step: Math.abs(immediateOf(insn, 1)) };
  }
  if (mn === Mnemonic.Lea && insn.memoryBase === r && insn.memoryIndex === Register.None) {
    return { reg: r, step: Math.abs(Number(BigInt.asIntN(64, insn.memoryDisplacement))) };
  }
  return null;
}

/** What one instruction does to the derived pointers, read before `holds` forgets what it overwrites. */
interface Derivation {
  /** The register it advances in place, and the argument it points into (undefined: not a pointer). */
  readonly advance: { readonly reg: number; readonly step: number; readonly arg: number | undefined } | null;
  /** The argument its destination points into after it (a `lea` or copy of a derived pointer, or a pointer plus a scaled index). */
  readonly derived: number | undefined;
  /** The element size a scaled index added to a pointer shows (`add p,i` after `i` was scaled), or 0. */
  readonly scaled: number;
}

/** `add p,i` (or `add i,p`) of a pointer argument and an index the body scaled: the argument and the scale. */
function scaledAdd(insn: Instruction, sc: Scan): { arg: number; size: number } | null {
  if (insn.mnemonic !== Mnemonic.Add || insn.opCount !== 2 || insn.op0Kind !== OpKind.Register || insn.op1Kind !== OpKind.Register) return null;
  const a = insn.op0Register;
  const b = insn.op1Register;
  if (fullRegister(a) !== a || fullRegister(b) !== b) return null;
  const pa = pointerArg(a, sc);
  const pb = pointerArg(b, sc);
  if (pa !== undefined && pb === undefined && sc.mult.multiplier(b) > 1) return { arg: pa, size: sc.mult.multiplier(b) };
  if (pb !== undefined && pa === undefined && sc.mult.multiplier(a) > 1) return { arg: pb, size: sc.mult.multiplier(a) };
  return null;
}

function derivationOf(insn: Instruction, sc: Scan): Derivation {
  const adv = advanceOf(insn);
  if (adv !== null) return { advance: { ...adv, arg: pointerArg(adv.reg, sc) }, derived: undefined, scaled: 0 };
  const add = scaledAdd(insn, sc);
  if (add !== null) return { advance: null, derived: add.arg, scaled: add.size };
  let derived: number | undefined;
  if (insn.mnemonic === Mnemonic.Lea) derived = pointerArg(insn.memoryBase, sc);
  else if (insn.mnemonic === Mnemonic.Mov && insn.opCount === 2 && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && fullRegister(insn.op0Register) === insn.op0Register) {
    derived = sc.walks.get(insn.op1Register);
  }
  return { advance: null, derived, scaled: 0 };
}

/** Follows the derived pointers and index multipliers through one instruction (after `holds` was updated). */
function updateDerived(insn: Instruction, dv: Derivation, sc: Scan, rva: number): void {
  if (insn.mnemonic === Mnemonic.Call) {
    for (const r of VOLATILE_REGISTERS) sc.walks.delete(r);
    return;
  }
  const a = dv.advance;
  if (a !== null) {
    sc.advances.push({ reg: a.reg, step: a.step, rva });
    if (a.arg === undefined) {
      sc.walks.delete(a.reg);
      return;
    }
    if (a.step > 1) sc.found.push({ arg: a.arg, size: a.step, rva, walk: true });
    sc.holds.delete(a.reg);
    sc.walks.set(a.reg, a.arg);
    return;
  }
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || insn.mnemonic === Mnemonic.Cmp || insn.mnemonic === Mnemonic.Test) return;
  const dst = fullRegister(insn.op0Register);
  sc.walks.delete(dst);
  if (dv.derived !== undefined && !sc.holds.has(dst)) sc.walks.set(dst, dv.derived);
  if (dv.scaled > 1 && dv.derived !== undefined) sc.found.push({ arg: dv.derived, size: dv.scaled, rva, walk: false });
}

/** Scans a body in address order (`insns` in `image`, indexed by RVA). */
function scanBody(image: Uint8Array, insns: ReadonlyArray<{ readonly rva: number; readonly length: number }>): Scan {
  return scanWithSlotPolicy((policy) => scanWith(image, insns, policy));
}

function scanWith(image: Uint8Array, insns: ReadonlyArray<{ readonly rva: number; readonly length: number }>, policy: SlotPolicy): { result: Scan; again: SlotPolicy | null } {
  const sc: Scan = { holds: new Map(ARG_REGISTERS), walks: new Map(), mult: new IndexMultiples(), found: [], derefs: new Set(), loops: [], indexUses: [], advances: [] };
  const frame = new FrameSlots(policy);
  const lo = insns.reduce((m, d) => Math.min(m, d.rva), Number.POSITIVE_INFINITY);
  decodeEach(image, insns, (insn, d) => {
    const k0 = insn.opCount > 0 ? insn.op0Kind : OpKind.Register;
    if ((insn.isJccShortOrNear || insn.isJmpShortOrNear) && (k0 === OpKind.NearBranch64 || k0 === OpKind.NearBranch32)) {
      const t = Number(insn.nearBranchTarget);
      if (t <= d.rva && t >= lo) sc.loops.push([t, d.rva]);
    }
    indexedEvidence(insn, sc, d.rva);
    const dv = derivationOf(insn, sc);
    updateHolds(insn, sc.holds);
    frame.step(insn, sc.holds);
    updateDerived(insn, dv, sc, d.rva);
    sc.mult.step(insn);
  });
  return { result: sc, again: frame.verdict() };
}

/**
 * An index register stepped by a constant in a loop that also holds an indexed access with
 * it: step x scale bytes an element. Each advance gives one candidate per (argument, scale)
 * the register indexes, found by bisection over the accesses' RVAs (large Rust bodies hold
 * thousands of accesses, loops and advances).
 */
function indexSteps(sc: Scan): void {
  const byReg = new Map<number, Map<string, { arg: number; scale: number; rvas: number[] }>>();
  for (const u of sc.indexUses) {
    let keys = byReg.get(u.reg);
    if (keys === undefined) byReg.set(u.reg, (keys = new Map()));
    const k = `${u.arg}:${u.scale}`;
    let e = keys.get(k);
    if (e === undefined) keys.set(k, (e = { arg: u.arg, scale: u.scale, rvas: [] }));
    e.rvas.push(u.rva);
  }
  for (const keys of byReg.values()) for (const e of keys.values()) e.rvas.sort((x, y) => x - y);
  for (const a of sc.advances) {
    const keys = byReg.get(a.reg);
    if (keys === undefined) continue;
    for (const e of keys.values()) {
      const size = a.step * e.scale;
      if (size <= 1) continue;
      const shared = sc.loops.some(([t, b]) => t <= a.rva && a.rva <= b && (e.rvas[lowerBound(e.rvas, t)] ?? Number.POSITIVE_INFINITY) <= b);
      if (shared) sc.found.push({ arg: e.arg, size, rva: a.rva, walk: true });
    }
  }
}

/** The element sizes a body implies for the arrays its pointer arguments point at. */
export function elementSizesOf(image: Uint8Array, insns: ReadonlyArray<{ readonly rva: number; readonly length: number }>): ElementSize[] {
  const sc = scanBody(image, insns);
  const inLoop = (rva: number): boolean => sc.loops.some(([t, b]) => t <= rva && rva <= b);
  indexSteps(sc);
  const byArg = new Map<number, ElementSize>();
  for (const c of sc.found) {
    if ((c.walk && !inLoop(c.rva)) || !sc.derefs.has(c.arg)) continue;
    const prev = byArg.get(c.arg);
    const size = prev === undefined ? c.size : gcd(prev.size, c.size);
    const evidence = prev !== undefined && prev.size === size ? prev.evidence : `${c.walk ? 'steps' : 'index scale'} of ${hex(c.size)} at ${hex(c.rva)}`;
    byArg.set(c.arg, { arg: c.arg, size, evidence });
  }
  return [...byArg.values()].filter((e) => e.size > 1);
}

/** The first argument whose element size the new body changes, or null. */
export function findStrideChange(oe: readonly ElementSize[], ne: readonly ElementSize[]): StrideChange | null {
  for (const n of ne) {
    const o = oe.find((x) => x.arg === n.arg);
    if (o !== undefined && o.size !== n.size) return { arg: n.arg, old: o, new: n };
  }
  return null;
}

/** The reason text of a stride change (the STRUCTURE_STRIDE_CHANGED message's head). */
export function describeStrideChange(s: StrideChange): string {
  return `structure layout changed: walks the array at arg${s.arg} in ${hex(s.new.size)}-byte elements (${s.new.evidence}), the old function in ${hex(s.old.size)}-byte ones (${s.old.evidence}) (an element grown or shrunk; needs a baseline)`;
}

/** Stride check between a matched old and new body. */
export function detectStrideChange(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, nf: FunctionInfo): StrideChange | null {
  return findStrideChange(elementSizesOf(oldImg.image, of.decoded.insns), elementSizesOf(newImg.image, nf.decoded.insns));
}
