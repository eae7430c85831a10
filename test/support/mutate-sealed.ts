/**
 * Test support for fuzzing sealed bytes (format 2.2, formats/FORMAT.md "Sealed bytes"): a
 * sample's real package sealed by the compiler (forced, compiler/emit/seal.ts), and
 * structure-aware mutations of what sealing adds: the dictionary ranges (moved, cut, grown,
 * overlapping, past SizeOfImage; sometimes with the relied ranges and hash widened to cover
 * them, so the frame is decoded against other bytes), the frame (header fields, checksum flag,
 * dictionary id, declared size, trailing bytes, a cut, the content re-encoded), the sealed
 * lengths of blocks and ops (declared size kept or matched), and a sealed add's bytes over an
 * intra field (which must add 0 there; over an implicit field an edit is a placed field, 2.4).
 */
import { sealPackage } from '../../compiler/emit/seal.ts';
import { asRva } from '../../common/types.ts';
import { gather } from '../../formats/delta-index.ts';
import type { BlockBytes, HotpatchPackage, RvaRange, StoredOp } from '../../formats/package.ts';
import { sealedLength } from '../../formats/validate.ts';
import { decodeZstdFrame } from '../../formats/zstd-decode.ts';
import { mergeRanges } from '../../formats/testing/sample-packages.ts';
import { rawFrame } from '../../formats/testing/wrap.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import { compileWithDiff, pick } from './mutate-package.ts';

type Rng = () => number;

/** A sealed package, the old image it was sealed against (preferred base) and its frame's content. */
export interface SealedSeed {
  readonly scenario: string;
  readonly pkg: HotpatchPackage;
  readonly image: Uint8Array;
  readonly dictionary: Uint8Array;
  readonly content: Uint8Array;
}

/** The compiler's package for a sample scenario's v1 -> v2, every literal byte sealed against OLD. */
export async function compileSealed(scenario: string): Promise<SealedSeed> {
  const { diff, pkg: plain } = compileWithDiff(scenario);
  const img = diff.match.old.img;
  const s = await sealPackage(img, plain, { force: true });
  if (!s.ok) throw new Error(s.error.message);
  const pkg = s.value;
  if (pkg.sealed === undefined) throw new Error(`${scenario}: nothing sealed`);
  const dictionary = gather(img.image, pkg.sealed.dictionary);
  if (dictionary === null) throw new Error(`${scenario}: dictionary outside the image`);
  const content = decodeZstdFrame(pkg.sealed.frame, sealedLength(pkg), dictionary);
  if (!content.ok) throw new Error(content.error.message);
  return { scenario, pkg, image: img.image, dictionary, content: content.value };
}

/** `p` with relied ranges widened to cover its dictionary (clipped to the image) and the hash re-pinned to `image`. */
export function repinRelied(p: HotpatchPackage, image: Uint8Array): HotpatchPackage {
  const spans = [...p.target.reliedRanges, ...(p.sealed?.dictionary ?? [])]
    .map((r): [number, number] => [Math.min(r.rva, image.length), Math.min(r.rva + r.length, image.length)])
    .filter(([s, e]) => e > s);
  const reliedRanges = mergeRanges(spans);
  const bytes = gather(image, reliedRanges);
  return bytes === null ? p : { ...p, target: { ...p.target, reliedRanges, reliedSha256: sha256(bytes) } };
}

const withFrame = (p: HotpatchPackage, frame: Uint8Array): HotpatchPackage => (p.sealed === undefined ? p : { ...p, sealed: { ...p.sealed, frame } });

/** Where each sealed piece (block or op) starts in the frame's content, in the frame's order. */
interface SealedPiece {
  readonly block: number;
  readonly op: number | null;
  readonly at: number;
  readonly length: number;
}

function sealedPieces(p: HotpatchPackage): SealedPiece[] {
  const out: SealedPiece[] = [];
  let at = 0;
  [...p.codeBlocks, ...p.dataBlocks].forEach((b, block) => {
    if (b.bytes.kind === 'sealed') {
      out.push({ block, op: null, at, length: b.bytes.length });
      at += b.bytes.length;
    }
    if (b.bytes.kind === 'delta') {
      b.bytes.ops.forEach((op, k) => {
        if (op.kind !== 'sealed-literal' && op.kind !== 'sealed-add') return;
        out.push({ block, op: k, at, length: op.length });
        at += op.length;
      });
    }
  });
  return out;
}

