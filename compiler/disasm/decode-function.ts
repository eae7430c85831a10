/**
 * Disassembly with references: decodes one function by recursive descent inside its
 * ranges (iced-x86) and records, for every instruction, every field that points somewhere
 * (rel8/rel32 branches and calls, RIP-relative operands, absolute addresses under base
 * relocations, MSVC image-relative displacements) and the jump tables its indirect jumps
 * use. Bytes inside the ranges that descent never reaches are kept as gaps, so a change in
 * code the analysis cannot see still changes the function's normalised form.
 */
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { absTarget, codePointerTargets, isCode, lowerBound, relocsIn, sectionAt, type MappedImage } from '../image/map-image.ts';
import { rvaAdd, type Rva } from '../../common/types.ts';
import type { DecodedFunction, DecodedInsn, JumpTable, Reference, RvaRange } from '../image/types.ts';
import { chainBefore, clobbers, isPointerTailCall, recoverJumpTable, type WriteCache } from './jump-tables.ts';
import { baseHoldsOnEveryPath, imageBaseUnknown } from './base-paths.ts';
import { InstructionMap } from './instruction-map.ts';
import { accessesRipTarget } from './memory-access.ts';
import { jumpsThroughOutsidePointer } from './pointer-jumps.ts';
import { branchSources, entersRechecked } from './rechecked-bounds.ts';
/** The shapes moved to compiler/image/types.ts; re-exported under their old names. */
export type { DecodedFunction, DecodedInsn, JumpTable, RefKind, Reference, RvaRange } from '../image/types.ts';

/** A reusable decoder over one mapped image. Call `close()` to free its wasm memory. */
export interface Disassembler {
  readonly img: MappedImage;
  /**
   * Decodes from `entry` inside `ranges`. With `sweepGaps` (the ranges are known to be the
   * function's own, e.g. from .pdata) bytes descent did not reach are decoded too.
   * `tableStarts`: bases of jump tables other functions read (discovery's second look, see
   * compiler/functions/discover-functions.ts): a table read by scanning ends before one.
   */
  decodeFunction(entry: number, ranges: readonly RvaRange[], sweepGaps: boolean, tableStarts?: ReadonlySet<number>): DecodedFunction;
  close(): void;
}

/** Opens a disassembler over `img` (one iced Decoder and Instruction, reused). */
export function openDisassembler(img: MappedImage): Disassembler {
  const decoder = new Decoder(64, img.image, DecoderOptions.None);
  const insn = new Instruction();
  const scratch = new ScratchCells();
  let closed = false;
  // Where the decoder stands after the last decode: straight-line code decodes on without
  // setting position and ip again (each a call into iced's wasm, the ip a BigInt).
  let next = -1;
  const decodeAt = (rva: number): void => {
    if (rva !== next) {
      decoder.position = rva;
      decoder.ip = BigInt(rva);
    }
    decoder.decodeOut(insn);
    next = rva + insn.length;
  };
  return {
    img,
    decodeFunction(entry, ranges, sweepGaps, tableStarts = NO_STARTS) {
      if (closed) throw new Error('disassembler used after close()');
      return decodeWith(img, decoder, insn, decodeAt, entry, ranges, sweepGaps, scratch, tableStarts);
    },
    close() {
      if (closed) return;
      closed = true;
      insn.free();
      decoder.free();
    },
  };
}

/**
 * An instruction descent decoded. It becomes the DecodedInsn the function lists (assemble
 * fills in refIndex and refCount, and lets go of `refs`): one object per instruction, not two.
 */
interface Pending {
  rva: Rva;
  length: number;
  flow: FlowControl;
  refIndex: number;
  refCount: number;
  /** NO_REFS until the first reference is added (most instructions have none): see addRef. */
  refs: Reference[];
}

/** No jump table bases known beyond the function's own. */
const NO_STARTS: ReadonlySet<number> = new Set();

/** The refs of every instruction without references (shared, never added to: see addRef). */
const NO_REFS: Reference[] = [];

/** Adds a reference to `p`, giving it an array of its own on the first. */
function addRef(p: Pending, r: Reference): void {
  if (p.refs === NO_REFS) p.refs = [r];
  else p.refs.push(r);
}

