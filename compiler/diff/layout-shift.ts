/**
 * The structure-layout-change verdict. A patch swaps code, never the objects that live code
 * has already built: a heap or stack structure made by old code is read by new code after
 * the patch (and the reverse, through every old function left in place). When the new build
 * inserted, removed or resized a field, the two sides disagree on where the fields are, and
 * no function-level diff shows it: each body is consistent with its own build.
 *
 * It shows in the matched bodies. Aligned instruction by instruction (an LCS over their
 * skeletons: mnemonic, operand kinds, register classes, memory size; which register,
 * displacements and immediates left out; common prefix and suffix first), the memory
 * operands through one base keep their displacements, except that from some field on they
 * all move by the same amount: `[r14+0x5b0]` becomes `[r14+0x5b8]`, `[r14+0x5c0]` becomes
 * `[r14+0x5c8]`, while `[r14+0x10]` stays. That is a layout change, and it is refused:
 * "structure layout changed: field offsets shift by +8 from 0x5b0 (needs a baseline)".
 * A base is the pair (old register, new register) of aligned accesses: the allocator often
 * keeps the same object in another register in the new build (watcher 2.5.0 -> 2.5.1: the
 * Watcher constructor's `this` in rsi, then in rbp; missed, it killed node.exe live).
 * Stack-pointer and frame-pointer operands are left out (a frame that grows shifts them, and
 * a frame is private to its call); rbp is a frame pointer only until loaded from elsewhere.
 *
 * A pure logic fix keeps every aligned displacement, so it passes. Only changed, matched
 * pairs whose code changed are examined.
 */
import { Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import { lcsPairs } from '../match/lcs.ts';
import { describeAddedField, findAddedField, functionArgAccesses } from './added-field.ts';
import { describeRetypedField, findRetypedField } from './field-retype.ts';
import { type BitfieldChange, describeBitfieldChange } from './bitfield-layout.ts';
import { describeStrideChange, detectStrideChange } from './element-stride.ts';
import type { MatchResult } from '../match/match-images.ts';
import { reason, type Reason } from './reasons.ts';
import type { FunctionStatus } from './types.ts';
import { opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** One memory access of a body, with what the alignment compares. */
interface Access {
  /** Skeleton of the whole instruction (what LCS aligns), interned to a number. */
  readonly skel: number;
  /** Base register of a non-RIP, non-stack memory operand, or -1. */
  readonly base: number;
  readonly disp: number;
}

/** A detected layout shift between a matched old and new body. */
export interface LayoutShift {
  readonly delta: number;
  /** Lowest old displacement that moved (the first field that shifted). */
  readonly from: number;
  /** Aligned accesses that moved by `delta`, and distinct old fields among them. */
  readonly moved: number;
  readonly fields: number;
  /** The reason text. */
  readonly reason: string;
}

/** Cells of the LCS table above which a pair is not aligned. */
const MAX_CELLS = 12_000_000;
/** Distinct fields that must move by the same delta (one could be a rewritten access). */
const MIN_FIELDS = 2;

/**
 * A skeleton is a string of UTF-16 code units, one per field (mnemonic, operand count, then
 * per operand its kind and its register, or its memory base, index, scale and size): the
 * operand kinds say which fields follow, and every field's code is one-to-one with the value
 * it stands for, so two skeletons are equal exactly when their instructions agree on every
 * field the alignment compares. The codes below keep what can stand in one field apart.
 */
const STACK_BASE = 0xffff;
const NO_REGISTER_CLASS = 0xfffe;
/** `sp` + which stack-pointer register (it keeps its identity). */
const STACK_POINTER_CLASS = 0x0800;
/** Register class codes: above every Register value, below the codes above. */
const REGISTER_CLASS = 0x1000;

/**
 * A register as the renamed skeleton sees it: its class and size (`r64`, `xmm`...), not
 * which one, so the two builds align when the register allocator renamed (`this` in rsi,
 * then in rbp). The stack pointer keeps its identity. Which base registers correspond is
 * decided per aligned access pair in detectLayoutShift. Memoised per register (iced's
 * RegisterExt calls into its wasm).
 */
const regClasses = new Int32Array(0x100).fill(-1);
function regClass(r: Register): number {
  if (r === Register.None) return NO_REGISTER_CLASS;
  if (r === Register.RSP || r === Register.ESP || r === Register.SP) return STACK_POINTER_CLASS + r;
  let c = regClasses[r] ?? -1;
  if (c < 0) regClasses[r] = c = REGISTER_CLASS + (RegisterExt.base(r) << 7) + RegisterExt.size(r);
  return c;
}

/** A body's accesses as each pass sees it: exact registers, and register classes (renamed). */
interface BodyAccesses {
  readonly exact: Access[];
  readonly renamed: Access[];
}

/**
 * The operand fields of one decoded instruction that both passes read: each read from iced
 * once (a call into its wasm per field), then both passes work from this copy.
 */
class InsnFields {
  mnemonic = 0;
  opCount = 0;
  readonly kinds = new Int32Array(5);
  /** Register of each register operand (Register.None for other kinds). */
  readonly regs = new Int32Array(5);
  memBase = 0;
  memIndex = 0;
  scale = 0;
  memSize = 0;
  /** Displacement of a memory operand through a base and no index (the only one an access keeps). */
  disp = 0;

  read(insn: Instruction): void {
    this.mnemonic = insn.mnemonic;
    this.opCount = insn.opCount;
    let memory = false;
    for (let k = 0; k < this.opCount; k++) {
      const kind = opKindOf(insn, k);
      this.kinds[k] = kind;
      this.regs[k] = kind === OpKind.Register ? opRegisterOf(insn, k) : Register.None;
      if (kind === OpKind.Memory) memory = true;
    }
    if (!memory) return;
    const b = insn.memoryBase;
    this.memBase = b;
    this.memIndex = insn.memoryIndex;
    this.scale = insn.memoryIndexScale;
    this.memSize = insn.memorySize;
    this.disp = b !== Register.RIP && b !== Register.None && this.memIndex === Register.None ? Number(BigInt.asIntN(64, insn.memoryDisplacement)) : 0;
  }
}

/**
 * A body's accesses for both passes, from one decode (interned per pass: the old body first,
 * then the new one, as each pass compares them).
 */
function accessesOf(img: MappedImage, f: FunctionInfo, internExact: SkeletonIds, internRenamed: SkeletonIds): BodyAccesses {
  const out: BodyAccesses = { exact: [], renamed: [] };
  // Registers holding a stack address (`lea r, [rsp+x]`, `mov r, rsp`): accesses through
  // them are frame slots, which move whenever the frame is laid out anew. One set per pass.
  const stackExact = new Set<number>([Register.RSP, Register.RBP, Register.ESP, Register.EBP]);
  const stackRenamed = new Set<number>(stackExact);
  // The decoder copies its input into wasm memory: give it the function's span, not the image.
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const d of f.decoded.insns) {
    lo = Math.min(lo, d.rva);
    hi = Math.max(hi, d.rva + d.length);
  }
  if (hi <= lo) return out;
  const decoder = new Decoder(64, img.image.subarray(lo, hi), DecoderOptions.None);
  const insn = new Instruction();
  const x = new InsnFields();
  try {
    let next = -1;
    for (const d of f.decoded.insns) {
      // Straight-line code decodes on from where the last instruction ended.
      if (d.rva !== next) {
        decoder.position = d.rva - lo;
        decoder.ip = BigInt(d.rva);
      }
      decoder.decodeOut(insn);
      next = d.rva + d.length;
      x.read(insn);
      out.exact.push(accessOf(x, false, stackExact, internExact));
      out.renamed.push(accessOf(x, true, stackRenamed, internRenamed));
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return out;
}

/** Code units of the skeleton being built (an instruction has at most 5 operands of 5 fields). */
const skelUnits = new Uint16Array(2 + 5 * 5);

/** The decoded instruction's access as one pass sees it; updates that pass's stack-address registers. */
function accessOf(x: InsnFields, renamed: boolean, stackish: Set<number>, intern: SkeletonIds): Access {
  const u = skelUnits;
  let n = 0;
  u[n++] = x.mnemonic;
  u[n++] = x.opCount;
  let base = -1;
  let disp = 0;
  for (let k = 0; k < x.opCount; k++) {
    const kind = x.kinds[k]!;
    u[n++] = kind;
    if (kind === OpKind.Register) u[n++] = renamed ? regClass(x.regs[k]!) : x.regs[k]!;
    else if (kind === OpKind.Memory) {
      const b = x.memBase;
      u[n++] = !renamed || b === Register.RIP || b === Register.None ? b : stackish.has(b) ? STACK_BASE : regClass(b);
      u[n++] = renamed ? regClass(x.memIndex) : x.memIndex;
      u[n++] = x.scale;
      u[n++] = x.memSize;
      if (b !== Register.RIP && b !== Register.None && x.memIndex === Register.None && !stackish.has(b)) {
        base = b;
        disp = x.disp;
      }
    }
  }
  // In address order (an approximation of flow): a register loaded from the stack pointer
  // holds a stack address until something else is loaded into it.
  // RBP starts as the frame pointer, but MSVC also allocates it like any register (`mov rbp,
  // rcx` keeps `this` there): when renamed, loaded from a non-stack source it holds a base.
  const op0 = x.opCount > 0 && x.kinds[0] === OpKind.Register ? x.regs[0]! : Register.None;
  const fixed = op0 === Register.RSP || (!renamed && op0 === Register.RBP);
  if (x.opCount === 2 && x.kinds[0] === OpKind.Register && !fixed) {
    const mn = x.mnemonic;
    const src = x.kinds[1] === OpKind.Memory && mn === Mnemonic.Lea ? x.memBase : x.kinds[1] === OpKind.Register && mn === Mnemonic.Mov ? x.regs[1]! : Register.None;
    if (stackish.has(src)) stackish.add(op0);
    else if (mn === Mnemonic.Mov || mn === Mnemonic.Lea || mn === Mnemonic.Movzx || mn === Mnemonic.Movsxd || mn === Mnemonic.Xor) stackish.delete(op0);
  }
  return { skel: intern.idOf(u, n), base, disp };
}

/**
 * Skeleton interning: the first `n` code units of a skeleton to a number, one per distinct
 * sequence, numbered in first-seen order (what a Map from the units' string to its size at
 * insertion gives), without making a string per instruction: a bucket per hash of the
 * units, each id's units kept for the equality check.
 */
class SkeletonIds {
  private readonly buckets = new Map<number, number[]>();
  private readonly units: Uint16Array[] = [];

  idOf(u: Uint16Array, n: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ u[i]!, 0x01000193);
    const bucket = this.buckets.get(h);
    if (bucket !== undefined) {
      for (const id of bucket) {
        const v = this.units[id]!;
        if (v.length !== n) continue;
        let i = 0;
        while (i < n && v[i] === u[i]) i++;
        if (i === n) return id;
      }
    }
    const id = this.units.length;
    this.units.push(u.slice(0, n));
    if (bucket === undefined) this.buckets.set(h, [id]);
    else bucket.push(id);
    return id;
  }
}

/** Aligned index pairs of the longest common subsequence of two skeleton lists. */
export function align(a0: ReadonlyArray<{ readonly skel: number }>, b0: ReadonlyArray<{ readonly skel: number }>): Array<[number, number]> {
  // Common prefix and suffix first: the table then covers only the region that differs.
  let p = 0;
  while (p < a0.length && p < b0.length && a0[p]!.skel === b0[p]!.skel) p++;
  let q = 0;
  while (q < a0.length - p && q < b0.length - p && a0[a0.length - 1 - q]!.skel === b0[b0.length - 1 - q]!.skel) q++;
  const head: Array<[number, number]> = [];
  for (let k = 0; k < p; k++) head.push([k, k]);
  const tail: Array<[number, number]> = [];
  for (let k = q; k > 0; k--) tail.push([a0.length - k, b0.length - k]);
  const a = a0.slice(p, a0.length - q);
  const b = b0.slice(p, b0.length - q);
  if ((a.length + 1) * (b.length + 1) > MAX_CELLS) return [...head, ...tail];
  const as = Int32Array.from(a, (x) => x.skel);
  const bs = Int32Array.from(b, (x) => x.skel);
  const out = lcsPairs(as, bs).map(([i, j]): [number, number] => [p + i, p + j]);
  return [...head, ...out, ...tail];
}

const hex = (x: number): string => `${x < 0 ? '-' : ''}0x${Math.abs(x).toString(16)}`;

/**
 * The layout shift between old body `of` and new body `nf`, or null when their aligned
 * field accesses agree. A middle too large to align (over MAX_CELLS after the common prefix
 * and suffix) is compared on the prefix and suffix alone.
 *
 * Two passes. The first aligns exact skeletons and keys accesses by the base register, the
 * same on both sides. The second, when the first saw nothing, aligns register classes and
 * keys by the pair (old base, new base), so a `this` the allocator moved to another register
 * (or into rbp) is still compared; there a shift counts only with an anchor, an aligned
 * access below the shift through the same pair that kept its offset: proof that the two
 * registers hold the same object, not two that a looser alignment happened to line up.
 */
export function detectLayoutShift(oldImg: MappedImage, of: FunctionInfo, newImg: MappedImage, nf: FunctionInfo): LayoutShift | null {
  const internExact = new SkeletonIds();
  const internRenamed = new SkeletonIds();
  const oa = accessesOf(oldImg, of, internExact, internRenamed);
  const na = accessesOf(newImg, nf, internExact, internRenamed);
  return shiftBy(oa.exact, na.exact, false) ?? shiftBy(oa.renamed, na.renamed, true);
}

function shiftBy(oa: readonly Access[], na: readonly Access[], renamed: boolean): LayoutShift | null {
  // Per base (a register, or a pair of registers when renamed): old displacement -> delta.
  const byBase = new Map<number, Array<[number, number]>>();
  for (const [i, j] of align(oa, na)) {
    const x = oa[i]!;
    const y = na[j]!;
    if (x.base < 0 || y.base < 0 || (!renamed && x.base !== y.base)) continue;
    const key = x.base * 0x10000 + y.base;
    const list = byBase.get(key) ?? [];
    list.push([x.disp, y.disp - x.disp]);
    byBase.set(key, list);
  }
  let best: LayoutShift | null = null;
  for (const list of byBase.values()) {
    const shift = consistentShift(list, renamed);
    if (shift !== null && (best === null || shift.fields > best.fields)) best = shift;
  }
  return best;
}

/** The best consistent shift among one base's aligned (old displacement, delta) pairs. */
function consistentShift(list: ReadonlyArray<readonly [number, number]>, needAnchor: boolean): LayoutShift | null {
  const deltas = new Map<number, Set<number>>();
  for (const [disp, delta] of list) {
    if (delta === 0) continue;
    // A field offset is never negative: a negative one on either side is a pointer the
    // compiler rebased (loop strength reduction: `lea rsi,[r14+0x38]`, then `[rsi-0x20]`).
    if (disp < 0 || disp + delta < 0) return null;
    const s = deltas.get(delta) ?? new Set<number>();
    s.add(disp);
    deltas.set(delta, s);
  }
  let best: LayoutShift | null = null;
  for (const [delta, fields] of deltas) {
    if (fields.size < MIN_FIELDS) continue;
    const from = Math.min(...fields);
    // Consistent: at and above `from`, a field either moved by `delta` or was never seen
    // moving; accesses below `from` did not move. Disagreeing moves (other deltas) above
    // `from` outnumbering this one mean rewritten code, not a layout change.
    let moved = 0;
    let other = 0;
    let anchored = false;
    for (const [disp, dl] of list) {
      if (disp < from) anchored ||= dl === 0;
      else if (dl === delta) moved++;
      else if (dl !== 0) other++;
    }
    if (other * 2 > moved || (needAnchor && !anchored)) continue;
    if (best === null || fields.size > best.fields) {
      best = { delta, from, moved, fields: fields.size, reason: `structure layout changed: field offsets shift by ${delta > 0 ? '+' : '-'}${Math.abs(delta)} from ${hex(from)} (needs a baseline)` };
    }
  }
  return best;
}

/**
 * The verdict hook: a changed matched function whose field accesses moved consistently
 * against its old body, or that accesses a field its old body never does through a pointer
 * both received (`funclet`: an exception-handling funclet, whose arguments are its parent's
 * frame, not a structure), or whose bit-field stores changed (`bitChanges`: its bit-field
 * changes, bitfield-readers.ts' bitfieldChangesOf). Objects built by old code would be misread by the new body.
 */
export function layoutProblem(m: MatchResult, f: FunctionInfo, st: FunctionStatus, bitChanges: readonly BitfieldChange[] | undefined, funclet = false): Reason | null {
  const o = m.fnNewToOld[f.index]!;
  if (st !== 'changed' || o < 0) return null;
  const of = m.old.fns.functions[o]!;
  const shift = detectLayoutShift(m.old.img, of, m.new.img, f);
  const at = (what: string): string => `${what}: old ${of.name ?? hex(of.entry)}, new ${f.name ?? hex(f.entry)}`;
  if (shift !== null) {
    return reason('STRUCTURE_LAYOUT_CHANGED', `${shift.reason}: old ${of.name ?? hex(of.entry)} and new ${f.name ?? hex(f.entry)} access ${shift.fields} fields through the same base at offsets moved by ${shift.delta > 0 ? '+' : ''}${shift.delta}; objects built before the patch keep the old layout`, f.entry);
  }
  // No field moved: a field the new body accesses that the old one never does, through a
  // pointer both bodies received (compiler/diff/added-field.ts). Not in a funclet: its
  // rdx is the parent's frame, and what it reads there are stack slots.
  if (funclet) return null;
  const added = findAddedField(functionArgAccesses(m.old.img, of), functionArgAccesses(m.new.img, f));
  if (added !== null) return reason('STRUCTURE_FIELD_ADDED', `${at(describeAddedField(added))}; objects built before the patch keep the old layout`, f.entry);
  // No field at a new offset either: an array of structures whose element size changed,
  // walked in other steps (compiler/diff/element-stride.ts).
  const stride = detectStrideChange(m.old.img, of, m.new.img, f);
  if (stride !== null) return reason('STRUCTURE_STRIDE_CHANGED', `${at(describeStrideChange(stride))}; arrays built before the patch keep the old element size`, f.entry);
  // Every offset and size kept: bit-fields packed in another order inside one word
  // (compiler/diff/bitfield-layout.ts; computed once per diff by bitfield-readers.ts'
  // bitfieldChangesOf, `bitChanges` is this function's list).
  const bits = bitChanges?.[0];
  if (bits !== undefined) return reason('STRUCTURE_BITFIELD_CHANGED', `${at(describeBitfieldChange(bits))}; words packed before the patch keep the old bit order`, f.entry);
  return null;
}

/**
 * A changed matched function that keeps every field offset but accesses a field as another
 * type there (compiler/diff/field-retype.ts). Checked after every bit-field rule and the
 * argument rules (verdicts.ts): a bit-field word that moved inside an old word, or two
 * pointer parameters swapped (sample entry-args-order: the box's fields now read through
 * rdx), also read as a field retyped, and those reasons are the precise ones.
 */
export function retypedFieldProblem(m: MatchResult, f: FunctionInfo, st: FunctionStatus, funclet = false): Reason | null {
  const o = m.fnNewToOld[f.index]!;
  if (st !== 'changed' || o < 0 || funclet) return null;
  const of = m.old.fns.functions[o]!;
  const retyped = findRetypedField(functionArgAccesses(m.old.img, of), functionArgAccesses(m.new.img, f));
  if (retyped === null) return null;
  return reason('STRUCTURE_FIELD_RETYPED', `${describeRetypedField(retyped)}: old ${of.name ?? hex(of.entry)}, new ${f.name ?? hex(f.entry)}; objects built before the patch keep the old type's bytes`, f.entry);
}
