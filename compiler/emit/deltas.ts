/**
 * Delta encoding of blocks: a block whose bytes are close to a range of OLD (a small change
 * to an old function, a data-only release) is stored as copy/insert operations against that
 * range when that is clearly smaller than the literal bytes (FORMAT.md, "The delta encoding").
 */
import { asRva } from '../../common/types.ts';
import { encodedBlockBytesSize, encodedFixupsSize, encodePayload } from '../../formats/codec.ts';
import { encodeDelta } from '../../formats/delta.ts';
import { copySource, placedRva, placedSource, rangeAt, rvaInOneRange } from '../../formats/delta-index.ts';
import { IMPLICIT_WIDTH } from '../../formats/implicit-fixups.ts';
import { movedTarget, movesOf, type Moves } from '../../formats/moves.ts';
import type { CodeBlock, DataBlock, DeltaOp, Fixup, ImplicitFixups, RvaRange } from '../../formats/package.ts';
import { FIXUP_WIDTH } from '../../formats/validate.ts';
import { baseBytesOf, intraRefsOf, selfResolved, widthOf, withIntraFields, type BaseBytes, type IntraCandidate } from './intra-deltas.ts';
import type { MappedImage } from '../image/map-image.ts';
import { identityOf } from './identity.ts';
import { unstableOverlap, unstableRanges } from '../image/stable-ranges.ts';
import type { EmittedPackage, LiteralForm } from './types.ts';

/** An OLD range [start, end) a block is encoded against; the block's first byte lies at start + shift. */
export interface DeltaBase {
  readonly start: number;
  readonly end: number;
  readonly shift: number;
  /** Fields of the block that point inside it (code blocks; format 2.1). */
  readonly intra?: readonly IntraCandidate[];
  /** More OLD ranges [start, end) the copies may read (the old function's jump tables). */
  readonly extra?: ReadonlyArray<readonly [number, number]>;
}

/** What a successful pass leaves for the final step (delta encoding runs once, not per pass). */
export interface PassExtras {
  /** OLD ranges the package relies on so far. */
  readonly relied: Array<[number, number]>;
  /** Block id -> a delta base for it: OLD range [start, end), the block's first byte at start + shift. */
  readonly bases: ReadonlyMap<number, DeltaBase>;
}

/**
 * A delta base carries no hash of its own (format 2.1): withDeltas adds every base it keeps to
 * the relied ranges, whose hash the runtime checks on the same bytes before it reads a base
 * (FORMAT.md, "Delta"). 32 incompressible bytes a delta block.
 */
const NO_BASE_HASH = new Uint8Array(0);

/** Bytes of old image kept on each side of a data block's counterpart as delta base. */
export const DATA_BASE_SLACK = 64;

/**
 * A delta wins only when its exact encoded size is under this share of the literal's: a
 * literal compresses (zstd finds repeats across blocks) where a delta's base hash and copy
 * offsets do not, so raw sizes flatter the delta (FORMAT.md, "The delta encoding"). The size
 * is taken with the ops as `DeltaOp` messages, the form this share was measured on: op
 * columns (format 2.3) shrink a delta's raw size more than its compressed one, and deciding on
 * them (at 0.8, 0.65, 0.5 or 0.4) grew some packages (compiler/README.md, "Emission").
 */
const DELTA_SHARE = 0.8;

/**
 * Delta blocks whose share is at least this keep their literal form too (EmittedPackage
 * literalForms): sealed, a literal block often costs less than the share says (zstd with OLD as
 * its dictionary), so sealing (seal.ts) tries these blocks literal and keeps what makes the
 * sealed file smaller. Measured (bench/complete-sizes.ts), one share for every block was not
 * monotone: 0.65 made watcher 2.5.0 -> 2.5.1 smaller and sharp 0.34.3 -> 0.34.4 bigger. Deltas
 * down to 0.1 of their literal's cost still seal smaller literal often enough to try (seal.ts
 * LOW_BANDS). Measured with bench/complete-sizes.ts, 0.4 -> 0.1: complete bufferutil 4.0.8 ->
 * 4.0.9 21,379 -> 21,019 bytes, 4.0.9 -> 4.1.0 9,150 -> 8,920; --skip-refused 1,771 -> 1,630 and
 * 1,516 -> 1,489; watcher unchanged; no package grew.
 */