/** One function's decoding: its inputs and what its steps have found so far. */
interface Decoding {
  readonly img: MappedImage;
  /** relocBitsOf(img), asked at every instruction. */
  readonly relocBits: Uint8Array;
  readonly decoder: Decoder;
  readonly insn: Instruction;
  readonly decodeAt: (rva: number) => void;
  readonly cov: Coverage;
  readonly inside: (rva: number) => boolean;
  readonly byRva: InstructionMap<Pending>;
  readonly problems: string[];
  readonly external: Set<number>;
  readonly tables: JumpTable[];
  /** Starts descent has yet to follow. */
  readonly work: number[];
  /** Seeds from gaps are speculative: undecodable bytes there stay a gap, not a problem. */
  readonly speculative: Set<number>;
  maxEnd: number;
  usesImageBase: boolean;
  /** Jump tables that sit inside the function's own ranges (MSVC puts them after the code). */
  readonly inlineTables: RvaRange[];
  /** `jmp reg` sites, recognised after descent (their straight-line lead-in must be decoded). */
  readonly pendingJumps: Rva[];
  readonly writes: WriteCache;
  /** Per pending jump: the decoded-instruction count (negated when scans were allowed) at its last try. */
  readonly triedAt: Map<number, number>;
  readonly resolvedJumps: Set<number>;
  /** Bases of jump tables other functions read: a scanned table ends before one. */
  readonly tableStarts: ReadonlySet<number>;
}

/**
 * MSVC `[base + idx*4 + T]` displacement, a candidate for base = __ImageBase until checked:
 * `leaRva` is the `lea base, [rip + __ImageBase]` on the straight line before it (-1 when
 * none), checked against entering branches, else the base is proven over every path.
 */
interface ImageBaseLoad {
  readonly fieldRva: Rva;
  readonly leaRva: number;
  readonly insnRva: Rva;
  readonly base: Register;
}

function decodeWith(
  img: MappedImage,
  decoder: Decoder,
  insn: Instruction,
  decodeAt: (rva: number) => void,
  entry: number,
  ranges: readonly RvaRange[],
  sweepGaps: boolean,
  scratch: ScratchCells,
  tableStarts: ReadonlySet<number>,
): DecodedFunction {
  const cells = cellsOf(ranges);
  const [covCells, slots] = scratch.take(cells);
  const cov = new Coverage(ranges, covCells);
  const d: Decoding = {
    img,
    relocBits: relocBitsOf(img),
    decoder,
    insn,
    decodeAt,
    cov,
    inside: (rva) => cov.index(rva) >= 0,
    byRva: new InstructionMap<Pending>((rva) => cov.index(rva), cells, slots),
    problems: [],
    external: new Set(),
    tables: [],
    // The other parts' starts are seeded once the tables descent finds are known: MSVC can give
    // a jump table its own .pdata range, which must not be decoded as code.
    work: [entry],
    speculative: new Set(),
    maxEnd: entry,
    usesImageBase: false,
    inlineTables: [],
    pendingJumps: [],
    writes: new Map(),
    triedAt: new Map(),
    resolvedJumps: new Set(),
    tableStarts,
  };
  let seeded = false;
  const triedGaps = new Set<number>();
  for (let round = 0; ; round++) {
    descend(d);
    if (resolvePending(d, false)) continue;
    if (!seeded) {
      seeded = true;
      for (const r of ranges.slice(1)) if (!inTable(d, r.start) && !d.byRva.has(r.start)) d.work.push(r.start);
      if (d.work.length > 0) continue;
    }
    // Sweep what descent left: code reached only through paths the analysis could not follow
    // (an unrecognised table, a computed jump) must still count in the function's form.
    if (round < 64 && sweepGaps) {
      for (const g of cov.gaps()) {
        if (triedGaps.has(g.start)) continue;
        triedGaps.add(g.start);
        d.speculative.add(g.start);
        d.work.push(g.start);
      }
      if (d.work.length > 0) continue;
    }
    // Tables read by scanning go last: by now the `lea`s of the tables that follow them
    // (LLVM puts a function's tables back to back) are decoded, and end the scan there.
    if (round < 256 && resolvePending(d, true)) continue;
    break;
  }

  const roots = [entry, ...ranges.map((r) => r.start)];
  const graph = { decodeAt, insn, byRva: d.byRva, tables: d.tables, writes: d.writes, roots };
  const outsideCode = (t: number): boolean => !d.inside(t) && isCode(img, t);
  // The outside-pointer proof needs base relocations to show that no absolute pointer lands
  // inside the function past its entry (a label stored as data could come back through a load;
  // functions/label-values.ts makes such a function a problem once every entry is known).
  // Asked only for a jump left unresolved (most functions have none).
  let pointersKnown: boolean | undefined;
  for (const j of d.pendingJumps) {
    if (d.resolvedJumps.has(j)) continue;
    decodeAt(j);
    const reg = insn.op0Register;
    if (isPointerTailCall(decodeAt, insn, d.byRva, cov, j, reg, d.writes)) continue;
    pointersKnown ??= img.relocs.size > 0 && ranges.every((r) => labelInData(codePointerTargets(img), r, entry) < 0);
    if (!pointersKnown || !jumpsThroughOutsidePointer(graph, j, reg, d.inside, outsideCode)) d.problems.push(`indirect jump at 0x${j.toString(16)} with no recognisable jump table`);
  }
  const imageBaseLoads = d.usesImageBase ? findImageBaseLoads(d) : [];
  const imageBaseFields = checkEnteredLines(d, roots, imageBaseLoads);
  return assemble(d, imageBaseFields);
}