/** `p` with block `index` (code blocks, then data blocks) given other bytes. */
function withBlockBytes(p: HotpatchPackage, index: number, bytes: BlockBytes): HotpatchPackage {
  const n = p.codeBlocks.length;
  if (index < n) return { ...p, codeBlocks: p.codeBlocks.map((b, k) => (k === index ? { ...b, bytes } : b)) };
  return { ...p, dataBlocks: p.dataBlocks.map((b, k) => (k === index - n ? { ...b, bytes } : b)) };
}

function blockAt(p: HotpatchPackage, index: number): BlockBytes {
  return (index < p.codeBlocks.length ? p.codeBlocks[index] : p.dataBlocks[index - p.codeBlocks.length])!.bytes;
}

/** `p` with the sealed piece's length replaced (a sealed block's, or a sealed op's). */
function withPieceLength(p: HotpatchPackage, piece: SealedPiece, length: number): HotpatchPackage {
  const b = blockAt(p, piece.block);
  if (piece.op === null) return withBlockBytes(p, piece.block, { kind: 'sealed', length });
  if (b.kind !== 'delta') return p;
  const ops = b.ops.map((op, k): StoredOp => (k === piece.op && (op.kind === 'sealed-literal' || op.kind === 'sealed-add') ? { ...op, length } : op));
  return withBlockBytes(p, piece.block, { ...b, ops });
}

const LENGTHS = [0, 1, 0x7f, 0x1000, 0x10_0000, 0x3ff_ffff, 0x7fff_ffff, 0xffff_ffff];
const EDGE_RVAS = (sizeOfImage: number, length: number): number[] => [0, 1, sizeOfImage - length, sizeOfImage - length + 1, sizeOfImage - 1, sizeOfImage, 0xffff_f000, 0xffff_ffff];

/** Edits of the dictionary ranges; half the time the relied ranges and hash follow (the frame is then decoded against other bytes). */
function mutateDictionary(s: SealedSeed, p: HotpatchPackage, r: Rng): HotpatchPackage {
  const z = p.sealed;
  if (z === undefined) return p;
  const i = Math.floor(r() * z.dictionary.length);
  const d = z.dictionary[i] ?? { rva: asRva(0x1000), length: 0x10 };
  const soi = p.target.sizeOfImage;
  const k = Math.floor(r() * 8);
  let dictionary: RvaRange[];
  if (k === 0) dictionary = z.dictionary.map((x, j) => (j === i ? { ...x, rva: asRva(Math.max(0, pick(EDGE_RVAS(soi, x.length), r)!) >>> 0) } : x));
  else if (k === 1) dictionary = z.dictionary.map((x, j) => (j === i ? { ...x, length: pick([...LENGTHS, x.length + 1, x.length - 1, 192 * 1024, soi - x.rva, soi - x.rva + 1], r)! >>> 0 } : x));
  else if (k === 2) dictionary = z.dictionary.map((x, j) => (j === i ? { ...x, rva: asRva((x.rva + Math.floor(r() * 64) - 32) >>> 0) } : x));
  else if (k === 3) dictionary = []; // a dictionary of 0 bytes
  else if (k === 4) dictionary = [...z.dictionary, { rva: asRva((d.rva + (d.length >>> 1)) >>> 0), length: d.length }]; // overlapping, unsorted
  else if (k === 5) dictionary = Array.from({ length: pick([2, 4096, 4097], r)! }, () => d); // repeated
  else if (k === 6) dictionary = [{ rva: asRva(Math.max(0, soi - Math.floor(r() * 0x800) - 1)), length: 0x800 }]; // at, or over, SizeOfImage's end
  else dictionary = [{ rva: asRva(0x1000), length: Math.min(192 * 1024, Math.max(1, s.image.length - 0x1000)) }]; // up to 192 KiB of OLD
  const q: HotpatchPackage = { ...p, sealed: { ...z, dictionary } };
  return r() < 0.5 ? repinRelied(q, s.image) : q;
}

const FCS_FLAGS = [0x00, 0x40, 0x80, 0xc0];