export const CLOSE_SHARE = 0.1;

/**
 * Stores each block that has a delta base as a delta when that is clearly smaller
 * (blockBytesFor), with the references it keeps from its base as implicit fixups, and pins
 * the bases it used in the target identity. Moved absolute fields (format 2.5) are kept only
 * when the payload is smaller with them: a replaced range, op columns and the 2.5 storage cost
 * a few bytes that a handful of pointers do not repay (sample cpp-exceptions (clang): 4 moved
 * pointers made its package 699 -> 706 bytes).
 */
export function withDeltas(oldImg: MappedImage, moduleName: string, r: { readonly value: EmittedPackage; readonly pass: PassExtras }): EmittedPackage {
  const withMoved64 = deltasOf(oldImg, moduleName, r, true);
  if (!withMoved64.usedMoved64) return withMoved64.emitted;
  const without = deltasOf(oldImg, moduleName, r, false).emitted;
  return encodePayload(withMoved64.emitted.pkg).length < encodePayload(without.pkg).length ? withMoved64.emitted : without;
}

function deltasOf(oldImg: MappedImage, moduleName: string, r: { readonly value: EmittedPackage; readonly pass: PassExtras }, movedAbs64: boolean): { emitted: EmittedPackage; usedMoved64: boolean } {
  const unstable = unstableRanges(oldImg);
  const pkg = r.value.pkg;
  const replaces = replacedRanges(pkg.dataBlocks, r.pass.bases);
  const run = (ranges: ReadonlyMap<number, RvaRange>): { codeBlocks: CodeBlock[]; dataBlocks: DataBlock[]; relied: Array<[number, number]>; uses: Map<number, number>; forms: LiteralForm[] } => {
    const moves = movesOf({ functions: pkg.functions, dataBlocks: pkg.dataBlocks.map((d) => (ranges.has(d.id) ? { ...d, replaces: ranges.get(d.id)! } : d)) });
    const old: OldImage = { image: oldImg.image, imageBase: oldImg.pe.optionalHeader.imageBase, sizeOfImage: oldImg.pe.optionalHeader.sizeOfImage, moves, movedAbs64 };
    const relied = [...r.pass.relied];
    const uses = new Map<number, number>();
    const forms: LiteralForm[] = [];
    const convert = <B extends CodeBlock | DataBlock>(b: B): B => {
      const base = r.pass.bases.get(b.id);
      if (base === undefined || b.bytes.kind !== 'literal') return b;
      // A delta base must be bytes a running process keeps, or the delta would not apply live.
      if (unstableOverlap(base.start, base.end, unstable) !== undefined) return b;
      const extra = (base.extra ?? []).filter(([s, e]) => unstableOverlap(s, e, unstable) === undefined);
      const more = base.intra === undefined ? undefined : { intra: base.intra, extra, selfId: b.id };
      const enc = blockBytesFor(old, b.bytes.bytes, b.fixups, base.start, base.end, base.shift, more);
      if (enc.bytes.kind !== 'delta') return b;
      for (const id of enc.moved) uses.set(id, (uses.get(id) ?? 0) + 1);
      relied.push([base.start, base.end]);
      for (const r of enc.bytes.extraBase ?? []) relied.push([r.rva, r.rva + r.length]);
      if (enc.share !== undefined && enc.share >= CLOSE_SHARE) forms.push({ blockId: b.id, share: enc.share, bytes: b.bytes.bytes, fixups: b.fixups });
      return { ...b, bytes: enc.bytes, fixups: enc.fixups };
    };
    return { codeBlocks: pkg.codeBlocks.map(convert), dataBlocks: pkg.dataBlocks.map(convert), relied, uses, forms };
  };
  let done = run(replaces);
  // A replaced range costs about as much as MIN_MOVED_USES fixup records save: a data block
  // pointed into by fewer moved fields keeps them as records (encoded again without its range).
  const few = [...replaces.keys()].filter((id) => (done.uses.get(id) ?? 0) > 0 && done.uses.get(id)! < MIN_MOVED_USES);
  if (few.length > 0) done = run(new Map([...replaces].filter(([id]) => !few.includes(id))));
  // A data block names the old range it replaces only when a moved field points into it.
  const dataBlocks = done.dataBlocks.map((d) => ((done.uses.get(d.id) ?? 0) > 0 && replaces.has(d.id) ? { ...d, replaces: replaces.get(d.id)! } : d));
  const usedMoved64 = [...done.codeBlocks, ...dataBlocks].some((b) => b.bytes.kind === 'delta' && (b.bytes.implicit?.moved64?.length ?? 0) > 0);
  const pkgOut = { ...pkg, codeBlocks: done.codeBlocks, dataBlocks, target: identityOf(oldImg, moduleName, done.relied) };
  return { emitted: { ...r.value, pkg: pkgOut, ...(done.forms.length > 0 ? { literalForms: done.forms } : {}) }, usedMoved64 };
}