/** Whether `rva` is inside a jump table in the function's own ranges. */
function inTable(d: Decoding, rva: number): boolean {
  return d.inlineTables.some((t) => rva >= t.start && rva < t.end);
}

/** Every branch and case target decoded so far. */
function branchTargets(d: Decoding): number[] {
  const out: number[] = [];
  for (const p of d.byRva.values()) for (const r of p.refs) if (r.isBranch) out.push(r.target);
  for (const t of d.tables) out.push(...t.targets);
  return out;
}

/** Tries every unresolved `jmp reg` again; true when a new table added work. */
function resolvePending(d: Decoding, allowScan: boolean): boolean {
  const { img, insn, decodeAt, byRva, cov, inside, writes, tables } = d;
  // A table read by scanning ends where another address the function takes begins
  // (LLVM puts a function's tables back to back).
  // (Only scans read them: without scans, no need to collect them.)
  const stops = new Set<number>();
  if (allowScan) {
    for (const p of byRva.values()) for (const r of p.refs) if (r.kind === 'riprel32' || r.kind === 'imagerel32') stops.add(r.target);
    for (const t of tables) stops.add(t.rva);
    for (const x of d.tableStarts) stops.add(x);
  }
  let found = false;
  let knownTargets: number[] | null = null;
  for (const j of d.pendingJumps) {
    if (d.resolvedJumps.has(j)) continue;
    // Nothing new decoded since the last try: the answer would be the same.
    const key = allowScan ? -byRva.size - 1 : byRva.size;
    if (d.triedAt.get(j) === key) continue;
    d.triedAt.set(j, key);
    decodeAt(j);
    let t = recoverJumpTable(img, decodeAt, insn, byRva, cov, j, inside, stops, writes);
    if (t !== null && t.count === 'guard' && t.baseRva >= 0 && !t.baseHoisted) {
      // A branch known to enter after the bound check but not after the base: the bound
      // does not hold there, the base does, so the table is read by scanning instead.
      knownTargets ??= branchTargets(d);
      const after = (from: number): boolean => knownTargets!.some((x) => x > from && x <= j);
      if (after(t.guardRva) && !after(t.baseRva)) {
        decodeAt(j);
        t = allowScan ? recoverJumpTable(img, decodeAt, insn, byRva, cov, j, inside, stops, writes, true) : null;
      }
    }
    if (t === null || (!allowScan && t.count === 'scan')) continue;
    d.resolvedJumps.add(j);
    tables.push(t);
    stops.add(t.rva);
    const end = t.rva + 4 * t.targets.length;
    if (inside(t.rva) || inside(end - 1)) {
      // The table's bytes are data: keep descent and the gap sweep out of them. Code
      // already decoded there (reached as if it were code) makes the analysis unsound.
      for (let k = t.rva; k < end; k++) {
        const o = cov.ownerOf(k);
        if (o >= 0 && byRva.has(o)) {
          d.problems.push(`jump table at 0x${t.rva.toString(16)} overlaps the instruction decoded at 0x${o.toString(16)}`);
          break;
        }
      }
      d.inlineTables.push({ start: t.rva, end: end as Rva });
      cov.markData(t.rva, end - t.rva);
    }
    for (const target of t.targets) d.work.push(target);
    found = true;
  }
  return found;
}

