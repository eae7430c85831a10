/**
 * Since format 2.3 a delta's ops are written as columns (`Delta.op_columns`, FORMAT.md "Op
 * columns"): one packed varint per op (length and kind), one zig-zag offset gap per op that
 * reads the base, and the literal and add bytes in one field. A `DeltaOp` message cost its
 * framing (two tags and lengths) and an absolute base offset per op, which zstd cannot
 * predict; an offset gap is 0 wherever a copy resumes the alignment of the op before it (an
 * edited instruction between kept ones, as bsdiff's control triples exploit), and one byte
 * near it.
 *
 * Decoding checks only what it needs to rebuild the ops (kinds, lengths against the bytes
 * field, offsets in 0..2^32-1); base bounds and the declared size stay with checkDelta, which
 * sees the same ops either way.
 */
import type { hotpatch } from './generated/hotpatch.js';
import { ColumnsInvalid, u32 } from './fixup-columns.ts';
import type { StoredOp } from './package.ts';

/** Wire kinds: the DeltaOp field numbers. */
const KINDS: readonly (StoredOp['kind'] | undefined)[] = [undefined, 'copy', 'literal', 'add', 'sealed-literal', 'sealed-add'];

const lengthOf = (op: StoredOp): number => (op.kind === 'literal' || op.kind === 'add' ? op.bytes.length : op.length);

/** `ops` as columns. Throws on an offset gap outside int32 (a base is at most 64 MiB, so no valid delta has one). */
export function opColumnsOf(ops: readonly StoredOp[]): hotpatch.DeltaOpColumns.$Properties {
  const kinds: number[] = [];
  const gaps: number[] = [];
  const parts: Uint8Array[] = [];
  let next = 0;
  for (const op of ops) {
    const len = lengthOf(op);
    kinds.push(len * 8 + KINDS.indexOf(op.kind));
    if (op.kind === 'literal' || op.kind === 'add') parts.push(op.bytes);
    if (op.kind === 'literal' || op.kind === 'sealed-literal') {
      next += len;
      continue;
    }
    const gap = op.offset - next;
    if (gap < -0x8000_0000 || gap > 0x7fff_ffff) throw new Error(`delta op offset ${op.offset} is ${gap} from the previous op's end: not an int32`);
    gaps.push(gap);
    next = op.offset + len;
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  return { ops: kinds, offsetGaps: gaps, bytes };
}

/** The ops back from columns; throws ColumnsInvalid (naming `path`) on any inconsistency. */
export function opsOfColumns(c: hotpatch.DeltaOpColumns.$Shape, path: string): StoredOp[] {
  const kinds = c.ops ?? [];
  const gaps = c.offsetGaps ?? [];
  const bytes = c.bytes ?? new Uint8Array(0);
  const out: StoredOp[] = [];
  let next = 0;
  let g = 0;
  let b = 0;
  kinds.forEach((raw, i) => {
    const v = u32(raw);
    const kind = KINDS[v & 7];
    const len = Math.floor(v / 8);
    if (kind === undefined) throw new ColumnsInvalid(`${path}.ops[${i}]: ${v & 7} is not an op kind`);
    if (len === 0) throw new ColumnsInvalid(`${path}.ops[${i}]: an empty ${kind} op`);
    const take = (): Uint8Array => {
      if (b + len > bytes.length) throw new ColumnsInvalid(`${path}.ops[${i}]: ${kind} of ${len} bytes runs past the ${bytes.length}-byte bytes field`);
      const s = bytes.subarray(b, b + len);
      b += len;
      return s;
    };
    if (kind === 'literal' || kind === 'sealed-literal') {
      out.push(kind === 'literal' ? { kind, bytes: take() } : { kind, length: len });
      next += len;
      return;
    }
    if (g >= gaps.length) throw new ColumnsInvalid(`${path}.offsetGaps: fewer entries than copy and add ops`);
    const offset = next + (gaps[g++] ?? 0);
    if (offset < 0 || offset + len > 0xffff_ffff) throw new ColumnsInvalid(`${path}.offsetGaps[${g - 1}]: base offset ${offset} outside 0..2^32-1`);
    out.push(kind === 'copy' ? { kind, offset, length: len } : kind === 'add' ? { kind, offset, bytes: take() } : { kind, offset, length: len });
    next = offset + len;
  });
  if (g !== gaps.length) throw new ColumnsInvalid(`${path}.offsetGaps: ${gaps.length} entries for ${g} copy and add ops`);
  if (b !== bytes.length) throw new ColumnsInvalid(`${path}.bytes: ${bytes.length - b} bytes no op takes`);
  return out;
}
