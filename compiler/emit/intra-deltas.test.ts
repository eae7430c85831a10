/**
 * Intra-block references (format 2.1): the encoder lists branches and jump-table entries
 * whose displacement changed because code between source and target grew or shrank, and the
 * runtime's rule (formats/intra-refs.ts, materialiseDelta) rebuilds exactly the NEW bytes.
 * Round trip with fast-check over synthetic functions made of code runs, rel32 and rel8
 * branches to run starts and a relative jump table in another range (the extra base), edited
 * by inserting and deleting bytes; and the package with such a block passes validation.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asRva } from '../../common/types.ts';
import { baseRanges, materialiseDelta } from '../../formats/intra-refs.ts';
import { validatePackage } from '../../formats/validate.ts';
import { encodePayload, decodePayload } from '../../formats/codec.ts';
import { minimalPackage } from '../../formats/testing/sample-packages.ts';
import { blockBytesFor, type OldImage } from './deltas.ts';
import type { IntraCandidate } from './intra-deltas.ts';

const OLD_FN = 0x1000;
const OLD_TABLE = 0x3000;

/** A function: runs of filler, each followed by a branch (rel32 or rel8) to the start of run `to`. */
interface Shape {
  readonly runs: ReadonlyArray<{ readonly len: number; readonly seed: number; readonly to: number; readonly short: boolean }>;
}

/** Bytes of `s`, the field offsets, and the run starts (a jump table's targets). */
function layout(s: Shape, edit: ReadonlyMap<number, number>): { bytes: Uint8Array; fields: Array<{ at: number; short: boolean }>; starts: number[] } {
  const starts: number[] = [];
  let n = 0;
  s.runs.forEach((r, i) => {
    starts.push(n);
    n += r.len + (edit.get(i) ?? 0) + (r.short ? 2 : 5);
  });
  const bytes = new Uint8Array(n);
  const view = new DataView(bytes.buffer);
  const fields: Array<{ at: number; short: boolean }> = [];
  s.runs.forEach((r, i) => {
    let at = starts[i]!;
    const len = r.len + (edit.get(i) ?? 0);
    for (let k = 0; k < len; k++) bytes[at + k] = (r.seed * 131 + k * 29 + (k >= r.len ? 7 : 0)) & 0xff;
    at += len;
    const target = starts[r.to % starts.length]!;
    if (r.short) {
      const v = target - (at + 2);
      bytes[at] = 0xeb;
      view.setInt8(at + 1, Math.max(-128, Math.min(127, v)));
      if (v >= -128 && v <= 127) fields.push({ at: at + 1, short: true });
    } else {
      bytes[at] = 0xe9;
      view.setInt32(at + 1, target - (at + 5), true);
      fields.push({ at: at + 1, short: false });
    }
  });
  return { bytes, fields, starts };
}

const shape = fc.record({
  runs: fc.array(fc.record({ len: fc.integer({ min: 8, max: 60 }), seed: fc.nat(255), to: fc.nat(), short: fc.boolean() }), { minLength: 2, maxLength: 24 }),
});
const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 12 })), { maxLength: 4 });

