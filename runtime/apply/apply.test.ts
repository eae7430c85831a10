/**
 * The runtime on real sample DLLs in the in-memory process image: apply, read through the
 * redirects, revert; a fault at every step leaves the process identical; 10,000 cycles;
 * refusals execute zero steps; the thread rule; series; a rebased image.
 */
import { describe, expect, it } from 'vitest';
import { asRva, asVa, type Va } from '../../common/types.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { parsePe } from '../pe/parse-pe.ts';
import type { ProcessBackend } from '../plan/backend.ts';
import { planPackage } from '../plan/plan-package.ts';
import { PAGE_EXECUTE_READ, PAGE_READONLY, SUPERSEDED_CODE, type WritePlan } from '../plan/write-plan.ts';
import { applyPackage, revertPackage } from './apply-package.ts';
import { applyPlan, revertPlan } from './execute-plan.ts';
import { checkThroughRedirects } from './testing/check-redirects.ts';
import { fingerprint, loadSample, refusedUntouched, sampleBytes } from './testing/fixtures.ts';
import { buildHandPackage, symbolRva } from './testing/hand-package.ts';

const v1 = sampleBytes('new-helper', 'v1.dll');
const v2 = sampleBytes('new-helper', 'v2.dll');
const helperPkg = (): HotpatchPackage => buildHandPackage(v1, v2, { changed: ['average_percent'], added: ['clamp_percent'] });

async function planFor(pkg: HotpatchPackage, scenario = 'new-helper', file = 'v1.dll', current: WritePlan | null = null): Promise<WritePlan> {
  const { backend } = loadSample(scenario, file);
  if (current !== null) {
    const a = await applyPlan(backend, current);
    if (!a.ok) throw new Error(a.error.message);
  }
  const r = await planPackage(pkg, backend, { current });
  if (!r.ok) throw new Error(r.error.message);
  return r.value.plan;
}