/** Recursive descent from every start in `d.work` until none is left. */
function descend(d: Decoding): void {
  const { insn, cov, byRva, problems } = d;
  while (d.work.length > 0) {
    let rva = d.work.pop()!;
    const guess = d.speculative.has(rva);
    for (;;) {
      const cell = cov.index(rva);
      if (cell < 0) break;
      if (byRva.hasAt(cell, rva)) break;
      if (d.inlineTables.length > 0 && inTable(d, rva)) {
        if (!guess) problems.push(`execution reaches the jump table bytes at 0x${rva.toString(16)}`);
        break;
      }
      const cover = cov.startAt(cell, rva);
      if (cover >= 0) {
        if (!guess) problems.push(`overlapping instructions at 0x${rva.toString(16)} (inside the one at 0x${cover.toString(16)})`);
        break;
      }
      d.decodeAt(rva);
      const length = insn.length;
      if (insn.code === Code.INVALID || length === 0) {
        if (!guess) problems.push(`undecodable bytes at 0x${rva.toString(16)}`);
        break;
      }
      const end = rva + length;
      if (!cov.holds(rva, length)) {
        // The instruction runs past the end of the range it starts in: the extent is wrong (a
        // start found inside this instruction cut a guessed range short) or these bytes are
        // not code. Its bytes would not travel whole in a copy of the ranges (nor its fields
        // fit in one), so the function is not understood; a speculative decode stays a gap.
        if (!guess) {
          problems.push(`instruction at 0x${rva.toString(16)} (${length} bytes) runs past the end of the function's range`);
          if (end > d.maxEnd) d.maxEnd = end;
        }
        break;
      }
      const flow = insn.flowControl;
      const p: Pending = { rva: rva as Rva, length, flow, refIndex: 0, refCount: 0, refs: NO_REFS }; // inside the function's ranges: an RVA
      byRva.addAt(cell, p);
      cov.mark(rva, length);
      if (end > d.maxEnd) d.maxEnd = end;
      collectRefs(d.img, d.relocBits, d.decoder, insn, p, end);
      if (!d.usesImageBase) for (const r of p.refs) if (r.kind === 'riprel32' && r.target === 0) d.usesImageBase = true;
      const next = follow(d, p, end);
      if (next === null) break;
      rva = next;
    }
  }
}

/** Follows the instruction just decoded (`p`, in `d.insn`): where straight-line descent goes on, or null. */
function follow(d: Decoding, p: Pending, end: number): number | null {
  const insn = d.insn;
  const { rva, flow } = p;
  let next: number | null = end;
  switch (flow) {
    case FlowControl.ConditionalBranch:
    case FlowControl.UnconditionalBranch: {
      const branch = p.refs.find((r) => r.isBranch);
      if (branch !== undefined) {
        if (d.inside(branch.target)) d.work.push(branch.target);
        else d.external.add(branch.target);
      }
      if (flow === FlowControl.UnconditionalBranch) next = null;
      break;
    }
    case FlowControl.Call: {
      const call = p.refs.find((r) => r.isBranch);
      if (call !== undefined) d.external.add(call.target);
      break;
    }
    case FlowControl.IndirectBranch: {
      next = null;
      if (insn.op0Kind === OpKind.Register) {
        // Recognised once descent has decoded what leads to it (see resolvePending).
        if (!d.pendingJumps.includes(rva)) d.pendingJumps.push(rva);
      } else if (insn.op0Kind === OpKind.Memory && insn.memoryIndex !== Register.None) {
        // `jmp [base + idx*8]` is a table of absolute addresses this compiler does not
        // recover: its cases would be missed.
        d.problems.push(`indirect jump at 0x${rva.toString(16)} through an indexed memory operand (a table of absolute addresses)`);
      }
      break;
    }
    case FlowControl.Return:
    case FlowControl.Exception:
      next = null;
      break;
    case FlowControl.Interrupt:
      // int3 ends a path (padding / __debugbreak); `int 29h` (fastfail) too.
      next = null;
      break;
    default:
      break;
  }
  return next;
}

