/**
 * Format 2.3, unwind by reference, end to end on real sample pairs: the compiler stores a
 * changed function's unwind blob as a delta against its old function's unwind data
 * (compiler/emit/unwind-refs.ts); the package passes the paper verification (which opens it
 * with the runtime's own function and compares every UNWIND_INFO byte with NEW), goes through
 * the container, and applied to the in-memory process writes exactly the bytes (unwind info,
 * RUNTIME_FUNCTION table, everything) of the same package with literal unwind blobs (the 2.2
 * form, `literalUnwind`). An unvalidated package whose reference lies outside the relied ranges
 * or the image is refused before any write (PLAN_PACKAGE). On a real MSVC C++ module with
 * exception handler data (watcher 2.5.0 -> 2.5.1, the --skip-refused package, from the corpus
 * cache; skipped with the reason without it) the same holds, and the package is smaller.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asRva } from '../common/types.ts';
import { buildPackage, COMPILER_VERSION, diffFiles, emitPackage, verifyPackage } from '../compiler/index.ts';
import { encodePackage, loadPackage } from '../formats/container.ts';
import type { CodeBlock, HotpatchPackage } from '../formats/package.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { applyPackage } from '../runtime/apply/apply-package.ts';
import { fingerprint, loadSample, refusedUntouched, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { findPdataEntry, openUnwinds } from '../formats/unwind-ref.ts';

function must<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function viaFile(pkg: HotpatchPackage): Promise<HotpatchPackage> {
  return must(await loadPackage(must(await encodePackage(pkg)), { trusted: [], allowUnsigned: true })).package;
}

async function fileSize(pkg: HotpatchPackage): Promise<number> {
  return must(await encodePackage(pkg)).length;
}

const byReference = (pkg: HotpatchPackage): CodeBlock[] => pkg.codeBlocks.filter((b) => b.unwind?.infoDelta !== undefined);

/** The sample pair's package with unwind by reference (as the compiler builds it) and with literal unwind. */
function built(scenario: string, suffix: string): { ref: HotpatchPackage; literal: HotpatchPackage } {
  const opts = { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION } as const;
  const old = sampleBytes(scenario, `v1${suffix}.dll`);
  const neu = sampleBytes(scenario, `v2${suffix}.dll`);
  return { ref: must(buildPackage(old, neu, opts)).emitted.pkg, literal: must(buildPackage(old, neu, { ...opts, literalUnwind: true })).emitted.pkg };
}

describe('unwind by reference (format 2.3) applied to real samples', () => {
  // Changed functions whose unwind data is their old function's (the samples where the
  // reference is smaller than the literal blob, its relied range included).
  for (const [scenario, suffix] of [['bounds-check', '.clang'], ['tiny-function', '.clang']] as const) {
    it(`${scenario}${suffix}: writes exactly what the literal unwind form writes`, async () => {
      const { ref, literal } = built(scenario, suffix);
      expect(byReference(ref).length).toBeGreaterThan(0);
      expect(byReference(literal)).toEqual([]);
      expect(await fileSize(ref)).toBeLessThanOrEqual(await fileSize(literal));
      const prints: string[] = [];
      for (const pkg of [literal, ref]) {
        const { image, backend } = loadSample(scenario, `v1${suffix}.dll`);
        must(await applyPackage(await viaFile(pkg), backend));
        expect(image.functionTables.length).toBe(1);
        prints.push(fingerprint(image));
      }
      expect(prints[1]).toBe(prints[0]);
    });
  }

  it('unvalidated: a reference outside the relied ranges or the image is refused before any write', async () => {
    const { ref } = built('bounds-check', '.clang');
    const at = ref.codeBlocks.findIndex((b) => b.unwind?.infoDelta !== undefined);
    const b = ref.codeBlocks[at]!;
    const d = b.unwind!.infoDelta!;
    // The written base (a 2.8 base from the old .pdata is dropped: its rva is the one moved).
    const { basePdata: _, ...written } = b.unwind!;
    const moved = (rva: number): HotpatchPackage => ({ ...ref, codeBlocks: ref.codeBlocks.map((c, i) => (i === at ? { ...b, unwind: { ...written, infoDelta: { ...d, base: { ...d.base, rva: asRva(rva) } } } } : c)) });
    expect(await refusedUntouched(moved(d.base.rva + 0x100000), 'bounds-check', 'v1.clang.dll')).toMatch(/^PLAN_PACKAGE: unwind by reference: block \d+ unwind: base range 0x[0-9a-f]+\+\d+ is not covered by the relied ranges$/);
    // Covered by (forged) relied ranges past the image: refused at the relied ranges, before
    // the reference is read (formats/unwind-ref.test.ts: openUnwinds itself refuses it too).
    const past = moved(0xfff_0000);
    const forged = { ...past, target: { ...past.target, reliedRanges: [...past.target.reliedRanges, { rva: asRva(0xfff_0000), length: 0x1000 }] } };
    expect(await refusedUntouched(forged, 'bounds-check', 'v1.clang.dll')).toBe('PLAN_IDENTITY: package relies on bytes outside the image');
  });
});

