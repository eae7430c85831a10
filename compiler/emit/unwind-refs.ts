/**
 * Unwind by reference (format 2.3, FORMAT.md "Unwind by reference"): a changed function's
 * UNWIND_INFO, handler data and out-of-line handler structures are very often its old
 * function's bytes, apart from the RVA fields the unwind fixups write anyway (handler RVAs,
 * ip-to-state entries, map RVAs) and a few bytes (a stack size, an FH4 map's compressed code
 * offsets). Such a blob is stored as a delta against the old function's unwind bytes when that
 * is clearly cheaper: each piece as an add over the old piece it pairs with, or, when pieces
 * changed length, what the block delta encoder (blockBytesFor) finds; every fixup field takes
 * the old bytes at its place (the runtime overwrites each). The fixups
 * stay as they are, so the materialised blob with its fixups applied is byte for byte what the
 * literal one gives; the paper verification (compiler/verify) checks the materialised blob.
 * Since 2.4 (FORMAT.md "Implicit unwind fixups") a fixup whose old field at its copy source
 * implies it (an unchanged handler's RVA, a pointer to a handler structure the delta copies)
 * leaves the list: the blob names it by offset (`implicitAddr32nb`), and the runtime derives it
 * with the same function (formats/unwind-ref.ts impliedUnwindFixup).
 */
import { asRva } from '../../common/types.ts';
import type { CodeBlock, DeltaOp, Fixup, HotpatchPackage, RvaRange, Unwind } from '../../formats/package.ts';
import { gather } from '../../formats/delta-index.ts';
import { baseRanges } from '../../formats/intra-refs.ts';
import { findPdataEntry, impliedUnwindFixup } from '../../formats/unwind-ref.ts';
import { changedRecordOfBlock } from '../../formats/function-records.ts';
import { encodePayload } from '../../formats/codec.ts';
import { coveredByRelied, FIXUP_WIDTH } from '../../formats/validate.ts';
import type { ImageDiff } from '../diff/types.ts';
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';
import type { MappedImage } from '../image/map-image.ts';
import { unstableOverlap, unstableRanges } from '../image/stable-ranges.ts';
import { registeredEntries } from '../functions/layout-parts.ts';
import { blockBytesFor, type OldImage } from './deltas.ts';
import { identityOf } from './identity.ts';
import type { EmittedPackage } from './types.ts';

/** Base ranges a delta may read beyond its first (formats/validate.ts MAX_EXTRA_BASE). */
const MAX_EXTRA = 16;
/** Estimated cost of one more relied range: its gap and length varints. */
const NEW_RELIED_COST = 6;
/** A delta is kept only under this share of the literal's estimated cost (as a block delta: compiler/emit/deltas.ts). */
const DELTA_SHARE = 0.8;
/**
 * Estimated compressed bytes of one explicit unwind fixup: removing all 983 of watcher
 * 2.5.0 -> 2.5.1's complete package saved 2,493 compressed bytes (bench/size-breakdown.ts-style ablation).
 */
const FIXUP_COST = 2.5;

/** One piece of a function's unwind data: an UNWIND_INFO with its inline handler data, or an out-of-line handler structure. */
type Piece = readonly [rva: number, length: number];

/**
 * Function `f`'s unwind pieces in the order emit-function.ts lays them out in a block's blob:
 * each registered .pdata entry's UNWIND_INFO with the handler data after it, then the out-of-line handler
 * structures, once each, in entry order.
 */
function unwindPieces(img: MappedImage, fns: FunctionTable, f: FunctionInfo): Piece[] {
  const infos: Piece[] = [];
  const structures = new Map<string, Piece>();
  for (const rf of registeredEntries(f)) {
    const u = rf.unwind;
    if (u === null) continue;
    let len = u.size;
    if ((u.flags & 3) !== 0 && (u.flags & 4) === 0) {
      const hd = parseHandlerData(img, fns, f, rf);
      if (hd?.kind === 'msvc') {
        if (hd.data.inline.rva === rf.unwindInfoAddress + u.size) len += hd.data.inline.length;
        for (const st of hd.data.structures) if (!structures.has(`${st.rva}:${st.length}`)) structures.set(`${st.rva}:${st.length}`, [st.rva, st.length]);
      } else {
        const lsda = parseGccLsda(img.image, rf.unwindInfoAddress + u.size, rf.endAddress - rf.beginAddress, img.imageBase);
        if (lsda !== null) len += lsda.length;
      }
    }
    infos.push([rf.unwindInfoAddress, len]);
  }
  return [...infos, ...structures.values()];
}