/**
 * MSVC switch code reads `[base + idx*4 + T]` with base = __ImageBase: such displacements
 * are image-relative references (no base relocation covers them). Adds them to the
 * instructions' refs, and returns them as candidates (checkEnteredLines proves the base).
 */
function findImageBaseLoads(d: Decoding): ImageBaseLoad[] {
  const { img, decoder, insn, decodeAt, byRva, cov, writes } = d;
  const imageBaseLoads: ImageBaseLoad[] = [];
  for (const p of byRva.values()) {
    decodeAt(p.rva);
    // iced reports a disp32 as 8 bytes in 64-bit mode (it is sign-extended): 4 or 8 is a disp32.
    if (insn.memoryDisplSize < 4 || insn.isIpRelMemoryOperand || insn.memoryBase === Register.None) continue;
    // `[rsp + disp32]` is a stack slot, never __ImageBase-relative: a large frame's offset
    // (watcher 2.5.1's 0x4dfe0 stores to [rsp + 0x1040]) only looks like an RVA in .text.
    if (insn.memoryBase === Register.RSP && insn.memoryIndex === Register.None) continue;
    const displ = Number(insn.memoryDisplacementU64 & 0xffffffffn);
    if (displ > 0 && sectionAt(img, displ) !== undefined && !p.refs.some((r) => r.kind === 'imagerel32')) {
      const co = decoder.getConstantOffsets(insn);
      const off = co.displacementOffset;
      co.free();
      addRef(p, { kind: 'imagerel32', fieldRva: rvaAdd(p.rva, off), size: 4, insnRva: p.rva, insnEnd: rvaAdd(p.rva, p.length), target: displ, isCall: false, isBranch: false, accessesTarget: false });
      // Proven image-relative when, on the straight line before it, the base register was
      // last written by `lea base, [rip + __ImageBase]` (checked against entering branches
      // below). With a scale of 1 either register may be the one holding __ImageBase
      // (watcher 2.5.1's 0x3b268: `cmp al, [rdi + r12 + 0x63ef8]`, r12 = __ImageBase).
      // A 32-bit register (an address-size prefix) never holds a 64-bit __ImageBase.
      const regs = [insn.memoryBase, ...(insn.memoryIndexScale === 1 ? [insn.memoryIndex] : [])].filter((r) => RegisterExt.isGPR64(r));
      for (const reg of regs) {
        let leaRva = -1;
        for (const s of chainBefore(byRva, cov, p.rva, 32)) {
          decodeAt(s);
          if (!clobbers(insn, reg, writes)) continue;
          if (insn.mnemonic === Mnemonic.Lea && insn.op0Register === reg && insn.isIpRelMemoryOperand && insn.ipRelMemoryAddress === 0n) leaRva = s;
          break;
        }
        imageBaseLoads.push({ fieldRva: rvaAdd(p.rva, off), leaRva, insnRva: p.rva, base: reg });
      }
    }
  }
  return imageBaseLoads;
}

/**
 * Branches entering straight lines that must not be entered: a problem per jump table
 * whose bound (or, unproven, base) an entering branch skips; returns the image-relative
 * fields (sorted) whose base register holds __ImageBase: a `lea` of it on the straight line
 * that no branch skips, or a must-analysis over every path (base-paths.ts).
 */
