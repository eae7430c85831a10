/**
 * The delta encoding of block bytes: a list of ops, each either "copy `length` bytes from
 * offset `offset` of the base" or "insert these literal bytes", applied in order. A new
 * function body is mostly its old body with a few changed instructions and shifted
 * displacements, so a greedy matcher that prefers continuing the previous copy finds long
 * copies cheaply. The base is a range of the OLD image (pinned by its SHA-256 in the package).
 */
import { err, ok, type Result } from '../common/errors.ts';
import type { DeltaOp, StoredOp } from './package.ts';

/**
 * A copy op costs about 6-8 bytes on the wire (op tag, length, two varints), a literal op
 * 4 bytes plus its data; a copy shorter than this saves nothing once encoded.
 */
export const MIN_COPY = 8;
/**
 * In a target of at least LARGE_TARGET bytes, a copy whose base offset lies NEAR_GAP or more
 * from where the previous op left off (not an edit's realignment: its offset gap in the op
 * columns then takes 2-3 bytes, and usually a second gap to come back) is taken only when it
 * is at least MIN_FAR_COPY bytes and FAR_PENALTY longer than the best nearer match. A large
 * function repeats its idioms (inlined helpers, call sequences), so the matcher otherwise hops
 * for 8-23 bytes to another copy of an idiom and back, gaps zstd cannot predict; as literal
 * bytes they go to the sealed frame, where zstd finds them in the old bytes it holds.
 * Measured (bench/size-breakdown.ts, complete packages; FORMAT.md "The delta encoding"): sharp
 * 0.34.3 -> 0.34.4 15,838 -> 13,667 bytes. Below LARGE_TARGET the short hops paid: applied to
 * every target of 1 KiB or more it grew lightningcss 1.29.1 -> 1.29.2 by 66 bytes.
 */
const LARGE_TARGET = 16384;
/** A base offset gap under this is an edit's realignment: one varint byte (zig-zag), as cheap as none. */
const NEAR_GAP = 64;
const MIN_FAR_COPY = 24;
const FAR_PENALTY = 16;
/** Bytes hashed to find candidate matches. */
const SEED = 4;
/** Candidates tried per position, newest first: bounds the work on repetitive input (int3/zero padding). */
const MAX_CANDIDATES = 24;