describe('apply to the in-memory process image', () => {
  it('the through-redirect check (testing/check-redirects.ts) reports a body unlike NEW, a changed byte and a missing redirect', async () => {
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const r = await applyPackage(helperPkg(), backend);
    if (!r.ok) throw new Error(r.error.message);
    const plan = r.value.plan;
    // Checked against v1 as if it were NEW: the patched body is v2's, not v1's.
    expect(checkThroughRedirects(image, plan, v1, v1, ['average_percent']).length).toBeGreaterThan(0);
    const poke = (va: bigint, f: (b: number) => number): void => {
      const region = image.space.regionAt(asVa(va))!;
      const i = Number(va - region.base);
      region.bytes[i] = f(region.bytes[i]!);
    };
    const body = plan.functions.find((f) => f.name === 'average_percent')!.bodyVa;
    poke(body, (b) => b ^ 0xff);
    expect(checkThroughRedirects(image, plan, v1, v2, ['average_percent'])).toContainEqual(expect.stringMatching(/^average_percent\+0: /));
    poke(body, (b) => b ^ 0xff);
    expect(checkThroughRedirects(image, plan, v1, v2, ['average_percent'])).toEqual([]);
    const site = plan.redirects.find((x) => x.name === 'average_percent')!.writes[0]!;
    site.original.forEach((b, k) => poke(site.address + BigInt(k), () => b));
    expect(checkThroughRedirects(image, plan, v1, v2, ['average_percent'])).toEqual(['average_percent: no jump to a new body at the old entry']);
  });
  it('redirects the old entry to the new body; read through the redirect the function equals the new one', async () => {
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const r = await applyPackage(helperPkg(), backend);
    if (!r.ok) throw new Error(r.error.message);
    const plan = r.value.plan;
    expect(checkThroughRedirects(image, plan, v1, v2, ['average_percent'])).toEqual([]);
    // The call to the added helper reaches the helper's body in the patch region.
    const clamp = plan.functions.find((f) => f.name === 'clamp_percent')!;
    expect(clamp.bodyVa >= plan.region.address && clamp.bodyVa < plan.region.address + BigInt(plan.region.size)).toBe(true);
    // Region within rel32 reach of the image, code pages execute-read, data read-only.
    expect(plan.region.address - image.base < 0x7fff_ffffn).toBe(true);
    expect(image.space.query(plan.region.address, 1)).toEqual({ ok: true, value: [{ address: plan.region.address, size: 0x1000, protection: PAGE_EXECUTE_READ }] });
    expect(image.space.query(asVa(plan.region.address + BigInt(plan.region.codeSize)), 1).ok && image.space.query(asVa(plan.region.address + BigInt(plan.region.codeSize)), 1)).toMatchObject({ value: [{ protection: PAGE_READONLY }] });
    // The redirect site's page is back to execute-read (as the loader left .text).
    const v1pe = parsePe(v1);
    if (!v1pe.ok) throw new Error(v1pe.error.message);
    const entry = asVa(image.base + BigInt(symbolRva(v1pe.value, 'average_percent')!));
    expect(image.space.query(entry, 1)).toMatchObject({ value: [{ protection: PAGE_EXECUTE_READ }] });
    // Unwind data registered: two RUNTIME_FUNCTIONs covering the new bodies, relative to the unwind base.
    expect(image.functionTables).toHaveLength(1);
    const t = image.functionTables[0]!;
    const table = image.space.read(t.table, t.entryCount * 12);
    if (!table.ok) throw new Error(table.error.message);
    const dv = new DataView(table.value.buffer);
    const begins = [0, 1].map((i) => t.base + BigInt(dv.getUint32(i * 12, true)));
    expect(begins).toEqual(plan.functions.map((f) => f.bodyVa));
    const ends = [0, 1].map((i) => t.base + BigInt(dv.getUint32(i * 12 + 4, true)));
    expect(ends).toEqual(plan.functions.map((f) => f.bodyVa + BigInt(f.size)));
  });

  it('revert restores every byte and protection and frees the region', async () => {
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const before = fingerprint(image);
    const r = await applyPackage(helperPkg(), backend);
    if (!r.ok) throw new Error(r.error.message);
    expect(fingerprint(image)).not.toBe(before);
    const back = await revertPackage(r.value.plan, backend);
    expect(back.ok).toBe(true);
    expect(fingerprint(image)).toBe(before);
    expect(image.space.regionAt(r.value.plan.region.address)).toBeUndefined();
  });

  it('works on an image loaded away from its preferred base (relocated bytes, same package)', async () => {
    const preferred = parsePe(v1);
    if (!preferred.ok) throw new Error(preferred.error.message);
    const base = asVa(preferred.value.optionalHeader.imageBase + 0x1234_0000n);
    const { image, backend } = loadSample('new-helper', 'v1.dll', base);
    const before = fingerprint(image);
    const r = await applyPackage(helperPkg(), backend);
    if (!r.ok) throw new Error(r.error.message);
    expect(image.base).toBe(base);
    expect(checkThroughRedirects(image, r.value.plan, v1, v2, ['average_percent'])).toEqual([]);
    expect((await revertPackage(r.value.plan, backend)).ok).toBe(true);
    expect(fingerprint(image)).toBe(before);
  });

  it('a fault at each step of apply leaves the process identical (bytes, protections, allocations, tables)', async () => {
    const plan = await planFor(helperPkg());
    expect(plan.steps.length).toBeGreaterThan(8);
    for (let k = 0; k < plan.steps.length; k++) {
      const { image, backend } = loadSample('new-helper', 'v1.dll');
      const before = fingerprint(image);
      backend.injectFault(k);
      const r = await applyPlan(backend, plan);
      expect(r.ok, `fault at step ${k}`).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('APPLY_FAULT_INJECTED');
      expect(fingerprint(image), `state after fault at step ${k} (${plan.steps[k]!.op})`).toBe(before);
      expect(backend.suspended).toBe(false);
    }
  });

  it('a backend that throws mid-apply (a broken agent pipe) is a failed step: rolled back, APPLY_BACKEND', async () => {
    const plan = await planFor(helperPkg());
    for (const k of [1, 5, plan.steps.findIndex((s) => s.op === 'redirect')]) {
      const { image, backend } = loadSample('new-helper', 'v1.dll');
      const before = fingerprint(image);
      let calls = 0;
      const throwing: ProcessBackend = {
        kind: 'throwing',
        module: backend.module,
        read: (a, n) => backend.read(a, n),
        queryProtection: (a, n) => backend.queryProtection(a, n),
        findFreeRegion: (near, n) => backend.findFreeRegion(near, n),
        resolveImport: (d, n, o) => backend.resolveImport(d, n, o),
        execute: (step) => {
          if (calls++ === k) throw new Error('agent pipe closed');
          return backend.execute(step);
        },
      };
      const r = await applyPlan(throwing, plan);
      expect(r.ok ? 'applied' : `${r.error.code}: ${r.error.message}`).toBe(`APPLY_BACKEND: step ${k} (${plan.steps[k]!.op}): backend throwing threw during ${plan.steps[k]!.op}: agent pipe closed`);
      expect(fingerprint(image)).toBe(before);
    }
  });

  it('a fault at each step of revert leaves the patched process as it was', async () => {
    const plan = await planFor(helperPkg());
    for (let k = 0; k < plan.revert.length; k++) {
      const { image, backend } = loadSample('new-helper', 'v1.dll');
      expect((await applyPlan(backend, plan)).ok).toBe(true);
      const applied = fingerprint(image);
      backend.injectFault(k);
      const r = await revertPlan(backend, plan);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('REVERT_FAULT_INJECTED');
      expect(fingerprint(image), `state after revert fault at step ${k} (${plan.revert[k]!.op})`).toBe(applied);
    }
  });

  it('10,000 apply/revert cycles leave the image byte-identical', async () => {
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const before = fingerprint(image);
    const first = await applyPackage(helperPkg(), backend);
    if (!first.ok) throw new Error(first.error.message);
    const applied = fingerprint(image);
    const plan = first.value.plan;
    expect((await revertPlan(backend, plan)).ok).toBe(true);
    for (let i = 1; i < 10_000; i++) {
      const a = await applyPlan(backend, plan);
      if (!a.ok) throw new Error(`cycle ${i}: ${a.error.message}`);
      if (i % 2500 === 0) expect(fingerprint(image)).toBe(applied);
      const b = await revertPlan(backend, plan);
      if (!b.ok) throw new Error(`cycle ${i}: ${b.error.message}`);
    }
    expect(fingerprint(image)).toBe(before);
    expect(image.space.list()).toHaveLength(2); // the image and its import stubs, nothing leaked
  });
});