/** Moved fields a data block's replaced range must serve to be written (see withDeltas). */
const MIN_MOVED_USES = 3;

/** What delta encoding reads of OLD: its mapped bytes (at the preferred base) and header values. */
export interface OldImage {
  readonly image: Uint8Array;
  readonly imageBase: bigint;
  readonly sizeOfImage: number;
  /** Where the package puts the new counterparts of old functions and data (format 2.3 moved fields); none when absent. */
  readonly moves?: Moves;
  /** Whether absolute fields may be moved fields too (format 2.5); true when absent. */
  readonly movedAbs64?: boolean;
}

/** A block's stored bytes and the fixups it still lists (the rest are implicit in its delta). */
export interface EncodedBlock {
  readonly bytes: CodeBlock['bytes'];
  readonly fixups: readonly Fixup[];
  /** The block each of the delta's moved fields points into (2.3), one entry a field. */
  readonly moved: readonly number[];
  /** A delta's encoded size over the literal's (the DELTA_SHARE measure); absent for a literal. */
  readonly share?: number;
}

/**
 * The old range each data block with a delta base replaces: its counterpart (where the base
 * puts the block's first byte) for the block's length, inside the base; ranges that would
 * overlap an earlier one are left out (validation wants them disjoint).
 */
function replacedRanges(dataBlocks: readonly DataBlock[], bases: ReadonlyMap<number, DeltaBase>): Map<number, RvaRange> {
  const all = dataBlocks.flatMap((d) => {
    const b = bases.get(d.id);
    if (b === undefined || d.bytes.kind !== 'literal') return [];
    const start = b.start + b.shift;
    const end = Math.min(b.end, start + d.bytes.bytes.length);
    return end > start ? [{ id: d.id, rva: start, end }] : [];
  });
  all.sort((a, b) => a.rva - b.rva);
  const out = new Map<number, RvaRange>();
  let last = 0;
  for (const x of all) {
    if (x.rva < last) continue;
    out.set(x.id, { rva: asRva(x.rva), length: x.end - x.rva });
    last = x.end;
  }
  return out;
}

/** Fixups that may become implicit: to an old-image address, through a 4-byte relative or an 8-byte absolute field. */
function implicitKind(f: Fixup): 'rel32' | 'abs64' | null {
  if (f.target.kind !== 'image') return null;
  return f.kind === 'rel32' || f.kind === 'rip-disp32' ? 'rel32' : f.kind === 'abs64' ? 'abs64' : null;
}

/** S + A of an image fixup, as an RVA (the fixup's meaning at any load address). */
function rvaSum(f: Fixup): bigint {
  return BigInt(f.target.kind === 'image' ? f.target.rva : 0) + f.addend;
}

