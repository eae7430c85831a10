/**
 * Format 2.2, sealed bytes, end to end on real sample pairs: the compiler's package with its
 * literal blocks sealed against OLD (compiler/emit/seal.ts, forced even where it would not pay)
 * passes the paper verification (which opens the frame with the runtime's own function), goes
 * through the container, and applied to the in-memory process leaves exactly the same image as
 * the unsealed package, and reads through to NEW; so does a package whose delta blocks sealing put
 * back literal (seal.ts literal forms), smaller than sealed without them. Built for another build whose bytes differ
 * inside a dictionary range only, it is refused at the relied hash (PLAN_IDENTITY) before the
 * frame is decoded; an unvalidated package whose frame is cut, or whose dictionary range lies
 * outside the relied ranges, is refused before any write (PLAN_PACKAGE), never a throw.
 * Fixup fields filled with other bytes (what sealing may store there) apply to the same image.
 * On a real MSVC module (sharp 0.34.4 -> 0.34.5, the --skip-refused package, from the corpus
 * cache; skipped with the reason without it): the sealed package applies to the same image as
 * the unsealed one, passes the verifier at the addresses used, and reverts exactly; its delta
 * blocks' add ops are sealed too.
 */
import { describe, expect, it } from 'vitest';
import { asRva } from '../common/types.ts';
import { readFileSync } from 'node:fs';
import { buildPackage, COMPILER_VERSION, diffFiles, emitPackage, sealBuilt, sealPackage, verifyPackage, type BuiltPackage } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { fillFixupFields } from '../compiler/emit/seal.ts';
import { encodePackage, loadPackage } from '../formats/container.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { applyPackage, revertPackage } from '../runtime/apply/apply-package.ts';
import { checkThroughRedirects } from '../runtime/apply/testing/check-redirects.ts';
import { fingerprint, loadSample, refusedUntouched, sampleBytes } from '../runtime/apply/testing/fixtures.ts';

function must<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function viaFile(pkg: HotpatchPackage): Promise<HotpatchPackage> {
  return must(await loadPackage(must(await encodePackage(pkg)), { trusted: [], allowUnsigned: true })).package;
}

/** The sample pair's package as built, and sealed (forced). */
/** Applies each package to a fresh v1 of `scenario`, checks every changed function reads through to v2, and returns the distinct image fingerprints (one when all wrote the same). */
async function appliedThroughV2(scenario: string, pkgs: readonly HotpatchPackage[]): Promise<string[]> {
  const images = new Set<string>();
  for (const pkg of pkgs) {
    const { image, backend } = loadSample(scenario, 'v1.dll');
    const r = await applyPackage(await viaFile(pkg), backend);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    const names = pkg.functions.filter((f) => f.status === 'changed' && f.name !== null).map((f) => f.name!);
    expect(checkThroughRedirects(image, r.value.plan, sampleBytes(scenario, 'v1.dll'), sampleBytes(scenario, 'v2.dll'), names)).toEqual([]);
    images.add(fingerprint(image));
  }
  return [...images];
}

async function built(scenario: string): Promise<{ plain: BuiltPackage; sealed: BuiltPackage }> {
  const plain = must(buildPackage(sampleBytes(scenario, 'v1.dll'), sampleBytes(scenario, 'v2.dll'), { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION }));
  const sealed = must(await sealBuilt(plain, undefined, { force: true }));
  return { plain, sealed };
}