describe('refusals execute no step', () => {
  const refused = refusedUntouched;

  it('a package for another build (wrong target) is refused naming what differs', async () => {
    const msg = await refused(helperPkg(), 'logic-fix', 'v1.dll');
    const mine = parsePe(v1);
    const other = parsePe(sampleBytes('logic-fix', 'v1.dll'));
    if (!mine.ok || !other.ok) throw new Error('parse');
    const differs = (what: string, a: number, b: number): string => (a === b ? '' : `${what} 0x${a.toString(16)} in package, 0x${b.toString(16)} in image`);
    const expected = [
      differs('SizeOfImage', mine.value.optionalHeader.sizeOfImage, other.value.optionalHeader.sizeOfImage),
      differs('CheckSum', mine.value.optionalHeader.checkSum, other.value.optionalHeader.checkSum),
    ].filter((x) => x !== '');
    expect(expected.length).toBeGreaterThan(0);
    expect(msg).toBe(`PLAN_IDENTITY: package is for another build: ${expected.join('; ')}`);
  });

  it('a tampered identity field is refused and named', async () => {
    const p = helperPkg();
    const msg = await refused({ ...p, target: { ...p.target, timeDateStamp: p.target.timeDateStamp + 1 } });
    expect(msg).toMatch(/^PLAN_IDENTITY: .*TimeDateStamp 0x1 in package, 0x0 in image/);
  });

  it('tampered relied-on bytes hash is refused', async () => {
    const p = helperPkg();
    const h = p.target.reliedSha256.slice();
    h[0] = h[0]! ^ 1;
    expect(await refused({ ...p, target: { ...p.target, reliedSha256: h } })).toMatch(/^PLAN_IDENTITY: .*relied-on bytes hash/);
  });

  it('a redirect whose original bytes differ is refused', async () => {
    const p = helperPkg();
    const r0 = p.redirects[0]!;
    const expected = r0.expected.slice();
    expected[4] = expected[4]! ^ 0xff;
    expect(await refused({ ...p, redirects: [{ ...r0, expected }] })).toMatch(/^PLAN_ORIGINAL_BYTES: redirect site 0x/);
  });

  it('a fixup to a block that does not exist is refused', async () => {
    const p = helperPkg();
    const c0 = p.codeBlocks[0]!;
    const f0 = c0.fixups[0]!;
    const bad = { ...c0, fixups: [{ ...f0, target: { kind: 'block' as const, blockId: 99, offset: 0 } }] };
    expect(await refused({ ...p, codeBlocks: [bad, ...p.codeBlocks.slice(1)] })).toMatch(/^PLAN_FIXUP: block 0 fixup 0: target block 99/);
  });

  it('a rel32 fixup that cannot reach is refused (overflow checked)', async () => {
    const p = helperPkg();
    const c0 = p.codeBlocks[0]!;
    const f0 = c0.fixups[0]!;
    const bad = { ...c0, fixups: [{ ...f0, addend: 0x1_0000_0000n }] };
    expect(await refused({ ...p, codeBlocks: [bad, ...p.codeBlocks.slice(1)] })).toMatch(/^PLAN_FIXUP_RANGE: /);
  });
});

