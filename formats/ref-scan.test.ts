/**
 * Scanned references (format 2.6, formats/ref-scan.ts): the candidates a scan of a delta's
 * result finds (E8 rel32, RIP-relative 8B/8D/89/FF, inside one copy op), what each derives
 * (kept or moved), the skips, and every refusal: a skip that is no candidate, a candidate that
 * derives nothing, a scanned field under an explicit fixup or a listed one; and the wire form
 * (its own storage, which the codec reads back).
 */
import { describe, expect, it } from 'vitest';
import type { Rva } from '../common/types.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { impliedFixups, type DeltaBytes } from './implicit-fixups.ts';
import { packageToJson } from './json.ts';
import { movesOf } from './moves.ts';
import type { Fixup, FunctionRecord } from './package.ts';
import { expandRefScan, scanRefs } from './ref-scan.ts';
import { fullPackage } from './testing/sample-packages.ts';

const rva = (n: number): Rva => n as Rva;
const SIZE = 0x10000;
const BASE_RVA = 0x1000;
const none = movesOf({ functions: [], dataBlocks: [] });

/**
 * An old body at 0x1000: call 0x2000 (field at 1), mov rax, [rip -> 0x2800] (field at 8),
 * mov eax, 0x443322E8 (an E8 byte that leads no field: candidate at 14), lea rcx, [rip -> 0x2904]
 * (field at 20), ret.
 */
function body(): Uint8Array {
  const b = Uint8Array.of(0xe8, 0, 0, 0, 0, 0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xb8, 0xe8, 0x22, 0x33, 0x44, 0x48, 0x8d, 0x0d, 0, 0, 0, 0, 0xc3);
  const v = new DataView(b.buffer);
  v.setInt32(1, 0x2000 - (BASE_RVA + 5), true);
  v.setInt32(8, 0x2800 - (BASE_RVA + 12), true);
  v.setInt32(20, 0x2904 - (BASE_RVA + 24), true);
  return b;
}

const delta = (refScan: number[], ops: DeltaBytes['ops'] = [{ kind: 'copy', offset: 0, length: 25 }]): DeltaBytes => ({ kind: 'delta', base: { rva: rva(BASE_RVA), length: 25 }, baseSha256: new Uint8Array(0), size: 25, ops, refScan });

describe('scanned references', () => {
  it('finds calls and RIP-relative fields inside copy ops, including a false E8', () => {
    expect(scanRefs(delta([]), body())).toEqual([1, 8, 14, 20]);
    // A field whose leading byte or whose own bytes come from a literal op is no candidate.
    const split = delta([], [{ kind: 'literal', bytes: body().slice(0, 10) }, { kind: 'copy', offset: 10, length: 15 }]);
    expect(scanRefs(split, body())).toEqual([14, 20]);
  });

  it('lists every candidate but the skips as implicit fields that keep their old targets', () => {
    const r = expandRefScan(delta([14]), body(), none, SIZE, [], 'd');
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.refScan).toBeUndefined();
    expect(r.value.implicit?.rel32).toEqual([1, 8, 20]);
    const f = impliedFixups(r.value, body(), 0x1_8000_0000n, SIZE, 'd');
    if (!f.ok) throw new Error(f.error.message);
    expect(f.value.map((x) => [x.offset, x.target.kind === 'image' ? x.target.rva : -1])).toEqual([[1, 0x2000], [8, 0x2800], [20, 0x2904]]);
  });

  it('moves a field whose old target moved with the package', () => {
    const rec: FunctionRecord = { name: null, oldRva: rva(0x2000), newRva: rva(0x2000), status: 'changed', oldSize: 16, newSize: 16, blockId: 3, blockOffset: 0 };
    const r = expandRefScan(delta([14]), body(), movesOf({ functions: [rec], dataBlocks: [] }), SIZE, [], 'd');
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.implicit?.moved).toEqual([1]);
    expect(r.value.implicit?.rel32).toEqual([8, 20]);
  });

  it('refuses a skip that is no candidate, a candidate that derives nothing, and overlaps', () => {
    const stray = expandRefScan(delta([3, 14]), body(), none, SIZE, [], 'd');
    expect(!stray.ok && stray.error.message).toContain('skipped offset 3 is no scanned reference');
    // Unskipped, the false E8 reads 0x??443322 + ... : outside the image.
    const unskipped = expandRefScan(delta([]), body(), none, SIZE, [], 'd');
    expect(!unskipped.ok && unskipped.error.message).toContain('scanned field at 14');
    const fixup: Fixup = { kind: 'rip-disp32', offset: 8, target: { kind: 'image', rva: rva(0x2800) }, addend: -4n };
    const underFixup = expandRefScan(delta([14]), body(), none, SIZE, [fixup], 'd');
    expect(!underFixup.ok && underFixup.error.message).toContain('overlaps a scanned field');
    const listed = expandRefScan({ ...delta([14]), implicit: { rel32: [20], abs64: [] } }, body(), none, SIZE, [], 'd');
    expect(!listed.ok && listed.error.code).toBe('PKG_INVALID');
  });

  it('travels in its own storage and reads back the same', async () => {
    const p = await fullPackage();
    const b0 = p.codeBlocks[0]!;
    if (b0.bytes.kind !== 'delta') throw new Error('block 0 is no delta');
    const withScan = { ...p, codeBlocks: [{ ...b0, bytes: { ...b0.bytes, refScan: [0x21, 0x30] } }, ...p.codeBlocks.slice(1)] };
    const back = decodePayload(encodePayload(withScan));
    if (!back.ok) throw new Error(back.error.message);
    const d = back.value.codeBlocks[0]!.bytes;
    expect(d.kind === 'delta' && d.refScan).toEqual([0x21, 0x30]);
    expect(packageToJson(back.value)).toEqual(packageToJson(withScan));
  });
});

