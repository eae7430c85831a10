/**
 * Moved fixups (format 2.3, formats/moves.ts): a delta field copied from an old call to a
 * changed function, or an old load from data a block replaces, is re-targeted to the new
 * counterpart; an old target the package does not move is refused. Since 2.5 the same holds
 * for 8-byte absolute fields (a pointer table in replaced read-only data).
 */
import { describe, expect, it } from 'vitest';
import type { Rva } from '../common/types.ts';
import { impliedFixups, type DeltaBytes } from './implicit-fixups.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { packageToJson } from './json.ts';
import { movedTarget, movesOf } from './moves.ts';
import { fullPackage } from './testing/sample-packages.ts';
import type { DataBlock, FunctionRecord } from './package.ts';

const rva = (n: number): Rva => n as Rva;
const record = (oldRva: number, blockId: number, blockOffset = 0): FunctionRecord => ({ name: null, oldRva: rva(oldRva), newRva: rva(oldRva), status: 'changed', oldSize: 16, newSize: 16, blockId, blockOffset });
const data = (id: number, r: number, length: number): DataBlock => ({ id, alignment: 8, bytes: { kind: 'literal', bytes: new Uint8Array(length) }, fixups: [], replaces: { rva: rva(r), length } });

describe('moved fixups', () => {
  const moves = movesOf({ functions: [record(0x2000, 1), { ...record(0x2100, 2), status: 'added', oldRva: null }], dataBlocks: [data(7, 0x5000, 0x40), data(8, 0x5100, 0x10)] });

  it('a changed function entry goes to its block; a place in a replaced range to the same offset; anything else nowhere', () => {
    expect(movedTarget(moves, 0x2000)).toEqual({ kind: 'block', blockId: 1, offset: 0 });
    expect(movedTarget(moves, 0x2001)).toBeNull();
    expect(movedTarget(moves, 0x2100)).toBeNull();
    expect(movedTarget(moves, 0x5008)).toEqual({ kind: 'block', blockId: 7, offset: 8 });
    expect(movedTarget(moves, 0x5040)).toBeNull();
    expect(movedTarget(moves, 0x510f)).toEqual({ kind: 'block', blockId: 8, offset: 15 });
  });

  it('impliedFixups reads the old field and re-targets it, or refuses an old target that did not move', () => {
    // Base at RVA 0x1000: a call (E8) to 0x2000 and a RIP-relative load of 0x5008 (+4 for a following imm32).
    const base = new Uint8Array(16);
    const v = new DataView(base.buffer);
    base[0] = 0xe8;
    v.setInt32(1, 0x2000 - 0x1005, true);
    v.setInt32(8, 0x5008 - 4 - (0x1008 + 4), true);
    const d: DeltaBytes = { kind: 'delta', base: { rva: rva(0x1000), length: 16 }, baseSha256: new Uint8Array(0), size: 16, ops: [{ kind: 'copy', offset: 0, length: 16 }], implicit: { rel32: [], abs64: [], moved: [1, 8] } };
    const r = impliedFixups(d, base, 0x1_8000_0000n, 0x10000, 'd', moves);
    expect(r.ok && r.value).toEqual([
      { kind: 'rel32', offset: 1, target: { kind: 'block', blockId: 1, offset: 0 }, addend: -4n },
      { kind: 'rel32', offset: 8, target: { kind: 'block', blockId: 7, offset: 4 }, addend: -4n },
    ]);
    const none = impliedFixups(d, base, 0x1_8000_0000n, 0x10000, 'd');
    expect(none.ok ? 'ok' : none.error.code).toBe('PKG_INVALID');
    v.setInt32(1, 0x2004 - 0x1005, true);
    const stray = impliedFixups(d, base, 0x1_8000_0000n, 0x10000, 'd', moves);
    expect(stray.ok ? 'ok' : stray.error.message).toMatch(/points at 0x2004, which the package does not move/);
  });

  it('2.5: an absolute field re-targets to the moved place with addend 0; its old value must point at a moved place', () => {
    // Base at RVA 0x5000 (block 7 replaces it): a pointer to 0x5030 in its own range, a pointer to changed function 0x2000.
    const base = new Uint8Array(0x40);
    const v = new DataView(base.buffer);
    v.setBigUint64(0, 0x1_8000_5030n, true);
    v.setBigUint64(8, 0x1_8000_2000n, true);
    const d: DeltaBytes = { kind: 'delta', base: { rva: rva(0x5000), length: 0x40 }, baseSha256: new Uint8Array(0), size: 0x40, ops: [{ kind: 'copy', offset: 0, length: 0x40 }], implicit: { rel32: [], abs64: [], moved64: [0, 8] } };
    const r = impliedFixups(d, base, 0x1_8000_0000n, 0x10000, 'd', moves);
    expect(r.ok && r.value).toEqual([
      { kind: 'abs64', offset: 0, target: { kind: 'block', blockId: 7, offset: 0x30 }, addend: 0n },
      { kind: 'abs64', offset: 8, target: { kind: 'block', blockId: 1, offset: 0 }, addend: 0n },
    ]);
    v.setBigUint64(8, 0x1_8000_2004n, true);
    const stray = impliedFixups(d, base, 0x1_8000_0000n, 0x10000, 'd', moves);
    expect(stray.ok ? 'ok' : stray.error.message).toMatch(/moved abs64 field at 8 .* points at 0x2004, which the package does not move/);
    v.setBigUint64(8, 0x5030n, true); // below the image base: no RVA at all
    const below = impliedFixups(d, base, 0x1_8000_0000n, 0x10000, 'd', moves);
    expect(below.ok ? 'ok' : below.error.code).toBe('PKG_INVALID');
  });

  it('2.5: a delta with moved absolute fields is written in its own storage and reads back the same', async () => {
    const p = await fullPackage();
    const i = p.codeBlocks.findIndex((b) => b.bytes.kind === 'delta');
    const b = p.codeBlocks[i]!;
    if (b.bytes.kind !== 'delta') throw new Error('no delta block in the full package');
    const taken = new Set((b.bytes.implicit?.rel32 ?? []).flatMap((o) => [o, o + 1, o + 2, o + 3]));
    let at = 0;
    while ([0, 1, 2, 3, 4, 5, 6, 7].some((k) => taken.has(at + k)) || b.fixups.some((f) => f.offset < at + 8 && at < f.offset + 8)) at++;
    const withMoved: typeof p = { ...p, codeBlocks: p.codeBlocks.map((c, k) => (k === i && c.bytes.kind === 'delta' ? { ...c, bytes: { ...c.bytes, implicit: { rel32: c.bytes.implicit?.rel32 ?? [], abs64: c.bytes.implicit?.abs64 ?? [], ...(c.bytes.implicit?.moved === undefined ? {} : { moved: c.bytes.implicit.moved }), moved64: [at] } } } : c)) };
    const raw = encodePayload(withMoved);
    const back = decodePayload(raw);
    if (!back.ok) throw new Error(back.error.message);
    expect(packageToJson(back.value)).toEqual(packageToJson(withMoved));
    expect(back.value.codeBlocks[i]!.bytes.kind === 'delta' && back.value.codeBlocks[i]!.bytes.implicit?.moved64).toEqual([at]);
    expect(Buffer.from(raw).includes(Buffer.from([0x32]))).toBe(true); // BlockBytes field 6, length-delimited: tag 0x32
  });
});