const realPair = realPairs().find((p) => p.label === 'watcher-2.5.0-2.5.1');
const realOld = realPair === undefined ? undefined : fetchRealFile(realPair.old);
const realNew = realPair === undefined ? undefined : fetchRealFile(realPair.new);
const realMissing = !realOld?.ok || !realNew?.ok ? 'real corpus pair not available' : undefined;

describe.skipIf(realMissing !== undefined)(`unwind by reference on a real MSVC module (${realPair?.label ?? 'watcher'})${realMissing === undefined ? '' : `: skipped, ${realMissing}`}`, () => {
  it('applies to the same image as the literal form, verifies at those addresses, and is smaller', async () => {
    const o = new Uint8Array(readFileSync((realOld as { value: string }).value));
    const n = new Uint8Array(readFileSync((realNew as { value: string }).value));
    const d = must(diffFiles(o, n));
    const opts = { moduleName: 'watcher.node', skipRefused: true, series: null, compilerVersion: 'unwind-ref real test' } as const;
    const ref = must(emitPackage(d, opts)).pkg;
    const literal = must(emitPackage(d, { ...opts, literalUnwind: true })).pkg;
    expect(byReference(ref).length).toBeGreaterThan(0);
    expect(await fileSize(ref)).toBeLessThan(await fileSize(literal));
    const prints: string[] = [];
    for (const pkg of [literal, ref]) {
      const img = must(loadProcessImage(o, { name: 'watcher.node' }));
      const r = must(await applyPackage(await viaFile(pkg), new MemoryBackend(img)));
      const v = verifyPackage(d, pkg, { imageBase: img.base, regionBase: r.plan.region.address });
      expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toBe('verified');
      prints.push(fingerprint(img));
    }
    expect(prints[1]).toBe(prints[0]);
  }, 120_000);

  it('2.8: a base found through the old .pdata is read from pinned bytes only, and a wrong entry is rejected', async () => {
    const o = new Uint8Array(readFileSync((realOld as { value: string }).value));
    const d = must(diffFiles(o, new Uint8Array(readFileSync((realNew as { value: string }).value))));
    const pkg = must(emitPackage(d, { moduleName: 'watcher.node', skipRefused: true, series: null, compilerVersion: 'unwind-ref real test' })).pkg;
    const viaPdata = pkg.codeBlocks.filter((b) => b.unwind?.basePdata === true);
    expect(viaPdata.length).toBeGreaterThan(1);
    // On the wire the rva is left out: the loaded package has 0 there, and opens to the same blobs.
    const loaded = await viaFile(pkg);
    expect(loaded.codeBlocks.filter((b) => b.unwind?.basePdata === true).map((b) => b.unwind!.infoDelta!.base.rva)).toEqual(viaPdata.map(() => 0));
    const image = d.match.old.img.image;
    expect(must(openUnwinds(loaded, image)).codeBlocks.map((b) => b.unwind)).toEqual(must(openUnwinds(pkg, image)).codeBlocks.map((b) => b.unwind));
    // The found .pdata entry left out of the relied ranges: refused before any byte is read from it.
    const rec = (id: number) => pkg.functions.find((r) => r.blockId === id && r.status === 'changed')!;
    const entry = findPdataEntry(image, rec(viaPdata[0]!.id).oldRva!);
    if (typeof entry === 'string') throw new Error(entry);
    const [at] = entry.read[2]!;
    const cut = pkg.target.reliedRanges.flatMap((r) => (r.rva <= at && at < r.rva + r.length ? [{ rva: r.rva, length: at - r.rva }, { rva: asRva(at + 12), length: r.rva + r.length - at - 12 }].filter((x) => x.length > 0) : [r]));
    const opened = openUnwinds({ ...loaded, target: { ...loaded.target, reliedRanges: cut } }, image);
    expect(opened.ok ? 'opened' : opened.error.message).toMatch(/base from the old \.pdata: 0x[0-9a-f]+\+12 \(read to find the entry of 0x[0-9a-f]+\) is not covered by the relied ranges$/);
    // The record naming another carried function: its old UNWIND_INFO is read, and the verifier rejects the blob.
    const other = viaPdata.find((b) => rec(b.id).oldRva !== rec(viaPdata[0]!.id).oldRva)!;
    const moved = { ...pkg, functions: pkg.functions.map((r) => (r === rec(viaPdata[0]!.id) ? { ...r, oldRva: rec(other.id).oldRva } : r)) };
    const v = verifyPackage(d, moved);
    expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toMatch(/^VERIFY_MISMATCH: unwind by reference: block \d+ unwind: /);
  }, 120_000);
});