function seedAt(b: Uint8Array, i: number): number {
  // Callers guarantee i + SEED <= b.length.
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function matchLength(base: Uint8Array, bi: number, target: Uint8Array, ti: number): number {
  let n = 0;
  const max = Math.min(base.length - bi, target.length - ti);
  while (n < max && base[bi + n] === target[ti + n]) n++;
  return n;
}

/**
 * Ops that turn `base` into `target` (pure; deterministic). Copies are at least MIN_COPY
 * bytes; adjacent literals are merged. `applyDelta(base, encodeDelta(base, target))`
 * equals `target` for every input.
 */
export function encodeDelta(base: Uint8Array, target: Uint8Array): DeltaOp[] {
  // seed -> positions in base, in increasing order (we read them newest first).
  const index = new Map<number, number[]>();
  for (let i = 0; i + SEED <= base.length; i++) {
    const k = seedAt(base, i);
    const list = index.get(k);
    if (list === undefined) index.set(k, [i]);
    else list.push(i);
  }
  const large = target.length >= LARGE_TARGET;
  const ops: DeltaOp[] = [];
  let litStart = 0; // start of the pending literal run in target
  // Base offset that would continue the previous copy; before any copy, the same offset as
  // in the target (an edited function keeps most bytes where they were).
  let expect = 0;
  let t = 0;
  const flushLiteral = (end: number): void => {
    if (end > litStart) ops.push({ kind: 'literal', bytes: target.slice(litStart, end) });
  };
  while (t < target.length) {
    let bestLen = 0;
    let bestOff = 0;
    // The copy taken: the highest score (a far copy's length less FAR_PENALTY), 0 for none.
    let bestScore = 0;
    // The offset that continues the previous copy (same shift) is the usual winner for an
    // edited function, so try it first: it also wins ties, which keeps offsets regular.
    if (expect < base.length) {
      bestLen = matchLength(base, expect, target, t);
      bestOff = expect;
      bestScore = bestLen >= MIN_COPY ? bestLen : 0;
    }
    if (bestLen < MIN_COPY * 4 && t + SEED <= target.length) {
      const list = index.get(seedAt(target, t));
      if (list !== undefined) {
        // Oldest and newest candidates: on repetitive input (padding, zero runs) the oldest
        // reach furthest, on code the nearest recent ones are the likely matches.
        const half = MAX_CANDIDATES >> 1;
        const tryAt = (off: number): void => {
          const n = matchLength(base, off, target, t);
          const far = large && Math.abs(off - expect) >= NEAR_GAP;
          if (n < (far ? MIN_FAR_COPY : MIN_COPY)) return;
          const score = far ? n - FAR_PENALTY : n;
          if (score > bestScore) {
            bestScore = score;
            bestLen = n;
            bestOff = off;
          }
        };
        if (list.length <= MAX_CANDIDATES) for (const off of list) tryAt(off);
        else {
          for (let c = 0; c < half; c++) tryAt(list[c]!);
          for (let c = list.length - half; c < list.length; c++) tryAt(list[c]!);
        }
      }
    }
    if (bestScore > 0) {
      flushLiteral(t);
      ops.push({ kind: 'copy', offset: bestOff, length: bestLen });
      t += bestLen;
      litStart = t;
      expect = bestOff + bestLen;
    } else {
      t++;
      // Keep the alignment guess moving in step with the target, so a changed byte in the
      // middle of an unchanged stretch resumes the copy right after it.
      expect++;
    }
  }
  flushLiteral(target.length);
  return ops;
}

/** Bytes one op appends (a sealed op: its declared length, 2.2). */
export function opLength(op: StoredOp): number {
  return op.kind === 'copy' || op.kind === 'sealed-literal' || op.kind === 'sealed-add' ? op.length : op.bytes.length;
}

/** Length of the result of `ops` (sum of copy lengths and literal sizes). */
export function deltaResultLength(ops: readonly StoredOp[]): number {
  let n = 0;
  for (const op of ops) n += opLength(op);
  return n;
}

/**
 * Checks that `ops` only read inside a base of `baseLength` bytes and produce `size` bytes,
 * without needing the base itself (the loader runs this before any image is at hand).
 * PKG_INVALID names the first bad op.
 */
export function checkDelta(ops: readonly StoredOp[], baseLength: number, size: number, path = 'delta'): Result<void> {
  let n = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.kind === 'copy' || op.kind === 'sealed-add') {
      const what = op.kind === 'copy' ? 'copies' : 'adds to';
      if (op.length === 0) return err('PKG_INVALID', `${path}.ops[${i}] ${what} 0 bytes`);
      if (op.offset + op.length > baseLength) {
        return err('PKG_INVALID', `${path}.ops[${i}] ${what} [${op.offset}, ${op.offset + op.length}) outside its ${baseLength}-byte base`);
      }
      n += op.length;
    } else if (op.kind === 'add') {
      if (op.bytes.length === 0) return err('PKG_INVALID', `${path}.ops[${i}] adds to 0 bytes`);
      if (op.offset + op.bytes.length > baseLength) {
        return err('PKG_INVALID', `${path}.ops[${i}] adds to [${op.offset}, ${op.offset + op.bytes.length}) outside its ${baseLength}-byte base`);
      }
      n += op.bytes.length;
    } else if (op.kind === 'sealed-literal') {
      if (op.length === 0) return err('PKG_INVALID', `${path}.ops[${i}] is an empty literal`);
      n += op.length;
    } else {
      if (op.bytes.length === 0) return err('PKG_INVALID', `${path}.ops[${i}] is an empty literal`);
      n += op.bytes.length;
    }
    if (n > size) return err('PKG_INVALID', `${path} produces more than its declared ${size} bytes`);
  }
  if (n !== size) return err('PKG_INVALID', `${path} produces ${n} bytes, declared ${size}`);
  return ok(undefined);
}

/**
 * Applies `ops` to `base` (pure). With `size` given, the result must have exactly that
 * length. PKG_INVALID when an op reads outside `base` or the length is wrong.
 */
export function applyDelta(base: Uint8Array, ops: readonly StoredOp[], size?: number): Result<Uint8Array> {
  const total = deltaResultLength(ops);
  const checked = checkDelta(ops, base.length, size ?? total);
  if (!checked.ok) return checked;
  // Sealed ops (2.2) hold no bytes until unsealPackage has decoded the frame.
  const sealed = ops.findIndex((op) => op.kind === 'sealed-literal' || op.kind === 'sealed-add');
  if (sealed !== -1) return err('PKG_INVALID', `ops[${sealed}] is sealed: unseal the package before applying its deltas`);
  const out = new Uint8Array(total);
  let at = 0;
  for (const op of ops) {
    if (op.kind === 'copy') {
      out.set(base.subarray(op.offset, op.offset + op.length), at);
      at += op.length;
    } else if (op.kind === 'add') {
      for (let i = 0; i < op.bytes.length; i++) out[at + i] = (base[op.offset + i]! + op.bytes[i]!) & 0xff;
      at += op.bytes.length;
    } else if (op.kind === 'literal') {
      out.set(op.bytes, at);
      at += op.bytes.length;
    }
  }
  return ok(out);
}