/** Edits of a frame's header: the checksum flag, a dictionary id, single segment, the window, the declared size (`total`, one off, huge; in an 8-byte field). */
export function editFrameHeader(frame: Uint8Array, total: number, r: Rng): Uint8Array {
  if (frame.length < 6) return frame;
  const f = frame.slice();
  const fhd = f[4]!;
  const k = Math.floor(r() * 6);
  if (k === 0) f[4] = fhd ^ 0x04; // checksum flag: 4 more bytes read at the end, or not
  else if (k === 1) f[4] = (fhd & ~0x03) | (1 + Math.floor(r() * 3)); // a dictionary id field appears
  else if (k === 2) f[4] = fhd ^ 0x20; // single segment
  else if (k === 3 && (fhd & 0x20) === 0) f[5] = Math.floor(r() * 256); // window descriptor
  else if (k === 4) f[4] = (fhd & 0x3f) | pick(FCS_FLAGS, r)!; // another declared-size width
  else {
    const single = (fhd & 0x20) !== 0;
    const fcs = fhd >>> 6 === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fhd >>> 6]!;
    const h = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + fcs;
    const out = new Uint8Array(13 + Math.max(0, f.length - h));
    out.set(f.subarray(0, 4));
    out[4] = 0xc0 | 0x20 | (fhd & 0x04);
    new DataView(out.buffer).setBigUint64(5, BigInt(pick([total, total + 1, Math.max(0, total - 1), 0xffff_ffff, 2 ** 40], r)!), true);
    out.set(f.subarray(Math.min(h, f.length)), 13);
    return out;
  }
  return f;
}

/** Edits of a frame's body: a cut, trailing bytes, the frame twice, flipped bytes. */
export function editFrameBody(f: Uint8Array, r: Rng): Uint8Array {
  const k = Math.floor(r() * 4);
  if (k === 0) return f.slice(0, Math.floor(r() * f.length));
  if (k === 1) return Uint8Array.from([...f, ...Array.from({ length: pick([1, 3, 4, 5, 64], r)! }, () => Math.floor(r() * 256))]);
  if (k === 2) return Uint8Array.from([...f, ...f]);
  const g = f.slice();
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const at = Math.floor(r() * g.length);
    g[at] = r() < 0.5 ? g[at]! ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
  }
  return g;
}

function mutateFrameHeader(p: HotpatchPackage, r: Rng): HotpatchPackage {
  return p.sealed === undefined ? p : withFrame(p, editFrameHeader(p.sealed.frame, sealedLength(p), r));
}

function mutateFrameBody(p: HotpatchPackage, r: Rng): HotpatchPackage {
  return p.sealed === undefined ? p : withFrame(p, editFrameBody(p.sealed.frame, r));
}

/**
 * A sealed piece's length changed: with the frame left as it is (its declared size no longer
 * the sum), or re-encoded with as many content bytes as the lengths now sum to (a declared
 * size that matches, up to a huge one whose frame holds a few bytes).
 */
function mutateSealedLength(s: SealedSeed, p: HotpatchPackage, r: Rng): HotpatchPackage {
  const pieces = sealedPieces(p);
  const piece = pick(pieces, r);
  if (piece === undefined) return p;
  const length = pick([...LENGTHS, piece.length + 1, Math.max(0, piece.length - 1), piece.length * 2], r)! >>> 0;
  const q = withPieceLength(p, piece, length);
  const k = Math.floor(r() * 3);
  if (k === 0) return q;
  const total = sealedLength(q);
  if (k === 1 || total > 0x10_0000) return withFrame(q, rawFrame(s.content.subarray(0, Math.min(total, 0x10_0000)), total));
  const content = new Uint8Array(total);
  content.set(s.content.subarray(0, Math.min(total, s.content.length)));
  return withFrame(q, rawFrame(content));
}

/** Sealed and literal storage swapped: a sealed op's kind, a block made literal (the frame kept), a literal block sealed, the frame dropped or added. */
function mutateSealedKind(s: SealedSeed, p: HotpatchPackage, r: Rng): HotpatchPackage {
  const pieces = sealedPieces(p);
  const piece = pick(pieces, r);
  const k = Math.floor(r() * 5);
  if (k === 0 && piece !== undefined && piece.op !== null) {
    const b = blockAt(p, piece.block);
    if (b.kind !== 'delta') return p;
    const ops = b.ops.map((op, j): StoredOp => {
      if (j !== piece.op) return op;
      if (op.kind === 'sealed-add') return { kind: 'sealed-literal', length: op.length };
      if (op.kind !== 'sealed-literal') return op;
      return { kind: 'sealed-add', offset: pick([0, 1, Math.floor(r() * 0x100), 0xffff_ffff], r)!, length: op.length };
    });
    return withBlockBytes(p, piece.block, { ...b, ops });
  }
  if (k === 1 && piece !== undefined && piece.op === null) return withBlockBytes(p, piece.block, { kind: 'literal', bytes: s.content.slice(piece.at, piece.at + piece.length) });
  if (k === 2) {
    const all = [...p.codeBlocks, ...p.dataBlocks];
    const lit = all.findIndex((b) => b.bytes.kind === 'literal');
    if (lit >= 0) return withBlockBytes(p, lit, { kind: 'sealed', length: 1 + Math.floor(r() * 64) });
  }
  if (k === 3) {
    const { sealed: _, ...rest } = p;
    return rest;
  }
  return withFrame(p, rawFrame(new Uint8Array(0)));
}

