/**
 * Moved fixups (format 2.3, formats/moves.ts): a delta field copied from an old call to a
 * changed function, or an old load from data a block replaces, is re-targeted to the new
 * counterpart; an old target the package does not move is refused.
 */
import { describe, expect, it } from 'vitest';
import type { Rva } from '../common/types.ts';
import { impliedFixups, type DeltaBytes } from './implicit-fixups.ts';
import { movedTarget, movesOf } from './moves.ts';
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
});