/** Bytes of `blob` inside an unwind fixup's field: the runtime writes them, whatever they hold. */
function fixupMask(length: number, fixups: readonly Fixup[]): Uint8Array {
  const mask = new Uint8Array(length);
  for (const f of fixups) mask.fill(1, f.offset, Math.min(length, f.offset + FIXUP_WIDTH[f.kind]));
  return mask;
}

/**
 * Where each of NEW's pieces lies in the blob (4-aligned, in order, its bytes equal outside
 * the fixup fields), or null when one is not found.
 */
function placePieces(blob: Uint8Array, mask: Uint8Array, image: Uint8Array, pieces: readonly Piece[]): number[] | null {
  const at: number[] = [];
  let from = 0;
  for (const [rva, len] of pieces) {
    let found = -1;
    for (let a = (from + 3) & ~3; a + len <= blob.length && found < 0; a += 4) {
      let k = 0;
      while (k < len && (mask[a + k] === 1 || blob[a + k] === image[rva + k])) k++;
      if (k === len) found = a;
    }
    if (found < 0) return null;
    at.push(found);
    from = found + len;
  }
  return at;
}

/** Estimated compressed cost of delta ops: a header each, literal bytes, an add's non-zero bytes and their runs. */
function opsCost(ops: readonly DeltaOp[]): number {
  let n = 0;
  for (const op of ops) {
    n += 3;
    if (op.kind === 'literal') n += op.bytes.length;
    if (op.kind !== 'add') continue;
    for (let k = 0; k < op.bytes.length; k++) if (op.bytes[k] !== 0) n += k > 0 && op.bytes[k - 1] !== 0 ? 1 : 2;
  }
  return n;
}

/**
 * The blob as ops against OLD's pieces paired with NEW's (entry i with entry i, structure j with
 * structure j): a piece of the same length is an add op over its old piece (zero where the
 * bytes agree and in every fixup field), a copy when all zero; anything else is literal.
 */
function pairedOps(blob: Uint8Array, mask: Uint8Array, at: readonly number[], newPieces: readonly Piece[], oldPieces: readonly Piece[], old: Uint8Array, usable: (p: Piece) => boolean): { ops: DeltaOp[]; ranges: Piece[] } {
  const ops: DeltaOp[] = [];
  const ranges: Piece[] = [];
  let baseLen = 0;
  let cursor = 0;
  const literal = (end: number): void => {
    if (end > cursor) ops.push({ kind: 'literal', bytes: blob.slice(cursor, end) });
  };
  newPieces.forEach(([, len], i) => {
    const a = at[i]!;
    const op = oldPieces[i]!;
    if (op[1] !== len || !usable(op) || ranges.length > MAX_EXTRA) return;
    literal(a);
    const bytes = new Uint8Array(len);
    for (let k = 0; k < len; k++) bytes[k] = mask[a + k] === 1 ? 0 : (blob[a + k]! - old[op[0] + k]!) & 0xff;
    ops.push(bytes.every((x) => x === 0) ? { kind: 'copy', offset: baseLen, length: len } : { kind: 'add', offset: baseLen, bytes });
    // Pieces that follow each other in OLD are one base range.
    const last = ranges[ranges.length - 1];
    if (last !== undefined && last[0] + last[1] === op[0]) ranges[ranges.length - 1] = [last[0], last[1] + len];
    else ranges.push(op);
    baseLen += len;
    cursor = a + len;
  });
  literal(blob.length);
  return { ops, ranges };
}

/**
 * `u` (block `blockId`, carrying NEW function `nf`) with its blob as a delta against the unwind
 * pieces of OLD function `of` when that is clearly cheaper than the literal blob, else null.
 */