/**
 * The bytes `fixups` would hold if the block lay in OLD with fixup i's field at base offset
 * pos[i] (relative and absolute image fixups), or the base's bytes there (any other fixup,
 * whose field the runtime overwrites anyway): what the old body holds where it kept the
 * reference, so that the delta copies through it.
 */
function asInBase(bytes: Uint8Array, fixups: readonly Fixup[], pos: readonly number[], bb: BaseBytes, old: OldImage): Uint8Array {
  const base = bb.bytes;
  const out = bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  fixups.forEach((f, i) => {
    const w = FIXUP_WIDTH[f.kind];
    const at = pos[i]!;
    const k = implicitKind(f);
    const fieldRva = rangeAt(bb.ranges, at)?.rva ?? null;
    if (k === 'rel32') {
      const v = rvaSum(f) - BigInt(fieldRva ?? 0);
      if (fieldRva !== null && v >= -0x8000_0000n && v <= 0x7fff_ffffn) view.setInt32(f.offset, Number(v), true);
    } else if (k === 'abs64') view.setBigUint64(f.offset, BigInt.asUintN(64, old.imageBase + rvaSum(f)), true);
    else if (at >= 0 && at + w <= base.length) out.set(base.subarray(at, at + w), f.offset);
  });
  return out;
}

/**
 * Where each fixup's field lies in the base under `ops`: the source of the copy op that holds
 * it, else the alignment of the nearest copy before it (an edited instruction next to a kept
 * one), else `fallback`.
 */
function alignedPositions(ops: readonly DeltaOp[], fixups: readonly Fixup[], fallback: readonly number[]): number[] {
  const copies: Array<readonly [number, number, number]> = []; // [result start, result end, base offset - result offset]
  let at = 0;
  for (const op of ops) {
    const len = op.kind === 'copy' ? op.length : op.bytes.length;
    if (op.kind === 'copy') copies.push([at, at + len, op.offset - at]);
    at += len;
  }
  return fixups.map((f, i) => {
    let shift: number | null = null;
    for (const [s, , d] of copies) {
      if (s > f.offset) break;
      shift = d;
    }
    return shift === null ? fallback[i]! : f.offset + shift;
  });
}

/**
 * How to store block `bytes` and which of its `fixups` it still lists: a delta against old
 * range [baseStart, baseEnd) when its exact encoded size, with the fixups it lists, is clearly
 * smaller than the literal's with all of them; else the literal. Before encoding, each
 * fixup's field takes what OLD holds at the same place (`shift` = where the block's first
 * byte lies in the base, refined to each field's aligned place once a first delta is known):
 * a function that changed only in what its references point at becomes one copy of its old
 * body. A relative or absolute fixup to an old address whose field a copy op brings from an
 * old field that already points there becomes implicit (formats/implicit-fixups.ts): its
 * record is dropped, and the runtime re-derives it from the base.
 */