function checkEnteredLines(d: Decoding, roots: number[], imageBaseLoads: readonly ImageBaseLoad[]): Rva[] {
  const { tables, byRva, problems } = d;
  if (tables.length === 0 && imageBaseLoads.length === 0) return [];
  // A table's bound holds only on the straight line from its guard to its jump: a branch (or
  // a case) entering that line in between would reach the jump with an unbounded index.
  const entries = new Set<number>();
  for (const p of byRva.values()) for (const r of p.refs) if (r.isBranch) entries.add(r.target);
  for (const t of tables) for (const x of t.targets) entries.add(x);
  const sortedEntries = Float64Array.from(entries).sort();
  /** The first branch target in (after, upTo], or -1. */
  const enteredBetween = (after: number, upTo: number): number => {
    const i = lowerBound(sortedEntries, after + 1);
    return i < sortedEntries.length && sortedEntries[i]! <= upTo ? sortedEntries[i]! : -1;
  };
  // The base may come first (hoisted above a loop head): a branch entering between it and
  // the bound is accepted when the base register is proven on every path (base-paths.ts).
  // A base found only as the function's single `lea` of the register (off the straight
  // line) is always proven per path.
  const graph = { decodeAt: d.decodeAt, insn: d.insn, byRva, tables, writes: d.writes, roots };
  let sources: Map<number, number[]> | undefined;
  /** The first branch target in (after, upTo] that does not check `t`'s bound again (rechecked-bounds.ts), or -1. */
  const enteredUnchecked = (t: JumpTable, after: number, upTo: number): number => {
    for (let x = enteredBetween(after, upTo); x >= 0; x = enteredBetween(x, upTo)) {
      if (!entersRechecked(graph, t, x, (sources ??= branchSources(graph)))) return x;
    }
    return -1;
  };
  for (const t of tables) {
    const x = enteredUnchecked(t, t.boundRva, t.jumpRva);
    const y = x >= 0 ? x : enteredBetween(t.guardRva, t.jumpRva);
    const hex = (n: number): string => `0x${n.toString(16)}`;
    if (x >= 0) problems.push(`indirect jump at ${hex(t.jumpRva)}: a branch to ${hex(x)} enters between the bound check and the jump`);
    else if (t.baseHoisted && !baseHoldsOnEveryPath(graph, t)) {
      problems.push(`indirect jump at ${hex(t.jumpRva)}: its table base is a lea of the register off the straight line (${hex(t.baseRva)}), and the register is not proven to hold it on every path`);
    } else if (y >= 0 && !t.baseHoisted && !baseHoldsOnEveryPath(graph, t)) {
      problems.push(`indirect jump at ${hex(t.jumpRva)}: a branch to ${hex(y)} enters after the table base is set (${hex(t.baseRva)}) and the base register is not proven on every path`);
    }
  }
  // Off the straight line (a loop entered between the `lea` and the load, or the `lea` far up
  // in the prologue): proven when the base register holds __ImageBase on every path.
  const unknownFor = new Map<Register, ReadonlySet<number>>();
  const heldOnEveryPath = (l: ImageBaseLoad): boolean => {
    let u = unknownFor.get(l.base);
    if (u === undefined) unknownFor.set(l.base, (u = imageBaseUnknown(graph, l.base)));
    return !u.has(l.insnRva);
  };
  const imageBaseFields = new Set<Rva>();
  for (const l of imageBaseLoads) if (!imageBaseFields.has(l.fieldRva) && ((l.leaRva >= 0 && enteredBetween(l.leaRva, l.insnRva) < 0) || heldOnEveryPath(l))) imageBaseFields.add(l.fieldRva);
  return [...imageBaseFields].sort((a, b) => a - b);
}

/** The decoded function: instructions and their refs sorted by RVA, tables, gaps, problems. */
function assemble(d: Decoding, imageBaseFields: Rva[]): DecodedFunction {
  const { tables } = d;
  const insns: DecodedInsn[] = d.byRva.inAddressOrder();
  const refs: Reference[] = [];
  for (const p of insns as Pending[]) {
    if (p.refs.length > 1) p.refs.sort((a, b) => a.fieldRva - b.fieldRva);
    p.refIndex = refs.length;
    p.refCount = p.refs.length;
    for (const r of p.refs) refs.push(r);
    p.refs = NO_REFS;
  }
  const gaps = d.cov.gaps();
  tables.sort((a, b) => a.rva - b.rva);
  return { insns, refs, jumpTables: tables, gaps, externalCodeTargets: [...d.external].sort((a, b) => a - b) as Rva[], problems: d.problems, maxEnd: d.maxEnd as Rva, imageBaseFields };
}

