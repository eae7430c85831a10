/**
 * formats/delta-index.ts against the plain scans it replaces (one pass over the ops per
 * field), on random op lists: overlapping, repeated and out-of-order copies, add ops with
 * and without zero runs, literals, zero-length ops.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { copySource, mapBaseOffset } from './delta-index.ts';
import type { DeltaOp } from './package.ts';

function scanSource(ops: readonly DeltaOp[], offset: number, width: number): number | null {
  let at = 0;
  for (const op of ops) {
    const len = op.kind === 'copy' ? op.length : op.bytes.length;
    if (offset < at + len) {
      if (op.kind === 'literal' || offset + width > at + len) return null;
      if (op.kind === 'add' && op.bytes.subarray(offset - at, offset - at + width).some((x) => x !== 0)) return null;
      return op.offset + (offset - at);
    }
    at += len;
  }
  return null;
}

function scanMap(ops: readonly DeltaOp[], q: number): number | null {
  let at = 0;
  let end: number | null = null;
  for (const op of ops) {
    const len = op.kind === 'copy' ? op.length : op.bytes.length;
    if (op.kind !== 'literal') {
      if (q >= op.offset && q < op.offset + len) return at + q - op.offset;
      if (end === null && q === op.offset + len) end = at + len;
    }
    at += len;
  }
  return end;
}

const op: fc.Arbitrary<DeltaOp> = fc.oneof(
  fc.record({ kind: fc.constant('copy' as const), offset: fc.nat(60), length: fc.nat(24) }),
  fc.record({ kind: fc.constant('literal' as const), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ kind: fc.constant('add' as const), offset: fc.nat(60), bytes: fc.uint8Array({ maxLength: 16 }).map((b) => b.map((x) => (x & 3 ? 0 : x))) }),
);

describe('delta op index', () => {
  test('copySource and mapBaseOffset answer as a scan of the ops does', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 24 }), (ops) => {
        const size = ops.reduce((n, o) => n + (o.kind === 'copy' ? o.length : o.bytes.length), 0);
        for (let off = 0; off <= size + 1; off++) for (const w of [1, 4, 8]) expect(copySource(ops, off, w)).toBe(scanSource(ops, off, w));
        for (let q = 0; q <= 90; q++) expect(mapBaseOffset(ops, q)).toBe(scanMap(ops, q));
      }),
      { numRuns: 400 },
    );
  });

  test('an ops array changed after a lookup is indexed again', () => {
    const ops: DeltaOp[] = [{ kind: 'copy', offset: 10, length: 4 }];
    expect(mapBaseOffset(ops, 11)).toBe(1);
    ops.push({ kind: 'copy', offset: 0, length: 4 });
    expect(mapBaseOffset(ops, 2)).toBe(6);
    expect(copySource(ops, 5, 1)).toBe(1);
  });
});