export function blockBytesFor(old: OldImage, bytes: Uint8Array, fixups: readonly Fixup[], baseStart: number, baseEnd: number, shift = 0, more?: IntraOptions): EncodedBlock {
  const literal: EncodedBlock = { bytes: { kind: 'literal', bytes }, fixups, moved: [] };
  if (baseEnd <= baseStart || bytes.length === 0) return literal;
  const bb = baseBytesOf(old.image, [[baseStart, baseEnd], ...(more?.extra ?? [])]);
  const base = bb.bytes;
  let pos = fixups.map((f) => shift + f.offset);
  let target = asInBase(bytes, fixups, pos, bb, old);
  let ops = encodeDelta(base, target);
  // Insertions and deletions move the old fields: align each on the copy around it and encode
  // again (bounded; usually one more round settles every field).
  for (let round = 0; round < 2; round++) {
    const next = alignedPositions(ops, fixups, pos);
    if (next.every((p, i) => p === pos[i])) break;
    pos = next;
    target = asInBase(bytes, fixups, pos, bb, old);
    ops = encodeDelta(base, target);
  }
  // Fields that point inside the block (format 2.1): copied from the old body, rebuilt by the runtime.
  let accepted: IntraCandidate[] = [];
  let selfAt = new Set<number>();
  if (more !== undefined && more.intra.length > 0) {
    const resolved = selfResolved(bytes, fixups, more.selfId);
    const cands = more.intra.filter((c) => c.kind === 'table' || resolved.selfAt.has(c.offset) || !fixups.some((f) => f.offset === c.offset));
    const r = withIntraFields(bb, target, ops, resolved.truth, cands, (raw) => withAddOps(base, raw));
    ({ target, ops } = r);
    // Listed only where a copy alone would be wrong (a displacement that changed) or where the
    // field replaces a fixup record: an unchanged branch costs nothing as copied bytes.
    const differs = (c: IntraCandidate): boolean => {
      for (let i = c.offset; i < c.offset + widthOf(c); i++) if (target[i] !== resolved.truth[i]) return true;
      return false;
    };
    accepted = r.accepted.filter((c) => resolved.selfAt.has(c.offset) || differs(c));
    selfAt = new Set(accepted.filter((c) => resolved.selfAt.has(c.offset)).map((c) => c.offset));
  }
  const copied = implicitOf(old, bb, ops, fixups.filter((f) => !selfAt.has(f.offset)));
  const extra = (more?.extra ?? []).map(([s, e]) => ({ rva: asRva(s), length: e - s }));
  // 2.1 storage only when it is used: a copy reads an extra range, or an intra field is listed
  // (then with every extra range, the base its targets were checked against).
  const readsExtra = ops.some((op) => op.kind === 'copy' && op.offset + op.length > baseEnd - baseStart);
  const v21 = accepted.length > 0 || readsExtra ? { extraBase: extra, intra: intraRefsOf(accepted) } : {};
  // 2.4: references the copies do not bring are written as their placed old field would hold them.
  const placed = placeFields(old, base, v21.extraBase === undefined ? bb.ranges.slice(0, 1) : bb.ranges, ops, copied);
  ops = placed.ops;
  const { implicit, listed, moved } = placed;
  const delta: EncodedBlock = {
    bytes: { kind: 'delta', base: { rva: asRva(baseStart), length: baseEnd - baseStart }, baseSha256: NO_BASE_HASH, size: target.length, ops, ...implicit, ...v21 },
    fixups: listed,
    moved,
  };
  // Decided on copy/literal ops (the rule in compiler/README.md, measured in
  // bench/results/compiler-history.md, "Delta threshold"), then stored with
  // edited runs as add ops, whose zeros the payload's compression takes almost for free.
  const share = encodedSize(delta) / Math.max(1, encodedSize(literal));
  if (share >= DELTA_SHARE || delta.bytes.kind !== 'delta') return literal;
  return { ...delta, bytes: { ...delta.bytes, ops: withAddOps(base, ops) }, share };
}

/** What blockBytesFor may use beyond the base range (format 2.1). */
export interface IntraOptions {
  /** Fields of the block that point inside it. */
  readonly intra: readonly IntraCandidate[];
  /** More OLD ranges [start, end) for the copies (the old function's jump tables). */
  readonly extra: ReadonlyArray<readonly [number, number]>;
  /** The block's id (its fixups to itself are intra candidates). */
  readonly selfId: number;
}

/**
 * The fixups a copy brings from an old field that already points where they do (implicit,
 * by the rule the runtime applies in impliedFixups: same S + A, target inside OLD), and the rest.
 */