describe('the thread rule (Detours): threads inside bytes being replaced', () => {
  it('apply waits while a thread sits in the redirect site, then proceeds when it leaves', async () => {
    const plan = await planFor(helperPkg());
    const site = plan.redirects[0]!.writes[0]!.address;
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    let calls = 0;
    image.threadIps = (): Va[] => (++calls <= 3 ? [asVa(site + 2n)] : [asVa(site + 0x40n)]);
    const r = await applyPlan(backend, plan);
    expect(r.ok).toBe(true);
    expect(backend.lastSuspendAttempts).toBe(4);
  });

  it('a thread elsewhere in the function (not in the replaced bytes) does not delay apply', async () => {
    const plan = await planFor(helperPkg());
    const site = plan.redirects[0]!.writes[0]!.address;
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    image.threadIps = (): Va[] => [asVa(site + 5n), asVa(site + 0x20n)];
    expect((await applyPlan(backend, plan)).ok).toBe(true);
    expect(backend.lastSuspendAttempts).toBe(1);
  });

  it('a thread that never leaves makes apply refuse after bounded retries, image identical', async () => {
    const plan = await planFor(helperPkg());
    const site = plan.redirects[0]!.writes[0]!.address;
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const before = fingerprint(image);
    image.threadIps = (): Va[] => [site];
    const r = await applyPlan(backend, plan);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/a thread is executing at 0x[0-9a-f]+, inside bytes being replaced, after 50 attempts/);
    expect(backend.lastSuspendAttempts).toBe(50);
    expect(fingerprint(image)).toBe(before);
  });

  it('revert succeeds while a thread runs inside the patch region, and keeps the region allocated', async () => {
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const baseline = fingerprint(image);
    const r = await applyPackage(helperPkg(), backend, { threadAttempts: 3, retryDelayMs: 0 });
    if (!r.ok) throw new Error(r.error.message);
    const { region } = r.value.plan;
    image.threadIps = (): Va[] => [asVa(r.value.plan.functions[1]!.bodyVa + 3n)];
    const back = await revertPackage(r.value.plan, backend);
    if (!back.ok) throw new Error(back.error.message);
    // Every redirect site holds its original bytes again; the region the thread runs in is kept.
    for (const x of r.value.plan.redirects) for (const w of x.writes) expect(image.space.read(w.address, w.original.length)).toEqual({ ok: true, value: w.original });
    expect(backend.kept).toEqual([region.address]);
    expect(image.space.regionAt(region.address)?.base).toBe(region.address);
    expect(fingerprint(image)).not.toBe(baseline);
    // Once the thread has left, the region is released by the next free of it.
    image.threadIps = (): Va[] => [];
    expect((await backend.execute({ op: 'free', address: region.address, size: region.size })).ok).toBe(true);
    expect(fingerprint(image)).toBe(baseline);
  });
});

