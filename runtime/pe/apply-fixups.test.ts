/**
 * applyFixups (the wasm core's applyFixups export): each kind's formula and the exact edges of
 * its range check, field bounds, the order of checks, and the planner's error wording.
 * Expected values are worked out by hand from formats/FORMAT.md's table.
 */
import { describe, expect, it } from 'vitest';
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa } from '../../common/types.ts';
import type { FixupKind } from '../../formats/package.ts';
import { applyFixups, type FixupContainer, type ResolvedFixup } from './apply-fixups.ts';
import { rawParser } from './wasm.ts';

const BLOCK_VA = 0x1_4000_1000n;
const at = (blockVa: bigint = BLOCK_VA, unwindBase = 0x1_4000_0000n, imageBase = 0x1_4000_0000n): FixupContainer => ({ blockId: 7, container: 'block', blockVa: asVa(blockVa), unwindBase: asVa(unwindBase), imageBase: asVa(imageBase) });
const fx = (kind: FixupKind, offset: number, symbol: bigint | Result<bigint>, addend = 0n): ResolvedFixup => ({ kind, offset, addend, symbol: typeof symbol === 'bigint' ? ok(symbol) : symbol });

function bytesOf(r: Result<Uint8Array>): number[] {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return [...r.value];
}
function errorOf(r: Result<Uint8Array>): { code: string; message: string } {
  if (r.ok) throw new Error(`expected a refusal, got ${[...r.value].join(',')}`);
  return { code: r.error.code, message: r.error.message };
}