function implicitOf(old: OldImage, bb: BaseBytes, ops: readonly DeltaOp[], fixups: readonly Fixup[]): ImplicitSplit {
  const base = bb.bytes;
  const view = new DataView(base.buffer, base.byteOffset, base.byteLength);
  const rel32: number[] = [];
  const abs64: number[] = [];
  const movedAt: number[] = [];
  const moved64At: number[] = [];
  const movedTo: number[] = [];
  const listed: Fixup[] = [];
  for (const f of fixups) {
    const k = implicitKind(f);
    const src = k === null ? null : copySource(ops, f.offset, IMPLICIT_WIDTH[k]);
    let derived: bigint | null = null;
    // The field must come from one base range (the runtime refuses one read across two).
    const srcRva = src === null ? null : rvaInOneRange(bb.ranges, src, IMPLICIT_WIDTH[k!]);
    if (src !== null && srcRva !== null && src + IMPLICIT_WIDTH[k!] <= base.length) {
      derived = k === 'rel32' ? BigInt(srcRva + view.getInt32(src, true)) : view.getBigUint64(src, true) - old.imageBase;
      const s = k === 'rel32' ? derived + 4n : derived;
      if (s < 0n || s >= BigInt(old.sizeOfImage)) derived = null;
    }
    if (derived !== null && derived === rvaSum(f)) (k === 'rel32' ? rel32 : abs64).push(f.offset);
    else {
      const to = movedBlock(old, bb, view, ops, f);
      if (to === null) listed.push(f);
      else {
        (f.kind === 'abs64' ? moved64At : movedAt).push(f.offset);
        movedTo.push(to);
      }
    }
  }
  return { implicit: implicitFields(rel32, abs64, movedAt, moved64At), listed, moved: movedTo };
}

/** The implicit fields of a delta, each list sorted; none when all are empty. */
function implicitFields(rel32: number[], abs64: number[], moved: number[], moved64: number[]): { implicit?: ImplicitFixups } {
  const sort = (xs: number[]): number[] => xs.sort((a, b) => a - b);
  if (rel32.length + abs64.length + moved.length + moved64.length === 0) return {};
  return { implicit: { rel32: sort(rel32), abs64: sort(abs64), ...(moved.length > 0 ? { moved: sort(moved) } : {}), ...(moved64.length > 0 ? { moved64: sort(moved64) } : {}) } };
}

/**
 * The block a relative or absolute fixup to a block lands in when its field, copied from the
 * base, can be a moved field (format 2.3 relative, 2.5 absolute): the old field's target moved
 * (old.moves) to exactly where the fixup points, by the rule impliedFixups applies (rel32 to
 * the moved place with addend -4; abs64 to it with addend 0). Null otherwise.
 */
function movedBlock(old: OldImage, bb: BaseBytes, view: DataView, ops: readonly DeltaOp[], f: Fixup): number | null {
  const w = f.kind === 'abs64' ? 8 : 4;
  const kinds = old.movedAbs64 === false ? ['rel32', 'rip-disp32'] : ['rel32', 'rip-disp32', 'abs64'];
  if (old.moves === undefined || f.target.kind !== 'block' || !kinds.includes(f.kind)) return null;
  const src = copySource(ops, f.offset, w);
  const srcRva = src === null ? null : rvaInOneRange(bb.ranges, src, w);
  if (src === null || srcRva === null || src + w > bb.bytes.length) return null;
  const t = w === 8 ? view.getBigUint64(src, true) - old.imageBase : BigInt(srcRva + 4 + view.getInt32(src, true));
  if (t < 0n || t >= BigInt(old.sizeOfImage)) return null;
  const to = movedTarget(old.moves, Number(t));
  const addend = w === 8 ? 0 : -4;
  if (to === null || to.blockId !== f.target.blockId || BigInt(to.offset + addend) !== BigInt(f.target.offset) + f.addend) return null;
  return to.blockId;
}

/** What implicitOf and placeFields return: the implicit fields, the fixups still listed, and each moved field's block. */
interface ImplicitSplit {
  readonly implicit: { implicit?: ImplicitFixups };
  readonly listed: Fixup[];
  readonly moved: number[];
}

/**
 * Format 2.4, placed fields (formats/implicit-fixups.ts): each listed relative or absolute
 * fixup whose field no copy brings (new code in a literal op, an edited instruction) becomes
 * an implicit field when the old image can name its target from the field's placed source
 * (delta-index.ts placedSource and placedRva over the `ranges` the delta writes): an image
 * target directly, a changed function's entry or a place in a data block's replaced range as
 * a moved field. The field's bytes in the ops (literal bytes, add differences) are set to what
 * that old place would hold; a field partly copied from a base byte that differs stays listed.
 * The result is what impliedFixups derives, or the fixup stays listed.
 */