describe('intra-block references (2.1)', () => {
  it('rebuild exactly the NEW bytes of edited functions (fast-check round trip)', () => {
    let listed = 0;
    fc.assert(
      fc.property(shape, edits, (s, e) => {
        const edit = new Map(e.map(([i, d]) => [i % s.runs.length, d] as const));
        const o = layout(s, new Map());
        const n = layout(s, edit);
        // Old image: the body at OLD_FN, its table (entries relative to the table) at OLD_TABLE.
        const image = new Uint8Array(0x4000);
        image.set(o.bytes, OLD_FN);
        const iv = new DataView(image.buffer);
        o.starts.forEach((st, k) => iv.setInt32(OLD_TABLE + 4 * k, OLD_FN + st - OLD_TABLE, true));
        const old: OldImage = { image, imageBase: 0x1_8000_0000n, sizeOfImage: image.length };
        // New block: code, then its table (4-aligned) with entries relative to it.
        const tableAt = (n.bytes.length + 3) & ~3;
        const block = new Uint8Array(tableAt + 4 * n.starts.length);
        block.set(n.bytes);
        n.starts.forEach((st, k) => new DataView(block.buffer).setInt32(tableAt + 4 * k, st - tableAt, true));
        const intra: IntraCandidate[] = [
          ...n.fields.map((f) => ({ kind: f.short ? ('rel8' as const) : ('rel32' as const), offset: f.at, count: 1, newRva: null })),
          { kind: 'table', offset: tableAt, count: n.starts.length, newRva: 0x5000, oldRva: OLD_TABLE },
        ];
        const enc = blockBytesFor(old, block, [], OLD_FN, OLD_FN + Math.max(o.bytes.length, block.length), 0, { intra, extra: [[OLD_TABLE, OLD_TABLE + 4 * o.starts.length]], selfId: 0 });
        if (enc.bytes.kind !== 'delta') return true; // the literal is trivially exact
        const ranges = baseRanges(enc.bytes);
        const base = new Uint8Array(ranges.reduce((k, r) => k + r.length, 0));
        let at = 0;
        for (const r of ranges) {
          base.set(image.subarray(r.rva, r.rva + r.length), at);
          at += r.length;
        }
        const got = materialiseDelta(enc.bytes, base);
        expect(got.ok && got.value).toEqual(block);
        const i = enc.bytes.intra;
        listed += i === undefined ? 0 : i.rel32.length + i.rel8.length + i.tables.length;
        return true;
      }),
      { numRuns: 200, seed: 14 },
    );
    // The property is not vacuous: edits moved displacements that the deltas listed.
    expect(listed).toBeGreaterThan(50);
  });

  it('a block with intra references and an extra base survives encoding, decoding and validation', async () => {
    const p = await minimalPackage();
    const delta = {
      kind: 'delta' as const,
      base: { rva: asRva(0x1000), length: 0x20 },
      baseSha256: new Uint8Array(32),
      size: 0x28,
      ops: [
        { kind: 'copy' as const, offset: 0, length: 0x20 },
        { kind: 'copy' as const, offset: 0x20, length: 8 },
      ],
      extraBase: [{ rva: asRva(0x1100), length: 8 }],
      intra: { rel32: [4], rel8: [12], tables: [{ offset: 0x20, count: 2, back: 0 }] },
    };
    const pkg = {
      ...p,
      target: { ...p.target, reliedRanges: [{ rva: asRva(0x1000), length: 0x108 }] },
      codeBlocks: p.codeBlocks.map((b, i) => (i === 0 ? { ...b, bytes: delta, fixups: [] } : b)),
    };
    const bytes = encodePayload(pkg);
    const back = decodePayload(bytes);
    const got = back.ok ? back.value.codeBlocks[0]!.bytes : null;
    expect(got?.kind === 'delta' && { ...got, baseSha256: [...got.baseSha256] }).toEqual({ ...delta, baseSha256: [...delta.baseSha256] });
    expect(validatePackage(pkg).ok).toBe(true);
    // An intra field past the block, and one overlapping an explicit fixup, are refused.
    const bad = (d: typeof delta, fixups = pkg.codeBlocks[0]!.fixups) => validatePackage({ ...pkg, codeBlocks: pkg.codeBlocks.map((b, i) => (i === 0 ? { ...b, bytes: d, fixups } : b)) });
    const past = bad({ ...delta, intra: { rel32: [0x26], rel8: [], tables: [] } });
    expect(!past.ok && past.error.message).toContain('outside the');
    const overlap = bad(delta, [{ kind: 'rel32', offset: 6, target: { kind: 'image', rva: asRva(0x1000) }, addend: -4n }]);
    expect(!overlap.ok && overlap.error.message).toContain('overlaps');
    const notRelied = validatePackage({ ...pkg, target: { ...pkg.target, reliedRanges: [{ rva: asRva(0x1000), length: 0x20 }] } });
    expect(!notRelied.ok && notRelied.error.message).toContain('extraBase[0]: not covered');
  });
});
