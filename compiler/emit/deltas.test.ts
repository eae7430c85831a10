/**
 * Implicit fixups (format 1.2): the compiler drops the record of a reference its delta copies
 * from an old field that points at the same place, and the runtime's derivation
 * (formats/implicit-fixups.ts) plus the one fixup formula (runtime/pe/apply-fixups.ts) give
 * exactly the bytes the explicit fixups gave. Synthetic code on a real byte layout: an old
 * body with a call, a RIP-relative load and an absolute pointer, and a new body with bytes
 * inserted before them (so every field moves) and one reference re-targeted. And add ops:
 * edited runs at one alignment stored as byte differences, the result unchanged.
 */
import { describe, expect, it } from 'vitest';
import { ok } from '../../common/errors.ts';
import { asRva, asVa } from '../../common/types.ts';
import fc from 'fast-check';
import { applyDelta, checkDelta, encodeDelta } from '../../formats/delta.ts';
import { impliedFixups } from '../../formats/implicit-fixups.ts';
import type { Fixup } from '../../formats/package.ts';
import { validatePackage } from '../../formats/validate.ts';
import { minimalPackage } from '../../formats/testing/sample-packages.ts';
import { applyFixups } from '../../runtime/pe/apply-fixups.ts';
import { blockBytesFor, withAddOps, type OldImage } from './deltas.ts';

const IMAGE_BASE = 0x1_8000_0000n;
const BODY = 0x1000;

/** 40 bytes of filler code, then call rel32 (field at +41), lea rip (field at +48), more filler, then an abs64 (at +96). */
function body(callTarget: number, leaTarget: number, ptrTarget: number, at: number, inserted: number): Uint8Array {
  const b = new Uint8Array(128 + inserted);
  for (let i = 0; i < b.length; i++) b[i] = (i * 37 + 11) & 0xff;
  const v = new DataView(b.buffer);
  const o = inserted;
  b[o + 40] = 0xe8;
  v.setInt32(o + 41, callTarget - (at + o + 45), true);
  b.set([0x48, 0x8d, 0x05], o + 45);
  v.setInt32(o + 48, leaTarget - (at + o + 52), true);
  v.setBigUint64(o + 96, IMAGE_BASE + BigInt(ptrTarget), true);
  return b;
}

function oldImage(): OldImage {
  const image = new Uint8Array(0x4000);
  image.set(body(0x2000, 0x3000, 0x3100, BODY, 0), BODY);
  return { image, imageBase: IMAGE_BASE, sizeOfImage: image.length };
}

const fixupsAt = (inserted: number, call: number): Fixup[] => [
  { kind: 'rel32', offset: inserted + 41, target: { kind: 'image', rva: asRva(call) }, addend: -4n },
  { kind: 'rip-disp32', offset: inserted + 48, target: { kind: 'image', rva: asRva(0x3000) }, addend: -4n },
  { kind: 'abs64', offset: inserted + 96, target: { kind: 'image', rva: asRva(0x3100) }, addend: 0n },
];