function placeFields(old: OldImage, base: Uint8Array, ranges: readonly RvaRange[], ops0: readonly DeltaOp[], split: ImplicitSplit): ImplicitSplit & { ops: DeltaOp[] } {
  const ops = ops0.map((op): DeltaOp => (op.kind === 'copy' ? op : { ...op, bytes: op.bytes.slice() }));
  const at: number[] = [];
  ops.reduce((n, op, i) => ((at[i] = n), n + (op.kind === 'copy' ? op.length : op.bytes.length)), 0);
  const rel32 = [...(split.implicit.implicit?.rel32 ?? [])];
  const abs64 = [...(split.implicit.implicit?.abs64 ?? [])];
  const movedAt = [...(split.implicit.implicit?.moved ?? [])];
  const moved = [...split.moved];
  const listed: Fixup[] = [];
  for (const f of split.listed) {
    const want = placedValue(old, ranges, ops, f);
    if (want === null || !writeField(base, ops, at, f.offset, want.bytes)) {
      listed.push(f);
      continue;
    }
    if (want.kind === 'moved') {
      movedAt.push(f.offset);
      moved.push(want.blockId);
    } else (want.kind === 'rel32' ? rel32 : abs64).push(f.offset);
  }
  return { ops, implicit: implicitFields(rel32, abs64, movedAt, [...(split.implicit.implicit?.moved64 ?? [])]), listed, moved };
}

/** The bytes placed field `f` must hold and its implicit kind (with the block of a moved one), or null when it cannot be placed. */
function placedValue(old: OldImage, ranges: readonly RvaRange[], ops: readonly DeltaOp[], f: Fixup): { kind: 'rel32' | 'abs64'; bytes: Uint8Array } | { kind: 'moved'; blockId: number; bytes: Uint8Array } | null {
  const k = implicitKind(f);
  const relative = f.kind === 'rel32' || f.kind === 'rip-disp32';
  if (k === null && !(relative && f.target.kind === 'block')) return null;
  if (copySource(ops, f.offset, k === 'abs64' ? 8 : 4) !== null) return null;
  const src = placedSource(ops, f.offset);
  const p = src === null ? null : placedRva(ranges, src);
  if (p === null) return null;
  const out = new Uint8Array(k === 'abs64' ? 8 : 4);
  const view = new DataView(out.buffer);
  if (k === 'abs64') {
    const s = rvaSum(f);
    if (s < 0n || s >= BigInt(old.sizeOfImage)) return null;
    view.setBigUint64(0, BigInt.asUintN(64, old.imageBase + s), true);
    return { kind: 'abs64', bytes: out };
  }
  // rel32 implied to RVA t = p + 4 + v with addend -4: S + A = t - 4.
  let t: number;
  let blockId = -1;
  if (k === 'rel32') t = Number(rvaSum(f)) + 4;
  else {
    const to = f.target;
    if (to.kind !== 'block') return null;
    const found = oldPlaceOf(old.moves, to.blockId, to.offset + Number(f.addend) + 4);
    if (found === null) return null;
    t = found;
    blockId = to.blockId;
  }
  const v = t - p - 4;
  if (v < -0x8000_0000 || v > 0x7fff_ffff || t < 0 || t >= old.sizeOfImage) return null;
  view.setInt32(0, v, true);
  return blockId < 0 ? { kind: 'rel32', bytes: out } : { kind: 'moved', blockId, bytes: out };
}

/** An old RVA the package moves to block `blockId` at `offset` (formats/moves.ts movedTarget gives it back), or null. */
function oldPlaceOf(moves: Moves | undefined, blockId: number, offset: number): number | null {
  if (moves === undefined) return null;
  const back = (t: number): number | null => {
    const to = movedTarget(moves, t);
    return to !== null && to.blockId === blockId && to.offset === offset ? t : null;
  };
  for (const [rva, e] of moves.entries) if (e.blockId === blockId && e.offset === offset) return back(rva);
  const r = moves.ranges.find((x) => x.blockId === blockId);
  return r === undefined || offset < 0 || offset >= r.length ? null : back(r.rva + offset);
}

