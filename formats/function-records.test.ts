/**
 * Function records since 2.1 (FORMAT.md, "Function records since 2.1"): after the marker a
 * changed function's new RVA is a shift change, a block id a step from the one before, sizes
 * its block already says are left out,
 * and so is the plain redirect of a changed function whose site the relied ranges cover. A
 * reader rebuilds the same package; a 2.0 reader refuses it (the marker); an implied redirect
 * is checked like a written one; and what the rules cannot say, or say at a cost, is written
 * in the 2.0 forms.
 */
import { describe, expect, it } from 'vitest';
import type { Rva } from '../common/types.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { loadPackage } from './container.ts';
import { hotpatch } from './generated/hotpatch.js';
import { packageToJson } from './json.ts';
import type { HotpatchPackage } from './package.ts';
import { fullPackage, minimalPackage } from './testing/sample-packages.ts';
import { wrapRaw } from './testing/wrap.ts';
import { validatePackage } from './validate.ts';

const roundTrip = (p: HotpatchPackage): unknown => {
  const back = decodePayload(encodePayload(p), 2);
  return back.ok ? packageToJson(back.value) : back.error.message;
};

describe('function records since 2.1', () => {
  it('leave out shifts, sizes and redirects the package already says, and read back the same package', async () => {
    const p = await fullPackage();
    const wire = hotpatch.Package.decode(encodePayload(p));
    expect(wire.functions[0]).toEqual({ status: 1 });
    const recs = wire.functions.slice(1);
    expect(recs.map((f) => f.name)).toEqual(p.functions.map((f) => f.name ?? ''));
    // Changed: no new RVA, the change of shift (0x10, 0x20 - 0x10, -0x90 - 0x20); added: its RVA.
    expect(recs.map((f) => [f.newRva ?? 0, f.shiftChange ?? 0])).toEqual([
      [0, 0x10],
      [0, 0x10],
      [0, -0xb0],
      [0x1400, 0],
    ]);
    // parse_port is a delta of its old body (base 0x1100+128): its old size is left out; clamp
    // (19 bytes) and the function at 80 in block 0 (51 bytes, block size 0x83) run to their
    // block's end: their new sizes are left out.
    expect(recs.map((f) => [f.oldSize ?? 0, f.newSize ?? 0])).toEqual([
      [64, 0],
      [0, 80],
      [48, 0],
      [0, 4],
    ]);
    // Blocks as steps from the record before: clamp in block 1 (step 1 + 1 from -1), then
    // block 0, block 0 again, block 1.
    expect(recs.map((f) => [f.blockId ?? 0, f.blockStep ?? 0])).toEqual([
      [0, 1],
      [0, -2],
      [0, -1],
      [0, 0],
    ]);
    // parse_port's redirect (E9, site covered) is implied; the others are written.
    expect(wire.redirects.map((r) => r.oldRva)).toEqual([0x1000, 0x1200]);
    expect(roundTrip(p)).toEqual(packageToJson(p));
  });

  it('a 2.0 reader refuses the package: it reads the marker as a changed function at RVA 0', async () => {
    const p = await fullPackage();
    // The 2.0 rules on { status: CHANGED }: old RVA 0, new RVA absent = the old one, sizes 0, block 0.
    const asRead20 = { ...p, functions: [{ name: null, oldRva: 0 as Rva, newRva: 0 as Rva, status: 'changed' as const, oldSize: 0, newSize: 0, blockId: 0, blockOffset: 0 }, ...p.functions] };
    const r = validatePackage(asRead20);
    expect(r.ok ? 'ok' : r.error.code).toBe('PKG_INVALID');
  });

  it('an implied redirect is checked as a written one: outside the relied ranges it is refused at load', async () => {
    const p = await fullPackage();
    // clamp's redirect as the compiler writes a covered E9 site (implied), then its site uncovered.
    const plain = p.redirects.map((r) => (r.oldRva === 0x1000 ? { ...r, kind: 'jmp-rel32' as const, expected: new Uint8Array(0) } : r));
    const uncovered = { ...p, target: { ...p.target, reliedRanges: p.target.reliedRanges.filter((r) => r.rva !== 0x1000) }, redirects: plain };
    const raw = encodePayload(uncovered);
    expect(hotpatch.Package.decode(raw).redirects.map((r) => r.oldRva)).toEqual([0x1200]);
    const r = await loadPackage(await wrapRaw(raw), { trusted: [], allowUnsigned: true });
    expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`).toMatch(/^PKG_INVALID: redirects\[0\].*relied/);
  });

  it('a one-function package keeps the 2.0 forms: the marker would cost more than it saves', async () => {
    const p = await minimalPackage();
    const wire = hotpatch.Package.decode(encodePayload(p));
    expect(wire.functions.map((f) => [f.status ?? 0, f.oldRva])).toEqual([[0, 0x1000]]);
    expect(roundTrip(p)).toEqual(packageToJson(p));
  });

  it('writes the 2.0 forms when the 2.1 rules cannot say the package', async () => {
    const p = await fullPackage();
    const cases: Array<readonly [string, HotpatchPackage]> = [
      ['redirects not in record order', { ...p, redirects: [p.redirects[1]!, p.redirects[0]!, p.redirects[2]!] }],
      ['a changed function without a redirect (invalid, and must stay so)', { ...p, redirects: p.redirects.filter((r) => r.oldRva !== 0x1100) }],
      ['an added function of size 0 where its block says more', { ...p, functions: p.functions.map((f, i) => (i === 3 ? { ...f, newSize: 0 } : f)) }],
      ['a block step past 31 bits', { ...p, codeBlocks: p.codeBlocks.map((b, i) => (i === 1 ? { ...b, id: 0xffff_fff0 } : b)), functions: p.functions.map((f) => (f.blockId === 1 ? { ...f, blockId: 0xffff_fff0 } : f)), redirects: p.redirects.map((r) => (r.target.blockId === 1 ? { ...r, target: { ...r.target, blockId: 0xffff_fff0 } } : r)) }],
      ['a shift past 31 bits', { ...p, functions: p.functions.map((f, i) => (i === 0 ? { ...f, newRva: (f.newRva + 0x8000_0000) as Rva } : f)) }],
    ];
    for (const [what, q] of cases) {
      const wire = hotpatch.Package.decode(encodePayload(q));
      expect(wire.functions.length, what).toBe(q.functions.length);
      expect(roundTrip(q), what).toEqual(packageToJson(q));
    }
  });
});