describe('series', () => {
  const s1 = sampleBytes('series', 'v1.dll');
  const s2 = sampleBytes('series', 'v2.dll');
  const s3 = sampleBytes('series', 'v3.dll');
  const seq1 = (): HotpatchPackage => buildHandPackage(s1, s2, { changed: ['word_count'], baseline: 'series-v1', sequence: 1 });
  const seq2 = (): HotpatchPackage => buildHandPackage(s1, s3, { changed: ['word_count', 'vowel_count'], baseline: 'series-v1', sequence: 2 });

  it('sequence 2 supersedes 1: redirects re-pointed, the old region freed; revert returns to the baseline', async () => {
    const { image, backend } = loadSample('series', 'v1.dll');
    const baseline = fingerprint(image);
    const a1 = await applyPackage(seq1(), backend);
    if (!a1.ok) throw new Error(a1.error.message);
    expect(checkThroughRedirects(image, a1.value.plan, s1, s2, ['word_count'])).toEqual([]);
    const a2 = await applyPackage(seq2(), backend, { current: a1.value.plan });
    if (!a2.ok) throw new Error(a2.error.message);
    expect(a2.value.plan.supersedes).toBe(1);
    expect(checkThroughRedirects(image, a2.value.plan, s1, s3, ['word_count', 'vowel_count'])).toEqual([]);
    expect(image.space.regionAt(a1.value.plan.region.address)).toBeUndefined();
    expect(image.functionTables.map((t) => t.table)).toEqual([a2.value.plan.unwind!.table]);
    expect((await revertPackage(a2.value.plan, backend)).ok).toBe(true);
    expect(fingerprint(image)).toBe(baseline);
  });

  it('a superseding apply and a revert avoid only the bytes they write; the superseded region is quiescent only beside quiescent ranges', async () => {
    const { image, backend } = loadSample('series', 'v1.dll');
    const a1 = await applyPackage(seq1(), backend);
    if (!a1.ok) throw new Error(a1.error.message);
    const r1 = a1.value.plan.region;
    const inRegion = (x: { start: Va; size: number }, r: { address: Va; size: number }): boolean => x.start < r.address + BigInt(r.size) && r.address < x.start + BigInt(x.size);
    const suspendOf = (steps: WritePlan['steps']) => {
      const s = steps.find((x) => x.op === 'suspend-threads');
      if (s?.op !== 'suspend-threads') throw new Error('no suspend-threads step');
      return s;
    };
    // No quiescent range in the package: a thread running sequence 1's code in its region is left
    // to run (the region's free is deferred until no thread references it).
    const plain = await planPackage(seq2(), backend, { current: a1.value.plan });
    if (!plain.ok) throw new Error(plain.error.message);
    const s = suspendOf(plain.value.plan.steps);
    expect(s.avoid.length).toBeGreaterThan(0);
    expect(s.avoid.filter((x) => inRegion(x, r1))).toEqual([]);
    expect(s.quiescent).toBeUndefined();
    // With one (an entry that reads an argument old callers did not pass), sequence 1's code is such
    // a caller as far as the runtime knows: the whole region joins the quiescent ranges.
    const wc = plain.value.plan.redirects.find((x) => x.name === 'word_count')!;
    const q = await planPackage({ ...seq2(), quiescent: [{ rva: asRva(Number(wc.functionVa - image.base)), length: 5 }] }, backend, { current: a1.value.plan });
    if (!q.ok) throw new Error(q.error.message);
    expect(suspendOf(q.value.plan.steps).quiescent?.map((x) => [x.start, x.size, x.name])).toEqual([
      [wc.functionVa, 5, 'word_count'],
      [r1.address, r1.size, SUPERSEDED_CODE],
    ]);
    // A revert puts back its own bytes only; a thread inside its region runs on (revertSteps).
    const rv = suspendOf(a1.value.plan.revert);
    expect(rv.avoid.filter((x) => inRegion(x, r1))).toEqual([]);
    expect(rv.avoid.length).toBe(a1.value.plan.redirects.length);
  });

  it('a fault at each step of a superseding apply leaves sequence 1 in place', async () => {
    const p1 = await planFor(seq1(), 'series');
    const p2 = await planFor(seq2(), 'series', 'v1.dll', p1);
    for (let k = 0; k < p2.steps.length; k++) {
      const { image, backend } = loadSample('series', 'v1.dll');
      expect((await applyPlan(backend, p1)).ok).toBe(true);
      const withSeq1 = fingerprint(image);
      backend.injectFault(k);
      expect((await applyPlan(backend, p2)).ok).toBe(false);
      expect(fingerprint(image), `fault at step ${k} (${p2.steps[k]!.op})`).toBe(withSeq1);
    }
  });

  it('the same or an older sequence, or another series, is refused before any write', async () => {
    const { image, backend } = loadSample('series', 'v1.dll');
    const a2 = await applyPackage(seq2(), backend);
    if (!a2.ok) throw new Error(a2.error.message);
    const state = fingerprint(image);
    const executed = backend.executed;
    const again = await applyPackage(seq2(), backend, { current: a2.value.plan });
    const older = await applyPackage(seq1(), backend, { current: a2.value.plan });
    const other = await applyPackage(buildHandPackage(s1, s2, { changed: ['word_count'], baseline: 'other', sequence: 3 }), backend, { current: a2.value.plan });
    expect(again.ok || older.ok || other.ok).toBe(false);
    if (!again.ok) expect(again.error.message).toBe('package sequence 2 is not newer than the applied sequence 2');
    if (!older.ok) expect(older.error.code).toBe('PLAN_SEQUENCE');
    if (!other.ok) expect(other.error.code).toBe('PLAN_SERIES');
    expect(backend.executed).toBe(executed);
    expect(fingerprint(image)).toBe(state);
  });
});