/**
 * Scanned literal references (format 2.9): the same body as one literal op over a base at
 * 0x1000 holding the old body. A literal candidate stands where the 8 bytes before it first
 * occur in the base (right after them), else at its placed source (base rva + offset here);
 * it derives an explicit REL32 fixup. Without the storage's flag a literal op holds no candidate.
 */
describe('scanned literal references (2.9)', () => {
  const literal = (refScan: number[], bytes = body()): DeltaBytes => ({ ...delta(refScan, [{ kind: 'literal', bytes }]), size: bytes.length, scanLiterals: true });
  const targets = (fs: readonly Fixup[]): Array<[number, number]> => fs.map((x) => [x.offset, x.target.kind === 'image' ? x.target.rva + Number(x.addend) + 4 : -1]);

  it('finds candidates inside literal ops only with scanLiterals', () => {
    expect(scanRefs(literal([]), body())).toEqual([1, 8, 14, 20]);
    const { scanLiterals: _, ...plain } = literal([]);
    expect(scanRefs(plain, body())).toEqual([]);
  });

  it('places each field after its context in the base, else at its placed source, and derives fixups', () => {
    const derived: Fixup[] = [];
    const r = expandRefScan(literal([14]), body(), none, SIZE, [], 'd', { base: body(), derived });
    if (!r.ok) throw new Error(r.error.message);
    expect([r.value.refScan, r.value.scanLiterals, r.value.implicit?.rel32]).toEqual([undefined, undefined, []]);
    expect(targets(derived)).toEqual([[1, 0x2000], [8, 0x2800], [20, 0x2904]]);
    // 8 new bytes in front: the first call has no context in the base (placed: 8 bytes on, so
    // its target moves with it); the later fields find theirs and keep the old targets.
    const shifted = new Uint8Array(33).fill(0x90);
    shifted.set(body(), 8);
    const moved: Fixup[] = [];
    const s = expandRefScan(literal([22], shifted), shifted, none, SIZE, [], 'd', { base: body(), derived: moved });
    if (!s.ok) throw new Error(s.error.message);
    expect(targets(moved)).toEqual([[9, 0x2008], [16, 0x2800], [28, 0x2904]]);
    const rec: FunctionRecord = { name: null, oldRva: rva(0x2000), newRva: rva(0x2000), status: 'changed', oldSize: 16, newSize: 16, blockId: 3, blockOffset: 0 };
    const toBlock: Fixup[] = [];
    expect(expandRefScan(literal([14]), body(), movesOf({ functions: [rec], dataBlocks: [] }), SIZE, [], 'd', { base: body(), derived: toBlock }).ok).toBe(true);
    expect(toBlock[0]).toEqual({ kind: 'rel32', offset: 1, target: { kind: 'block', blockId: 3, offset: 0 }, addend: -4n });
  });

  it('refuses a candidate that derives nothing, an overlap, and a scan without the base', () => {
    const unskipped = expandRefScan(literal([]), body(), none, SIZE, [], 'd', { base: body(), derived: [] });
    expect(!unskipped.ok && unskipped.error.message).toContain('scanned literal field at 14');
    const fixup: Fixup = { kind: 'rel32', offset: 1, target: { kind: 'image', rva: rva(0x2000) }, addend: -4n };
    const under = expandRefScan(literal([14]), body(), none, SIZE, [fixup], 'd', { base: body(), derived: [] });
    expect(!under.ok && under.error.message).toContain('overlaps a scanned field');
    const listed = expandRefScan({ ...literal([14]), implicit: { rel32: [20], abs64: [] } }, body(), none, SIZE, [], 'd', { base: body(), derived: [] });
    expect(!listed.ok && listed.error.code).toBe('PKG_INVALID');
    const blind = expandRefScan(literal([14]), body(), none, SIZE, [], 'd');
    expect(!blind.ok && blind.error.message).toContain('needs the base bytes');
  });

  it('travels in its own storage (8), which a reader without it refuses', async () => {
    const p = await fullPackage();
    const b0 = p.codeBlocks[0]!;
    if (b0.bytes.kind !== 'delta') throw new Error('block 0 is no delta');
    const withScan = { ...p, codeBlocks: [{ ...b0, bytes: { ...b0.bytes, refScan: [0x21], scanLiterals: true as const } }, ...p.codeBlocks.slice(1)] };
    const bytes = encodePayload(withScan);
    const back = decodePayload(bytes);
    if (!back.ok) throw new Error(back.error.message);
    const d = back.value.codeBlocks[0]!.bytes;
    expect(d.kind === 'delta' && [d.refScan, d.scanLiterals]).toEqual([[0x21], true]);
    expect(packageToJson(back.value)).toEqual(packageToJson(withScan));
    // Without a scan the flag has no storage of its own: the codec does not write it.
    const { refScan: _, ...noScan } = b0.bytes;
    const bad = decodePayload(encodePayload({ ...p, codeBlocks: [{ ...b0, bytes: { ...noScan, scanLiterals: true as const } }, ...p.codeBlocks.slice(1)] }));
    expect(bad.ok && bad.value.codeBlocks[0]!.bytes.kind === 'delta' && (bad.value.codeBlocks[0]!.bytes as DeltaBytes).scanLiterals).toBeFalsy();
  });
});