/** How many bytes (cells) a function's ranges hold. */
function cellsOf(ranges: readonly RvaRange[]): number {
  let total = 0;
  for (const r of ranges) total += Math.max(0, r.end - r.start);
  return total;
}

/**
 * The cells of one decode (its Coverage and its InstructionMap's slots), reused from decode
 * to decode: a compile decodes thousands of functions over about ten cells per instruction
 * (data-root probes and guessed extents included), and fresh arrays for each cost their
 * allocation and the collector's time; zeroing the part a decode uses costs less.
 */
class ScratchCells {
  private buf = new Int32Array(1 << 16);

  /** Two zeroed arrays of `n` cells each, valid until the next take. */
  take(n: number): [Int32Array, Int32Array] {
    if (2 * n > this.buf.length) this.buf = new Int32Array(Math.max(2 * n, 2 * this.buf.length));
    else this.buf.fill(0, 0, 2 * n);
    return [this.buf.subarray(0, n), this.buf.subarray(n, 2 * n)];
  }
}

/**
 * Which bytes of a function's ranges decoded instructions cover: for each byte, the start of
 * its instruction (+1; 0 = not covered). Typed arrays, since large functions have many bytes.
 */
class Coverage {
  private readonly bases: number[] = [];

  /** `cells`: one zeroed cell per byte of the ranges (cellsOf). */
  constructor(
    private readonly ranges: readonly RvaRange[],
    private readonly cells: Int32Array,
  ) {
    let total = 0;
    for (const r of ranges) {
      this.bases.push(total);
      total += Math.max(0, r.end - r.start);
    }
  }

  /** Cell index of `rva`, or -1 outside the ranges. */
  index(rva: number): number {
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (rva >= r.start && rva < r.end) return this.bases[i]! + (rva - r.start);
    }
    return -1;
  }

  /** Whether [rva, rva + length) lies inside the one range that holds `rva`. */
  holds(rva: number, length: number): boolean {
    for (const r of this.ranges) if (rva >= r.start && rva < r.end) return rva + length <= r.end;
    return false;
  }

  /** Start of the instruction covering `rva` when `rva` is inside (not the start of) it; else -1. */
  startOf(rva: number): number {
    const i = this.index(rva);
    return i < 0 ? -1 : this.startAt(i, rva);
  }

  /** startOf(rva) for the cell index of `rva` (>= 0). */
  startAt(i: number, rva: number): number {
    const v = this.cells[i]!;
    return v === 0 || v - 1 === rva ? -1 : v - 1;
  }

  /** Start of the instruction whose bytes include `rva`, or -1. */
  ownerOf(rva: number): number {
    const i = this.index(rva);
    return i < 0 || this.cells[i] === 0 ? -1 : this.cells[i]! - 1;
  }

  /** Marks `[rva, rva + length)` as data inside the ranges (a jump table): not a gap, not code. */
  markData(rva: number, length: number): void {
    this.mark(rva, length);
  }

  mark(rva: number, length: number): void {
    // Most instructions lie inside the first range that holds their start: consecutive cells.
    for (let i = 0; i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (rva < r.start || rva >= r.end) continue;
      if (rva + length > r.end || this.overlapsBefore(i, rva, rva + length)) break;
      // (A loop: fill() costs more than the few cells of one instruction.)
      const first = this.bases[i]! + (rva - r.start);
      const cells = this.cells;
      for (let k = first, e = first + length; k < e; k++) cells[k] = rva + 1;
      return;
    }
    for (let k = 0; k < length; k++) {
      const i = this.index(rva + k);
      if (i >= 0) this.cells[i] = rva + 1;
    }
  }

  /** Whether a range before the i-th holds a byte of [start, end) (index() would pick it). */
  private overlapsBefore(i: number, start: number, end: number): boolean {
    for (let j = 0; j < i; j++) if (this.ranges[j]!.start < end && start < this.ranges[j]!.end) return true;
    return false;
  }

  /** Runs of uncovered bytes. */
  gaps(): RvaRange[] {
    const out: RvaRange[] = [];
    for (let ri = 0; ri < this.ranges.length; ri++) {
      const r = this.ranges[ri]!;
      const base = this.bases[ri]!;
      const n = Math.max(0, r.end - r.start);
      const cells = this.cells.subarray(base, base + n);
      // Covered runs are most of the cells: skipped by a native scan for the next zero.
      for (let k = cells.indexOf(0); k >= 0; k = cells.indexOf(0, k)) {
        const s0 = k;
        while (k < n && cells[k] === 0) k++;
        out.push({ start: (r.start + s0) as Rva, end: (r.start + k) as Rva });
        if (k >= n) break;
      }
    }
    return out;
  }
}