describe('sealed bytes (format 2.2) applied to real samples', () => {
  for (const scenario of ['new-helper', 'switch-table', 'string-change', 'new-catch']) {
    it(`${scenario}: the sealed package verifies and applies to the same image as the unsealed one`, async () => {
      const { plain, sealed } = await built(scenario);
      const s = sealed.emitted.pkg;
      expect(s.sealed).toBeDefined();
      expect([...s.codeBlocks, ...s.dataBlocks].some((b) => b.bytes.kind === 'sealed')).toBe(true);
      expect([...s.codeBlocks, ...s.dataBlocks].some((b) => b.bytes.kind === 'literal')).toBe(false);
      expect(await appliedThroughV2(scenario, [plain.emitted.pkg, s])).toHaveLength(1);
    });
  }

  it('switch-table: delta blocks put back literal where that seals smaller verify, apply like the unsealed package and read through to v2', async () => {
    const scenario = 'switch-table';
    const plain = must(buildPackage(sampleBytes(scenario, 'v1.dll'), sampleBytes(scenario, 'v2.dll'), { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION }));
    const forms = plain.emitted.literalForms ?? [];
    expect(forms.length).toBeGreaterThan(0);
    const chosen = must(await sealBuilt(plain));
    const s = chosen.emitted.pkg;
    // Some block the emitted package stored as a delta is literal (sealed) now ...
    const back = forms.filter((f) => [...s.codeBlocks, ...s.dataBlocks].some((b) => b.id === f.blockId && b.bytes.kind !== 'delta'));
    expect(back.length).toBeGreaterThan(0);
    // ... because the file is smaller that way than sealed without the literal forms.
    const without = must(await sealPackage(plain.diff.match.old.img, plain.emitted.pkg));
    expect(must(await encodePackage(s)).length).toBeLessThan(must(await encodePackage(without)).length);
    expect(await appliedThroughV2(scenario, [plain.emitted.pkg, s])).toHaveLength(1);
  });

  it('fixup fields filled from the dictionary (what sealing may store there) change nothing the runtime writes', async () => {
    const { plain } = await built('new-helper');
    const pkg = plain.emitted.pkg;
    const block = pkg.codeBlocks.find((b) => b.bytes.kind === 'literal' && b.fixups.some((f) => f.offset >= 8))!;
    if (block.bytes.kind !== 'literal') throw new Error('literal block expected');
    // A dictionary holding the block with other bytes in its fields: filling copies them in.
    const dict = block.bytes.bytes.slice();
    for (const f of block.fixups) dict.fill(0xa5, f.offset, f.offset + 4);
    const filled = fillFixupFields(pkg, Uint8Array.from([...dict, ...new Uint8Array(16)]));
    const after = filled.codeBlocks.find((b) => b.id === block.id)!.bytes;
    const f = block.fixups.find((x) => x.offset >= 8)!;
    expect(after.kind === 'literal' && Array.from(after.bytes.subarray(f.offset, f.offset + 4))).toEqual([0xa5, 0xa5, 0xa5, 0xa5]);
    const images: string[] = [];
    for (const p of [pkg, filled]) {
      const { image, backend } = loadSample('new-helper', 'v1.dll');
      must(await applyPackage(await viaFile(p), backend));
      images.push(fingerprint(image));
    }
    expect(images[1]).toBe(images[0]);
  });

  it('another build differing only inside a dictionary range: refused at the relied hash, before any write', async () => {
    const { sealed } = await built('new-helper');
    const pkg = sealed.emitted.pkg;
    const d = pkg.sealed!.dictionary[0]!;
    // The same package claiming a different byte there: what a package for another build is.
    const img = sealed.diff.match.old.img.image.slice();
    img[d.rva + Math.floor(d.length / 2)] = img[d.rva + Math.floor(d.length / 2)]! ^ 0x01;
    const { sha256 } = await import('../runtime/pe/sha256.ts');
    const { gather } = await import('../formats/delta-index.ts');
    const other = { ...pkg, target: { ...pkg.target, reliedSha256: sha256(gather(img, pkg.target.reliedRanges)!) } };
    expect(await refusedUntouched(await viaFile(other))).toMatch(/^PLAN_IDENTITY: package is for another build: relied-on bytes hash /);
  });

  it('unvalidated: a cut frame, or a dictionary outside the relied ranges, is refused before any write', async () => {
    const { sealed } = await built('new-helper');
    const pkg = sealed.emitted.pkg;
    const z = pkg.sealed!;
    const cut = { ...pkg, sealed: { ...z, frame: z.frame.subarray(0, z.frame.length - 3) } };
    expect(await refusedUntouched(cut)).toMatch(/^PLAN_PACKAGE: sealed bytes: sealed frame: zstd data is corrupt/);
    const outside: HotpatchPackage = { ...pkg, sealed: { ...z, dictionary: [{ ...z.dictionary[0]!, rva: asRva(z.dictionary[0]!.rva + 0x100000) }] } };
    expect(await refusedUntouched(outside)).toMatch(/^PLAN_PACKAGE: sealed bytes: sealed dictionary range 0x[0-9a-f]+\+\d+ is not covered by the relied ranges$/);
    const noFrame: HotpatchPackage = { ...pkg };
    delete (noFrame as { sealed?: unknown }).sealed;
    expect(await refusedUntouched(noFrame)).toMatch(/^PLAN_PACKAGE: sealed bytes: sealed blocks, and the package has no sealed frame$/);
  });
});

const realPair = realPairs().find((p) => p.label === 'sharp-0.34.4-0.34.5');
const realOld = realPair === undefined ? undefined : fetchRealFile(realPair.old);
const realNew = realPair === undefined ? undefined : fetchRealFile(realPair.new);
const realMissing = !realOld?.ok || !realNew?.ok ? 'real corpus pair not available' : undefined;

describe.skipIf(realMissing !== undefined)(`sealed bytes on a real MSVC module (${realPair?.label ?? 'sharp'})${realMissing === undefined ? '' : `: skipped, ${realMissing}`}`, () => {
  it('the sealed package applies to the same image as the unsealed one, verifies at those addresses, and reverts exactly', async () => {
    const o = new Uint8Array(readFileSync((realOld as { value: string }).value));
    const n = new Uint8Array(readFileSync((realNew as { value: string }).value));
    const d = must(diffFiles(o, n));
    const e = must(emitPackage(d, { moduleName: 'sharp-win32-x64.node', skipRefused: true, series: null, compilerVersion: 'sealed real test' }));
    const sealed = must(await sealPackage(d.match.old.img, e.pkg, { force: true }));
    expect(sealed.sealed).toBeDefined();
    // Its delta blocks' add ops are in the frame too (2.2; this package's deltas hold no literal op).
    const ops = sealed.codeBlocks.flatMap((b) => (b.bytes.kind === 'delta' ? b.bytes.ops : []));
    expect(ops.some((op) => op.kind === 'sealed-add')).toBe(true);
    expect(ops.some((op) => op.kind === 'add' || op.kind === 'literal')).toBe(false);
    const prints: string[] = [];
    for (const pkg of [e.pkg, sealed]) {
      const img = must(loadProcessImage(o, { name: 'sharp.node' }));
      const backend = new MemoryBackend(img);
      const before = fingerprint(img);
      const r = must(await applyPackage(await viaFile(pkg), backend));
      const v = verifyPackage(d, pkg, { imageBase: img.base, regionBase: r.plan.region.address });
      expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toBe('verified');
      prints.push(fingerprint(img));
      expect((await revertPackage(r.plan, backend)).ok).toBe(true);
      expect(fingerprint(img)).toBe(before);
    }
    expect(prints[1]).toBe(prints[0]);
  }, 120_000);
});