/** The block's bytes at `va` with every fixup written, as the planner writes them. */
function written(bytes: Uint8Array, fixups: readonly Fixup[], va: bigint, load: bigint): Uint8Array {
  const resolved = fixups.map((f) => ({ kind: f.kind, offset: f.offset, addend: f.addend, symbol: ok(load + BigInt(f.target.kind === 'image' ? f.target.rva : 0)) }));
  const r = applyFixups(bytes, resolved, { blockId: 0, container: 'block', blockVa: asVa(va), unwindBase: asVa(load), imageBase: asVa(load) });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe('implicit fixups', () => {
  const old = oldImage();
  const VA = 0x7ff0_0000_0000n;
  const LOAD = 0x7ff0_4000_0000n; // the image loaded away from its preferred base, within 2 GB

  it('a moved body keeps its references implicitly, and the runtime derives the same bytes', () => {
    const inserted = 5;
    const nb = body(0, 0, 0, 0, inserted); // fields left wrong: the fixups write them
    const fx = fixupsAt(inserted, 0x2000);
    const enc = blockBytesFor(old, nb, fx, BODY - 64, BODY + 128 + 64, 64 - inserted);
    expect(enc.bytes.kind).toBe('delta');
    if (enc.bytes.kind !== 'delta') return;
    expect(enc.fixups).toEqual([]);
    expect(enc.bytes.implicit).toEqual({ rel32: [inserted + 41, inserted + 48], abs64: [inserted + 96] });

    const base = old.image.subarray(BODY - 64, BODY + 128 + 64);
    const bytes = applyDelta(base, enc.bytes.ops, enc.bytes.size);
    if (!bytes.ok) throw new Error('materialise failed');
    const implied = impliedFixups(enc.bytes, bytes.value, IMAGE_BASE, old.sizeOfImage);
    if (!implied.ok) throw new Error('materialise failed');
    expect(written(bytes.value, implied.value, VA, LOAD)).toEqual(written(nb, fx, VA, LOAD));
  });

  it('a reference the new code re-targets is a placed field (2.4): written as its old place would hold it, derived to the new target', () => {
    const nb = body(0, 0, 0, 0, 0);
    const fx = fixupsAt(0, 0x2400); // the call now goes elsewhere: the copy cannot bring it
    const enc = blockBytesFor(old, nb, fx, BODY - 64, BODY + 128 + 64, 64);
    if (enc.bytes.kind !== 'delta') throw new Error('expected a delta');
    expect(enc.fixups).toEqual([]);
    expect(enc.bytes.implicit).toEqual({ rel32: [41, 48], abs64: [96] });
    const base = old.image.subarray(BODY - 64, BODY + 128 + 64);
    const bytes = applyDelta(base, enc.bytes.ops, enc.bytes.size);
    if (!bytes.ok) throw new Error('materialise failed');
    const implied = impliedFixups(enc.bytes, bytes.value, IMAGE_BASE, old.sizeOfImage);
    if (!implied.ok) throw new Error(implied.error.message);
    expect(implied.value.find((f) => f.offset === 41)?.target).toEqual({ kind: 'image', rva: 0x2400 + 4 - 4 });
    expect(written(bytes.value, implied.value, VA, LOAD)).toEqual(written(nb, fx, VA, LOAD));
  });

  it('validation refuses implicit fields outside the block or over an explicit fixup; a field outside one copy op is a placed one (2.4)', async () => {
    const pkg = await minimalPackage();
    const range = { rva: asRva(0x1000), length: 0x80 };
    const delta = (implicit: { rel32: number[]; abs64: number[] }, fixups: Fixup[] = []) => ({
      ...pkg,
      codeBlocks: [{ ...pkg.codeBlocks[0]!, fixups, bytes: { kind: 'delta' as const, base: range, baseSha256: new Uint8Array(32), size: 20, ops: [{ kind: 'copy' as const, offset: 0, length: 10 }, { kind: 'literal' as const, bytes: new Uint8Array(10) }], implicit } }],
      target: { ...pkg.target, reliedRanges: [range] },
    });
    expect(validatePackage(delta({ rel32: [2], abs64: [] })).ok).toBe(true);
    expect(validatePackage(delta({ rel32: [8], abs64: [] })).ok).toBe(true);
    const outside = validatePackage(delta({ rel32: [18], abs64: [] }));
    expect(outside.ok ? '' : outside.error.message).toMatch(/outside the 20-byte block/);
    const over = validatePackage(delta({ rel32: [2], abs64: [] }, [{ kind: 'rel32', offset: 4, target: { kind: 'image', rva: asRva(0x1800) }, addend: -4n }]));
    expect(over.ok ? '' : over.error.message).toMatch(/overlaps/);
  });
});

describe('add ops (format 1.2)', () => {
  it('scattered field-offset edits become one add op, and the result is unchanged', () => {
    // 2 KB of code where every 64th byte's displacement moved by +8 (a struct field inserted).
    const base = new Uint8Array(2048);
    for (let i = 0; i < base.length; i++) base[i] = (i * 73 + 5) & 0xff;
    const target = base.slice();
    for (let i = 40; i < target.length; i += 64) target[i] = (target[i]! + 8) & 0xff;
    const ops = encodeDelta(base, target);
    const merged = withAddOps(base, ops);
    expect(ops.length).toBeGreaterThan(40);
    expect(merged.map((o) => o.kind)).toEqual(['add']);
    const out = applyDelta(base, merged, target.length);
    expect(out.ok && Buffer.from(out.value).equals(Buffer.from(target))).toBe(true);
  });

  it('withAddOps never changes what the delta produces (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.array(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 6 }), fc.boolean()), { maxLength: 8 }), (base, edits) => {
        const t = Array.from(base);
        for (const [pos, bytes, insert] of edits) t.splice(pos % (t.length + 1), insert ? 0 : bytes.length, ...bytes);
        const target = Uint8Array.from(t);
        const out = applyDelta(base, withAddOps(base, encodeDelta(base, target)), target.length);
        return out.ok && Buffer.from(out.value).equals(Buffer.from(target));
      }),
    );
  });

  it('an add op must stay inside its base', () => {
    const r = checkDelta([{ kind: 'add', offset: 10, bytes: new Uint8Array(8) }], 16, 8);
    expect(r.ok ? '' : r.error.message).toMatch(/outside its 16-byte base/);
  });
});