/** Adds the references of the instruction just decoded (`insn`, at `p`); `relocBits` is relocBitsOf(img). */
function collectRefs(img: MappedImage, relocBits: Uint8Array, decoder: Decoder, insn: Instruction, p: Pending, end: number): void {
  const rva = p.rva;
  const op0 = insn.op0Kind;
  if (op0 === OpKind.NearBranch64 || op0 === OpKind.NearBranch32) {
    // A near call is never short (checked first: calls are the most common branches).
    const isCall = insn.isCallNear;
    const short = !isCall && (insn.isJmpShort || insn.isJccShort || insn.isLoop || insn.isLoopcc || insn.isJcxShort);
    const size = short ? 1 : 4;
    addRef(p, {
      kind: short ? 'rel8' : 'rel32',
      fieldRva: (end - size) as Rva,
      size,
      insnRva: rva as Rva,
      insnEnd: end as Rva,
      target: Number(BigInt.asUintN(64, insn.nearBranchTarget)),
      isCall,
      isBranch: true,
      accessesTarget: false,
    });
  }
  if (insn.isIpRelMemoryOperand) {
    const co = decoder.getConstantOffsets(insn);
    const off = co.displacementOffset;
    co.free();
    const t = BigInt.asIntN(64, insn.ipRelMemoryAddress);
    addRef(p, {
      kind: 'riprel32',
      fieldRva: (rva + off) as Rva,
      size: 4,
      insnRva: rva as Rva,
      insnEnd: end as Rva,
      target: t < 0n ? -1 - Number(-t & 0xffffffffn) : t > 0xffffffffn ? 0x1_0000_0000 + Number(t & 0xffffffffn) : Number(t),
      isCall: p.flow === FlowControl.IndirectCall, // (p.flow is insn.flowControl, read once in descend)
      isBranch: false,
      accessesTarget: accessesRipTarget(insn),
    });
  }
  if (!relocStartsIn(relocBits, rva, end)) return;
  for (const r of relocsIn(img, rva, end)) {
    const type = img.relocs.get(r)!;
    addRef(p, {
      kind: type === 10 ? 'abs64' : 'abs32',
      fieldRva: r as Rva,
      size: type === 10 ? 8 : 4,
      insnRva: rva as Rva,
      insnEnd: end as Rva,
      target: absTarget(img, r, type),
      isCall: false,
      isBranch: false,
      accessesTarget: false,
    });
  }
}

/** Per image: one bit per byte, set where a base relocation's field starts (see relocStartsIn). */
const relocBits = new WeakMap<MappedImage, Uint8Array>();

/** The image's relocation-start bits, made on first use (decoding asks at every instruction). */
function relocBitsOf(img: MappedImage): Uint8Array {
  let bits = relocBits.get(img);
  if (bits === undefined) {
    bits = new Uint8Array((img.image.length + 8) >>> 3);
    for (const r of img.relocRvas) if (r < img.image.length) bits[r >>> 3]! |= 1 << (r & 7);
    relocBits.set(img, bits);
  }
  return bits;
}

/**
 * Whether a base relocation's field starts in [start, end) (an instruction: at most 15
 * bytes); the same answer as a search of `relocRvas` for fields inside the image.
 */
function relocStartsIn(bits: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (((bits[k >>> 3] ?? 0) & (1 << (k & 7))) !== 0) return true;
  return false;
}

/** The first RVA of a sorted `targets` in `r` other than `entry`, or -1 (functions/label-values.ts too). */
export function labelInData(targets: Int32Array, r: RvaRange, entry: number): number {
  for (let i = lowerBound(targets, r.start); i < targets.length && targets[i]! < r.end; i++) if (targets[i] !== entry) return targets[i]!;
  return -1;
}