function unwindByReference(m: ImageDiff['match'], old: OldImage, u: Unwind, nf: FunctionInfo, of: FunctionInfo, usable: (p: Piece) => boolean, relied: readonly RvaRange[], pdataRva: number | null): Unwind | null {
  const blob = u.unwindInfo;
  if (blob.length === 0) return null;
  const newPieces = unwindPieces(m.new.img, m.new.fns, nf);
  const oldPieces = unwindPieces(m.old.img, m.old.fns, of).filter(usable);
  const mask = fixupMask(blob.length, u.unwindFixups);
  const candidates: Array<{ readonly ops: DeltaOp[]; readonly ranges: readonly Piece[] }> = [];
  const at = newPieces.length === oldPieces.length ? placePieces(blob, mask, m.new.img.image, newPieces) : null;
  if (at !== null) candidates.push(pairedOps(blob, mask, at, newPieces, oldPieces, old.image, usable));
  // Pieces that changed length: the block encoder finds the copies (every fixup field opaque,
  // filled with the old bytes at its aligned place), against the old pieces in address order.
  const sorted = [...oldPieces].sort((a, b) => a[0] - b[0]).slice(0, 1 + MAX_EXTRA);
  const [s0, ...sx] = sorted;
  if (s0 !== undefined) {
    const opaque: Fixup[] = u.unwindFixups.map((f) => ({ kind: f.kind, offset: f.offset, target: { kind: 'unwind', offset: 0 }, addend: 0n }));
    const enc = blockBytesFor(old, blob, opaque, s0[0], s0[0] + s0[1], 0, { intra: [], extra: sx.map(([r, l]) => [r, r + l] as const), selfId: 0 });
    if (enc.bytes.kind === 'delta') candidates.push({ ops: enc.bytes.ops.filter((o): o is DeltaOp => o.kind === 'copy' || o.kind === 'literal' || o.kind === 'add'), ranges: (enc.bytes.extraBase ?? []).length > 0 ? sorted : [s0] });
  }
  let literalCost = 0;
  for (let k = 0; k < blob.length; k++) literalCost += mask[k] === 1 ? 0 : 1;
  const range = ([rva, length]: Piece): RvaRange => ({ rva: asRva(rva), length });
  // Each candidate as the unwind it gives: its fixups that the old field at their copy source
  // implies (2.4) leave the explicit list, which saves what the estimate counts per fixup.
  const options = candidates.flatMap((c) => {
    const [first, ...extra] = c.ranges;
    if (first === undefined) return [];
    const infoDelta = { kind: 'delta' as const, base: range(first), baseSha256: new Uint8Array(0), size: blob.length, ops: c.ops, ...(extra.length > 0 ? { extraBase: extra.map(range) } : {}) };
    const split = splitImplicit(infoDelta, u.unwindFixups, old);
    // A range the relied ranges do not cover yet adds one to them (a gap and a length).
    // 2.8: a first range at the old .pdata's UNWIND_INFO leaves its rva out (FORMAT.md "Unwind base from .pdata").
    const fromPdata = first[0] === pdataRva;
    const cost = (fromPdata ? 2 : 6) + 4 * (c.ranges.length - 1) + opsCost(c.ops) + c.ranges.filter(([r, l]) => !coveredByRelied(relied, r, l)).length * NEW_RELIED_COST - split.implicit.length * FIXUP_COST;
    const unwind: Unwind = { runtimeFunctions: u.runtimeFunctions, unwindInfo: new Uint8Array(0), unwindFixups: split.explicit, infoDelta, ...(split.implicit.length > 0 ? { implicitAddr32nb: split.implicit } : {}), ...(fromPdata ? { basePdata: true as const } : {}) };
    return [{ unwind, cost }];
  });
  const best = options.sort((a, b) => a.cost - b.cost)[0];
  return best === undefined || best.cost >= literalCost * DELTA_SHARE ? null : best.unwind;
}

/**
 * The unwind fixups of a blob stored as `d` split into those the old field at their copy
 * source implies (formats/unwind-ref.ts impliedUnwindFixup gives exactly the fixup: the
 * runtime derives it by the same function) and the rest.
 */
function splitImplicit(d: NonNullable<Unwind['infoDelta']>, fixups: readonly Fixup[], old: OldImage): { implicit: number[]; explicit: Fixup[] } {
  const base = gather(old.image, baseRanges(d));
  const implicit: number[] = [];
  const explicit: Fixup[] = [];
  for (const f of fixups) {
    const g = base === null || f.kind !== 'addr32nb' || f.addend !== 0n ? null : impliedUnwindFixup(d, base, f.offset, old.sizeOfImage);
    if (g !== null && typeof g !== 'string' && sameTarget(g.target, f.target)) implicit.push(f.offset);
    else explicit.push(f);
  }
  implicit.sort((a, b) => a - b);
  return { implicit, explicit };
}