describe('applyFixups: formulas', () => {
  it('rel32: S + A - P as int32 at the field, the rest of the block untouched, the input not modified', () => {
    const block = new Uint8Array([0xe8, 0xaa, 0xbb, 0xcc, 0xdd, 0x90]);
    // call at block+0 to 0x1_4000_2000: P = BLOCK_VA + 1, A = -4 -> 0x2000 - 0x1000 - 1 - 4 = 0xffb.
    const r = applyFixups(block, [fx('rel32', 1, 0x1_4000_2000n, -4n)], at());
    expect(bytesOf(r)).toEqual([0xe8, 0xfb, 0x0f, 0x00, 0x00, 0x90]);
    expect([...block]).toEqual([0xe8, 0xaa, 0xbb, 0xcc, 0xdd, 0x90]);
  });

  it('rel32 and rip-disp32 at both int32 limits, and one past each', () => {
    const p = BLOCK_VA;
    for (const kind of ['rel32', 'rip-disp32'] as const) {
      expect(bytesOf(applyFixups(new Uint8Array(4), [fx(kind, 0, p + 0x7fff_ffffn)], at()))).toEqual([0xff, 0xff, 0xff, 0x7f]);
      expect(bytesOf(applyFixups(new Uint8Array(4), [fx(kind, 0, p - 0x8000_0000n)], at()))).toEqual([0x00, 0x00, 0x00, 0x80]);
      expect(errorOf(applyFixups(new Uint8Array(4), [fx(kind, 0, p + 0x8000_0000n)], at()))).toEqual({
        code: 'PLAN_FIXUP_RANGE',
        message: `block 7 fixup 0: ${kind} to 0x1c0001000 does not reach from 0x140001000`,
      });
      expect(errorOf(applyFixups(new Uint8Array(4), [fx(kind, 0, p, -0x8000_0001n)], at())).code).toBe('PLAN_FIXUP_RANGE');
    }
  });

  it('rel8 at -128 and 127, and one past each', () => {
    const p = BLOCK_VA + 1n;
    expect(bytesOf(applyFixups(new Uint8Array([0xeb, 0]), [fx('rel8', 1, p + 127n)], at()))).toEqual([0xeb, 0x7f]);
    expect(bytesOf(applyFixups(new Uint8Array([0xeb, 0]), [fx('rel8', 1, p, -128n)], at()))).toEqual([0xeb, 0x80]);
    expect(errorOf(applyFixups(new Uint8Array(2), [fx('rel8', 1, p + 128n)], at()))).toEqual({ code: 'PLAN_FIXUP_RANGE', message: 'block 7 fixup 0: rel8 to 0x140001081 does not reach from 0x140001001' });
    expect(errorOf(applyFixups(new Uint8Array(2), [fx('rel8', 1, p, -129n)], at())).code).toBe('PLAN_FIXUP_RANGE');
  });

  it('abs64: S + A over the whole uint64 range, refused below 0 and above 2^64 - 1', () => {
    expect(bytesOf(applyFixups(new Uint8Array(8), [fx('abs64', 0, 0x1_4000_3000n, 0x10n)], at()))).toEqual([0x10, 0x30, 0x00, 0x40, 0x01, 0, 0, 0]);
    expect(bytesOf(applyFixups(new Uint8Array(8), [fx('abs64', 0, 0xffff_ffff_ffff_fff0n, 0xfn)], at()))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(bytesOf(applyFixups(new Uint8Array(8), [fx('abs64', 0, 5n, -5n)], at()))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(errorOf(applyFixups(new Uint8Array(8), [fx('abs64', 0, 5n, -6n)], at()))).toEqual({ code: 'PLAN_FIXUP_RANGE', message: 'block 7 fixup 0: abs64 value out of range' });
    expect(errorOf(applyFixups(new Uint8Array(8), [fx('abs64', 0, 0xffff_ffff_ffff_fff0n, 0x10n)], at())).code).toBe('PLAN_FIXUP_RANGE');
  });

  it('addr32nb: S + A - B within [0, 2^32 - 1]', () => {
    const base = 0x1_4000_0000n;
    expect(bytesOf(applyFixups(new Uint8Array(4), [fx('addr32nb', 0, base + 0x1234n)], at(BLOCK_VA, base)))).toEqual([0x34, 0x12, 0, 0]);
    expect(bytesOf(applyFixups(new Uint8Array(4), [fx('addr32nb', 0, base + 0xffff_ffffn)], at(BLOCK_VA, base)))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(errorOf(applyFixups(new Uint8Array(4), [fx('addr32nb', 0, base - 1n)], at(BLOCK_VA, base)))).toEqual({
      code: 'PLAN_FIXUP_RANGE',
      message: 'block 7 fixup 0: addr32nb to 0x13fffffff is not within 4 GB above 0x140000000',
    });
    expect(errorOf(applyFixups(new Uint8Array(4), [fx('addr32nb', 0, base + 0x1_0000_0000n)], at(BLOCK_VA, base))).code).toBe('PLAN_FIXUP_RANGE');
  });

  it('imagerel32: S + A - L (L = image load base) within [0, 2^31 - 1], in code blocks', () => {
    const image = 0x7ff6_1000_0000n;
    const where = at(image + 0x5000_0000n, image, image);
    expect(bytesOf(applyFixups(new Uint8Array(4), [fx('imagerel32', 0, image + 0x1234n)], where))).toEqual([0x34, 0x12, 0, 0]);
    expect(bytesOf(applyFixups(new Uint8Array(4), [fx('imagerel32', 0, image + 0x5000_0000n, 0x10n)], where))).toEqual([0x10, 0, 0, 0x50]);
    expect(bytesOf(applyFixups(new Uint8Array(4), [fx('imagerel32', 0, image + 0x7fff_ffffn)], where))).toEqual([0xff, 0xff, 0xff, 0x7f]);
    expect(errorOf(applyFixups(new Uint8Array(4), [fx('imagerel32', 0, image + 0x8000_0000n)], where))).toEqual({
      code: 'PLAN_FIXUP_RANGE',
      message: 'block 7 fixup 0: imagerel32 to 0x7ff690000000 is not within 2 GB above the image base 0x7ff610000000',
    });
    // Below the image base: a negative disp32 would work, a zero-extended table entry would not.
    expect(errorOf(applyFixups(new Uint8Array(4), [fx('imagerel32', 0, image - 1n)], where)).code).toBe('PLAN_FIXUP_RANGE');
    // L is the image base, not the unwind base nor the field's address.
    expect(bytesOf(applyFixups(new Uint8Array(4), [fx('imagerel32', 0, image + 0x20n)], at(image + 0x5000_0000n, image - 0x1000n, image)))).toEqual([0x20, 0, 0, 0]);
  });

  it('fixups apply in order (a later field overwrites an earlier one) and an empty list returns the block', () => {
    const r = applyFixups(new Uint8Array(8), [fx('abs64', 0, 0x1122_3344_5566_7788n), fx('rel8', 0, BLOCK_VA + 5n)], at());
    expect(bytesOf(r)).toEqual([0x05, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(bytesOf(applyFixups(new Uint8Array([1, 2, 3]), [], at()))).toEqual([1, 2, 3]);
  });
});

describe('applyFixups: refusals', () => {
  it('a field that runs past its container, with the wording of each container', () => {
    expect(errorOf(applyFixups(new Uint8Array(7), [fx('abs64', 0, 0n)], at()))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 fixup 0: field at 0x0 runs past the block' });
    expect(errorOf(applyFixups(new Uint8Array(4), [fx('rel8', 3, BLOCK_VA), fx('rel32', 1, BLOCK_VA)], at()))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 fixup 1: field at 0x1 runs past the block' });
    expect(errorOf(applyFixups(new Uint8Array(4), [fx('rel8', 0xffff_ffff, BLOCK_VA)], at()))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 fixup 0: field at 0xffffffff runs past the block' });
    expect(errorOf(applyFixups(new Uint8Array(0), [fx('rel8', 0, BLOCK_VA)], at()))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 fixup 0: field at 0x0 runs past the block' });
    expect(errorOf(applyFixups(new Uint8Array(2), [fx('addr32nb', 0, 0n)], { ...at(), container: 'unwind' }))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 unwind fixup 0: field runs past the unwind info' });
  });

  it('checks in the planner order: earlier fixups first; for one fixup the field, then its target, then the reach', () => {
    const target = err('PLAN_FIXUP', 'block 7 fixup 1: import 3 does not exist');
    // Fixup 0 out of reach comes before fixup 1's unresolved target.
    expect(errorOf(applyFixups(new Uint8Array(8), [fx('rel8', 0, BLOCK_VA + 1000n), fx('rel32', 2, target)], at())).code).toBe('PLAN_FIXUP_RANGE');
    // Field in range: the target error.
    expect(errorOf(applyFixups(new Uint8Array(8), [fx('rel8', 0, BLOCK_VA), fx('rel32', 2, target)], at()))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 fixup 1: import 3 does not exist' });
    // Field out of range: the field error, not the target's.
    expect(errorOf(applyFixups(new Uint8Array(8), [fx('rel8', 0, BLOCK_VA), fx('rel32', 6, target)], at()))).toEqual({ code: 'PLAN_FIXUP', message: 'block 7 fixup 1: field at 0x6 runs past the block' });
    // Fixups after the unresolved one are never looked at.
    expect(errorOf(applyFixups(new Uint8Array(8), [fx('rel32', 0, target), fx('rel8', 100, BLOCK_VA)], at())).message).toBe('block 7 fixup 1: import 3 does not exist');
  });

  it('the raw binding refuses malformed records with a structured error (never a trap)', () => {
    const rec = (kind: number, flags = 0, offset = 0n): Uint8Array => {
      const b = new Uint8Array(32);
      const dv = new DataView(b.buffer);
      dv.setUint8(0, kind);
      dv.setUint8(1, flags);
      dv.setBigUint64(8, offset, true);
      return b;
    };
    const cat = (...xs: Uint8Array[]): Uint8Array => {
      const out = new Uint8Array(xs.reduce((n, x) => n + x.length, 0));
      let o = 0;
      for (const x of xs) (out.set(x, o), (o += x.length));
      return out;
    };
    const call = (records: Uint8Array, container: 0 | 1 = 0): { status: number; text: string } => {
      const r = rawParser.applyFixups(new Uint8Array(16), records, BLOCK_VA, 0n, 0n, 3, container);
      return r.status === 0 ? { status: 0, text: new TextDecoder().decode(r.data) } : r;
    };
    const msg = (records: Uint8Array, container: 0 | 1 = 0): unknown => {
      const r = call(records, container);
      expect(r.status).toBe(1);
      return JSON.parse(r.text);
    };
    expect(msg(new Uint8Array(31))).toEqual({ code: 'PLAN_FIXUP', message: 'fixup list of 31 bytes is not a whole number of 32-byte records' });
    expect(msg(rec(0))).toEqual({ code: 'PLAN_FIXUP', message: 'block 3 fixup 0: kind 0 is not a fixup kind' });
    expect(msg(rec(7))).toEqual({ code: 'PLAN_FIXUP', message: 'block 3 fixup 0: kind 7 is not a fixup kind' });
    expect(msg(rec(1, 2))).toEqual({ code: 'PLAN_FIXUP', message: 'block 3 fixup 0: reserved bits are set in its record' });
    expect(msg(cat(rec(1, 1), rec(1)))).toEqual({ code: 'PLAN_FIXUP', message: 'block 3 fixup 0: an unresolved fixup must be the last record' });
    expect(msg(rec(1, 0, 0xffff_ffff_ffff_fffen))).toEqual({ code: 'PLAN_FIXUP', message: 'block 3 fixup 0: field at 0xfffffffffffffffe runs past the block' });
    expect(msg(rec(1), 2 as 0)).toEqual({ code: 'PLAN_FIXUP', message: 'container 2 is neither a block (0) nor unwind info (1)' });
    // An unresolved last record whose field fits: the bytes so far, unchanged past it.
    expect(call(cat(rec(3, 0, 8n), rec(1, 1, 12n))).status).toBe(0);
  });

  it('inputs outside the contract (offset, addend, address) are programmer bugs and throw', () => {
    expect(() => applyFixups(new Uint8Array(4), [fx('rel8', -1, 0n)], at())).toThrow(RangeError);
    expect(() => applyFixups(new Uint8Array(4), [fx('rel8', 0, 0n, 1n << 63n)], at())).toThrow(RangeError);
    expect(() => applyFixups(new Uint8Array(4), [fx('rel8', 0, 1n << 64n)], at())).toThrow(RangeError);
  });
});
