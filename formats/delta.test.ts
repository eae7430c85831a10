/** encodeDelta / applyDelta: exact round trips for any input, and small deltas for edited code. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyDelta, checkDelta, deltaResultLength, encodeDelta, MIN_COPY } from './delta.ts';
import { pseudoCode } from './testing/sample-packages.ts';
import { chooseBlockBytes, encodedBlockBytesSize } from './codec.ts';
import { asRva } from '../common/types.ts';
import { hotpatch } from './generated/hotpatch.js';
import type { DeltaOp } from './package.ts';

/** A target derived from `base` by a list of edits (replace, insert, delete at positions). */
const editedPair = fc
  .tuple(
    fc.uint8Array({ minLength: 0, maxLength: 600 }),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.uint8Array({ minLength: 1, maxLength: 12 })), { maxLength: 8 }),
  )
  .map(([base, edits]) => {
    let t = Array.from(base);
    for (const [pos, kind, bytes] of edits) {
      const at = t.length === 0 ? 0 : pos % (t.length + 1);
      if (kind === 'replace') t.splice(at, bytes.length, ...bytes);
      else if (kind === 'insert') t.splice(at, 0, ...bytes);
      else t.splice(at, bytes.length);
    }
    return [base, Uint8Array.from(t)] as const;
  });

function opsSize(ops: readonly DeltaOp[]): number {
  return hotpatch.BlockBytes.encode({ delta: { base: { rva: 0x1000, length: 0x1000 }, baseSha256: new Uint8Array(32), size: 0x1000, ops: ops.map((o) => (o.kind === 'copy' ? { copy: { offset: o.offset, length: o.length } } : { literal: o.bytes })) } }).finish().length;
}