describe('short functions: a 2-byte jump into padding', () => {
  const t1 = sampleBytes('tiny-function', 'v1.dll');
  const t2 = sampleBytes('tiny-function', 'v2.dll');
  const tinyPkg = (): HotpatchPackage => buildHandPackage(t1, t2, { changed: ['feature_level'], shortToPad: ['feature_level'] });

  it('writes EB rel8 at the 3-byte function and E9 rel32 in its padding; reads through to the new body', async () => {
    const { image, backend } = loadSample('tiny-function', 'v1.dll');
    const before = fingerprint(image);
    const r = await applyPackage(tinyPkg(), backend);
    if (!r.ok) throw new Error(r.error.message);
    const red = r.value.plan.redirects[0]!;
    expect(red.kind).toBe('short-to-pad');
    // Pad first (dead bytes, harmless to write early), then the 2 bytes at the entry.
    expect(red.writes.map((w) => w.bytes.length)).toEqual([5, 2]);
    expect(red.writes[1]!.address).toBe(red.functionVa);
    expect(red.writes[1]!.bytes[0]).toBe(0xeb);
    expect(checkThroughRedirects(image, r.value.plan, t1, t2, ['feature_level'])).toEqual([]);
    // The ret right after the two replaced bytes is untouched: a thread there is safe.
    expect(image.space.read(asVa(red.functionVa + 2n), 1)).toEqual({ ok: true, value: new Uint8Array([0xc3]) });
    expect((await revertPackage(r.value.plan, backend)).ok).toBe(true);
    expect(fingerprint(image)).toBe(before);
  });

  it('a thread on the ret after the jump does not block; a thread on the first two bytes does', async () => {
    const plan = await planFor(tinyPkg(), 'tiny-function');
    const entry = plan.redirects[0]!.functionVa;
    const a = loadSample('tiny-function', 'v1.dll');
    a.image.threadIps = (): Va[] => [asVa(entry + 2n)];
    expect((await applyPlan(a.backend, plan)).ok).toBe(true);
    const b = loadSample('tiny-function', 'v1.dll');
    b.image.threadIps = (): Va[] => [asVa(entry + 1n)];
    const refused = await applyPlan(b.backend, { ...plan, steps: plan.steps.map((s) => (s.op === 'suspend-threads' ? { ...s, attempts: 3, retryDelayMs: 0 } : s)) });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.code).toBe('APPLY_THREAD_BUSY');
  });

  it('a fault at each step leaves the process identical', async () => {
    const plan = await planFor(tinyPkg(), 'tiny-function');
    for (let k = 0; k < plan.steps.length; k++) {
      const { image, backend } = loadSample('tiny-function', 'v1.dll');
      const before = fingerprint(image);
      backend.injectFault(k);
      expect((await applyPlan(backend, plan)).ok).toBe(false);
      expect(fingerprint(image), `fault at step ${k} (${plan.steps[k]!.op})`).toBe(before);
    }
  });
});