/**
 * Writes `bytes` at result `offset` through `ops` (literal bytes set, add differences set
 * against `base`); false, with nothing written, when a copy op's base bytes there differ.
 */
function writeField(base: Uint8Array, ops: DeltaOp[], at: readonly number[], offset: number, bytes: Uint8Array): boolean {
  const where: Array<readonly [DeltaOp, number]> = [];
  let i = 0;
  for (let j = 0; j < bytes.length; j++) {
    const o = offset + j;
    while (i + 1 < ops.length && at[i + 1]! <= o) i++;
    const op = ops[i];
    if (op === undefined) return false;
    const rel = o - at[i]!;
    if ((op.kind === 'copy' ? op.length : op.bytes.length) <= rel) return false;
    if (op.kind === 'copy' && base[op.offset + rel] !== bytes[j]) return false;
    where.push([op, rel]);
  }
  where.forEach(([op, rel], j) => {
    if (op.kind === 'literal') op.bytes[rel] = bytes[j]!;
    else if (op.kind === 'add') op.bytes[rel] = (bytes[j]! - base[op.offset + rel]!) & 0xff;
  });
  return true;
}

/** Rough compressed cost of ops (bytes): an op's header and offsets barely compress, zeros almost entirely. */
function opsCost(ops: readonly DeltaOp[]): number {
  let n = 0;
  for (const op of ops) {
    if (op.kind === 'copy') n += 6;
    else if (op.kind === 'literal') n += 2 + op.bytes.length;
    else {
      n += 6 + op.bytes.length / 32;
      for (let i = 0; i < op.bytes.length; i++) {
        if (op.bytes[i] === 0) continue;
        let j = i;
        while (j < op.bytes.length && op.bytes[j] !== 0) j++;
        n += 2 + (j - i);
        i = j;
      }
    }
  }
  return n;
}

/**
 * `ops` with each run of copies at one alignment, separated by same-length literals (edited
 * bytes: a displacement or a field offset that moved), merged into one add op when that is
 * estimated cheaper once compressed: one header instead of one per copy, and the edits as
 * small differences amid zeros. The result is unchanged (applyDelta gives the same bytes).
 */
export function withAddOps(base: Uint8Array, ops: readonly DeltaOp[]): DeltaOp[] {
  const out: DeltaOp[] = [];
  let i = 0;
  while (i < ops.length) {
    const first = ops[i]!;
    if (first.kind !== 'copy') {
      out.push(first);
      i++;
      continue;
    }
    // Extend: copy (literal copy)* with every literal filling exactly the base gap before the next copy.
    let end = first.offset + first.length;
    let j = i + 1;
    while (j + 1 < ops.length) {
      const lit = ops[j]!;
      const next = ops[j + 1]!;
      if (lit.kind !== 'literal' || next.kind !== 'copy' || next.offset !== end + lit.bytes.length) break;
      end = next.offset + next.length;
      j += 2;
    }
    const run = ops.slice(i, j);
    if (run.length > 1) {
      const bytes = new Uint8Array(end - first.offset);
      let at = 0;
      for (const op of run) {
        if (op.kind === 'literal') for (let k = 0; k < op.bytes.length; k++) bytes[at + k] = (op.bytes[k]! - base[first.offset + at + k]!) & 0xff;
        at += op.kind === 'copy' ? op.length : op.bytes.length;
      }
      const add: DeltaOp = { kind: 'add', offset: first.offset, bytes };
      if (opsCost([add]) < opsCost(run)) {
        out.push(add);
        i = j;
        continue;
      }
    }
    out.push(...run);
    i = j;
  }
  return out;
}

/** Exact wire bytes of a block's storage (ops as messages: DELTA_SHARE) and the fixups it lists. */
function encodedSize(e: EncodedBlock): number {
  return encodedBlockBytesSize(e.bytes, { opMessages: true }) + encodedFixupsSize(e.fixups);
}