function sameTarget(a: Fixup['target'], b: Fixup['target']): boolean {
  if (a.kind === 'image' && b.kind === 'image') return a.rva === b.rva;
  if (a.kind === 'unwind' && b.kind === 'unwind') return a.offset === b.offset;
  return false;
}

/**
 * Stores the unwind blob of each changed function's block by reference to its old function's
 * unwind data where that is smaller, and pins the old ranges it reads in the target identity.
 */
export function withUnwindRefs(diff: ImageDiff, moduleName: string, emitted: EmittedPackage): EmittedPackage {
  const m = diff.match;
  const oldImg = m.old.img;
  const unstable = unstableRanges(oldImg);
  const old: OldImage = { image: oldImg.image, imageBase: oldImg.pe.optionalHeader.imageBase, sizeOfImage: oldImg.pe.optionalHeader.sizeOfImage };
  // Only bytes a running process keeps (read-only .xdata / .rdata), as for every delta base.
  const usable = ([rva, len]: Piece): boolean => len > 0 && rva + len <= old.sizeOfImage && unstableOverlap(rva, rva + len, unstable) === undefined;
  const pkg = emitted.pkg;
  const recordOf = new Map(pkg.functions.map((r) => [r.blockId, r] as const));
  const changedOf = changedRecordOfBlock(pkg.functions);
  // Once with first base ranges found through the old .pdata (2.8), once without: pinning the
  // header fields that lead there costs relied ranges a small package may not win back.
  const build = (viaPdata: boolean): { pkg: HotpatchPackage; pdata: boolean } => {
    const relied: Array<[number, number]> = pkg.target.reliedRanges.map((r) => [r.rva, r.rva + r.length]);
    let used = false;
    let pdata = false;
    const codeBlocks = pkg.codeBlocks.map((b): CodeBlock => {
      const r = recordOf.get(b.id);
      const of = r?.oldRva === null || r === undefined ? undefined : m.old.fns.byEntry.get(r.oldRva);
      const nf = r === undefined ? undefined : m.new.fns.byEntry.get(r.newRva);
      if (b.unwind === null || b.unwind.infoDelta !== undefined || of === undefined || nf === undefined) return b;
      // The reader finds the entry through the block's one changed record (formats/unwind-ref.ts).
      const oldRva = changedOf.get(b.id)?.oldRva;
      const entry = !viaPdata || oldRva === null || oldRva === undefined ? null : findPdataEntry(oldImg.image, oldRva);
      const found = entry === null || typeof entry === 'string' ? null : entry;
      const u = unwindByReference(m, old, b.unwind, nf, of, usable, pkg.target.reliedRanges, found?.unwindRva ?? null);
      if (u === null) return b;
      used = true;
      for (const x of [u.infoDelta!.base, ...(u.infoDelta!.extraBase ?? [])]) relied.push([x.rva, x.rva + x.length]);
      // The bytes read to find the entry are pinned with the rest (formats/unwind-ref.ts pdataUnwindRva).
      if (u.basePdata === true) {
        pdata = true;
        for (const [at, len] of found!.read) relied.push([at, at + len]);
      }
      return { ...b, unwind: u };
    });
    return { pkg: used ? { ...pkg, codeBlocks, target: identityOf(oldImg, moduleName, relied) } : pkg, pdata };
  };
  const viaPdata = build(true);
  // A block choosing a base at its .pdata UNWIND_INFO is the only difference the second build
  // could make (that choice is cheaper only with the .pdata form): without one, it is this package.
  const candidates = viaPdata.pdata ? [viaPdata.pkg, build(false).pkg] : [viaPdata.pkg];
  // The estimates are per blob; the first relied range of a package also brings its relied
  // hash. Kept only when the whole payload is smaller.
  const best = [pkg, ...candidates].map((p) => ({ p, n: encodePayload(p).length })).sort((x, y) => x.n - y.n)[0]!;
  return best.p === pkg ? emitted : { ...emitted, pkg: best.p };
}