/** The frame re-encoded as raw blocks holding the content with some bytes changed (what an unsigned package may carry). */
function mutateContent(s: SealedSeed, p: HotpatchPackage, r: Rng): HotpatchPackage {
  const c = s.content.slice();
  for (let n = 1 + Math.floor(r() * 4); n > 0 && c.length > 0; n--) c[Math.floor(r() * c.length)] = Math.floor(r() * 256);
  return withFrame(p, rawFrame(sealedLength(p) === c.length ? c : s.content));
}

/**
 * Offsets (in the frame's content) of the bytes of sealed add ops that lie under an implicit
 * or intra field of their delta: each must add 0 (FORMAT.md, DeltaOp `sealed_add`).
 */
export function addBytesUnderFields(p: HotpatchPackage): number[] {
  const out: number[] = [];
  const pieces = sealedPieces(p);
  for (const piece of pieces) {
    const b = blockAt(p, piece.block);
    if (piece.op === null || b.kind !== 'delta' || b.ops[piece.op]?.kind !== 'sealed-add') continue;
    let start = 0;
    for (let k = 0; k < piece.op; k++) {
      const op = b.ops[k]!;
      start += 'length' in op ? op.length : op.bytes.length;
    }
    for (const [offset, width] of fieldsOf(b)) {
      for (let x = offset; x < offset + width; x++) if (x >= start && x < start + piece.length) out.push(piece.at + x - start);
    }
  }
  return out;
}

/**
 * (offset, width) of every intra field of a delta (tables: each entry). Implicit fields are not
 * listed: since format 2.4 an add that edits one makes it a placed field, read from the result
 * (formats/implicit-fixups.ts), so a package holding one is valid; an intra field must still lie
 * in one copy op or an add that adds 0 under it.
 */
function fieldsOf(b: Extract<BlockBytes, { kind: 'delta' }>): Array<[number, number]> {
  const at = (list: readonly number[] | undefined, width: number): Array<[number, number]> => (list ?? []).map((o) => [o, width]);
  const tables = (b.intra?.tables ?? []).flatMap((t) => Array.from({ length: t.count }, (_, k): [number, number] => [t.offset + 4 * k, 4]));
  return [...at(b.intra?.rel32, 4), ...at(b.intra?.rel8, 1), ...tables];
}

/** A mutation of a sealed package, and whether the planner must refuse it whatever else it holds. */
export interface SealedMutation {
  readonly pkg: HotpatchPackage;
  /** A sealed add now changes an intra field: unsealPackage must refuse it (PKG_INVALID). */
  readonly mustRefuse: boolean;
}

/** A sealed add made to change one byte of an intra field; `null` when the package has none. */
export function changeFieldUnderAdd(s: SealedSeed, p: HotpatchPackage, r: Rng): HotpatchPackage | null {
  const at = pick(addBytesUnderFields(p), r);
  if (at === undefined || sealedLength(p) !== s.content.length) return null;
  const c = s.content.slice();
  c[at] = (c[at]! + 1 + Math.floor(r() * 255)) & 0xff;
  return withFrame(p, rawFrame(c));
}

const SEALED_MUTATORS = [mutateDictionary, (_s: SealedSeed, p: HotpatchPackage, r: Rng) => mutateFrameHeader(p, r), (_s: SealedSeed, p: HotpatchPackage, r: Rng) => mutateFrameBody(p, r), mutateSealedLength, mutateSealedKind, mutateContent];

/** One to three mutations of `s.pkg`'s sealed parts, or (one case in eight) a sealed add changed under an intra field. */
export function mutateSealed(s: SealedSeed, r: Rng): SealedMutation {
  if (r() < 0.125) {
    const changed = changeFieldUnderAdd(s, s.pkg, r);
    if (changed !== null) return { pkg: changed, mustRefuse: true };
  }
  let pkg = s.pkg;
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) pkg = pick(SEALED_MUTATORS, r)!(s, pkg, r);
  return { pkg, mustRefuse: false };
}