/** applyDelta's result, failing the test on an error. */
function applyOk(base: Uint8Array, ops: readonly DeltaOp[]): Uint8Array {
  const r = applyDelta(base, ops);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('delta encoding', () => {
  it('round-trips edited inputs exactly (property)', () => {
    fc.assert(
      fc.property(editedPair, ([base, target]) => {
        const ops = encodeDelta(base, target);
        const r = applyDelta(base, ops, target.length);
        expect(r.ok && Buffer.from(r.value).equals(Buffer.from(target))).toBe(true);
        for (const op of ops) if (op.kind === 'copy') expect(op.length).toBeGreaterThanOrEqual(MIN_COPY);
        // No two literals in a row: the encoder merges them.
        for (let i = 1; i < ops.length; i++) expect(ops[i - 1]!.kind === 'literal' && ops[i]!.kind === 'literal').toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('round-trips unrelated inputs exactly (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (base, target) => {
        const r = applyDelta(base, encodeDelta(base, target));
        expect(r.ok && Buffer.from(r.value).equals(Buffer.from(target))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('handles repetitive input (int3 padding, zero runs) without blowing up', () => {
    const base = new Uint8Array(64 * 1024).fill(0xcc);
    const target = new Uint8Array(64 * 1024 + 5).fill(0xcc);
    target.set([0x90, 0x90, 0x90], 30_000);
    const ops = encodeDelta(base, target);
    expect(applyDelta(base, ops).ok).toBe(true);
    expect(ops.length).toBeLessThanOrEqual(5);
  });

  it('stores a lightly edited function in a small fraction of its size', () => {
    // A 2 KiB body with 3 changed instructions and all rel32 displacements after an inserted
    // 6-byte instruction unchanged (the compiler re-targets them against the old image).
    const base = pseudoCode(2048, 7);
    const t = Array.from(base);
    t.splice(300, 0, 0x48, 0x83, 0xf9, 0x08, 0x73, 0x2a);
    t[900] = 0x7d;
    t.splice(1500, 4, 0x0f, 0x1f, 0x40, 0x00);
    const target = Uint8Array.from(t);
    const ops = encodeDelta(base, target);
    const literalSize = hotpatch.BlockBytes.encode({ literal: target }).finish().length;
    expect(opsSize(ops)).toBeLessThan(literalSize / 10);
    expect(deltaResultLength(ops)).toBe(target.length);
  });

  it('in a large target, takes a short copy far from the current alignment only as literal bytes', () => {
    // NEW = OLD with 12 bytes at 5000 replaced by a repeat of OLD's bytes at 15000 (an idiom
    // found elsewhere in the old body), and 40 bytes at 9000 by OLD's at 1000.
    const hop = (size: number, at: number, from: number, n: number, b: Uint8Array): Uint8Array => {
      const t = b.slice(0, size);
      t.set(b.subarray(from, from + n), at);
      return t;
    };
    const base = pseudoCode(20_000, 11);
    const target = hop(20_000, 9000, 1000, 40, hop(20_000, 5000, 15_000, 12, base));
    const ops = encodeDelta(base, target);
    expect(Buffer.from(applyOk(base, ops)).equals(Buffer.from(target))).toBe(true);
    // The 12-byte hop would cost two far offset gaps: literal, and the copy after it resumes
    // the alignment. The 40-byte one is long enough to pay for its gaps.
    expect(ops.slice(0, 3)).toEqual([{ kind: 'copy', offset: 0, length: 5000 }, { kind: 'literal', bytes: base.slice(15_000, 15_012) }, { kind: 'copy', offset: 5012, length: 3988 }]);
    expect(ops[3]).toEqual({ kind: 'copy', offset: 1000, length: 40 });
    // Under 16 KiB every copy of at least MIN_COPY bytes is taken, wherever it reads.
    const small = hop(4000, 3000, 500, 12, base.subarray(0, 4000));
    const smallOps = encodeDelta(base.subarray(0, 4000), small);
    expect(smallOps).toContainEqual({ kind: 'copy', offset: 500, length: 12 });
  });

  it('round-trips large edited inputs exactly (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 80 })), { maxLength: 12 }), (seed, hops) => {
        const base = pseudoCode(17_000, seed);
        const target = base.slice();
        for (const [to, from, n] of hops) target.set(base.subarray(from % (base.length - n), (from % (base.length - n)) + n), to % (target.length - n));
        expect(Buffer.from(applyOk(base, encodeDelta(base, target))).equals(Buffer.from(target))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('finds no copies in unrelated data (one literal op)', () => {
    const base = pseudoCode(1024, 1);
    const target = pseudoCode(1024, 2);
    const ops = encodeDelta(base, target);
    expect(ops).toEqual([{ kind: 'literal', bytes: target }]);
  });

  it('chooseBlockBytes keeps whichever form encodes smaller (property)', () => {
    fc.assert(
      fc.property(editedPair, ([base, target]) => {
        if (target.length === 0) return;
        const range = { rva: asRva(0x1000), length: Math.max(1, base.length) };
        const b = chooseBlockBytes(target, { range, bytes: base, sha256: new Uint8Array(32) });
        const literal = encodedBlockBytesSize({ kind: 'literal', bytes: target });
        expect(encodedBlockBytesSize(b)).toBeLessThanOrEqual(literal);
        if (b.kind === 'delta') {
          const r = applyDelta(base, b.ops, b.size);
          expect(r.ok && Buffer.from(r.value).equals(Buffer.from(target))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    // A lightly edited 2 KiB body is stored as a delta, a tiny one literally.
    const body = pseudoCode(2048, 3);
    const edited = body.slice();
    edited[100] = 0x90;
    expect(chooseBlockBytes(edited, { range: { rva: asRva(0x1000), length: 2048 }, bytes: body, sha256: new Uint8Array(32) }).kind).toBe('delta');
    const tiny = pseudoCode(12, 3);
    expect(chooseBlockBytes(tiny.map((x) => x ^ 1), { range: { rva: asRva(0x1000), length: 12 }, bytes: tiny, sha256: new Uint8Array(32) }).kind).toBe('literal');
  });

  it('refuses ops that read outside the base or produce the wrong length', () => {
    const base = new Uint8Array(16);
    const r1 = applyDelta(base, [{ kind: 'copy', offset: 10, length: 8 }]);
    expect(r1.ok ? 'ok' : r1.error.code).toBe('PKG_INVALID');
    const r2 = applyDelta(base, [{ kind: 'copy', offset: 0, length: 8 }], 9);
    expect(r2.ok ? 'ok' : r2.error.message).toBe('delta produces 8 bytes, declared 9');
    expect(checkDelta([{ kind: 'copy', offset: 0xffff_ffff, length: 0xffff_ffff }], 16, 0xffff_ffff).ok).toBe(false);
    expect(checkDelta([{ kind: 'literal', bytes: new Uint8Array(0) }], 16, 0).ok).toBe(false);
  });
});
