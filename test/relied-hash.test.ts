/**
 * Format 2.8, the relied hash cut to 16 bytes (FORMAT.md, "TargetIdentity"): on a compiled
 * sample package whose changed functions are deltas of their old bodies (inline-fix, GCC and
 * clang), the compiler writes the first 16 bytes of the SHA-256 of the relied bytes; the file
 * loads, and applied to the in-memory process it reads through to NEW. The same package with
 * the whole 32-byte digest (what 1.x-2.7 wrote) still loads and applies. Claiming other relied
 * bytes (a package built for another build, one byte apart inside a relied range) is refused at
 * the relied hash (PLAN_IDENTITY) before any write, with 16 bytes as with 32; so is a hash whose
 * 16 bytes are right but whose 32-byte form differs in its second half.
 */
import { describe, expect, it } from 'vitest';
import { buildPackage, COMPILER_VERSION } from '../compiler/index.ts';
import { encodePackage, loadPackage } from '../formats/container.ts';
import { gather } from '../formats/delta-index.ts';
import { RELIED_HASH_LENGTH, type HotpatchPackage } from '../formats/package.ts';
import { applyPackage } from '../runtime/apply/apply-package.ts';
import { checkThroughRedirects } from '../runtime/apply/testing/check-redirects.ts';
import { loadSample, refusedUntouched, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { sha256 } from '../runtime/pe/sha256.ts';

function must<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

async function viaFile(pkg: HotpatchPackage): Promise<HotpatchPackage> {
  return must(await loadPackage(must(await encodePackage(pkg)), { trusted: [], allowUnsigned: true })).package;
}

const withHash = (p: HotpatchPackage, h: Uint8Array): HotpatchPackage => ({ ...p, target: { ...p.target, reliedSha256: h } });

describe('relied hash of 16 bytes (format 2.8)', () => {
  for (const suffix of ['', '.clang']) {
    const scenario = 'inline-fix';
    const [v1, v2] = [`v1${suffix}.dll`, `v2${suffix}.dll`];
    // The package, and OLD mapped at its preferred base (what the relied hash is over).
    const compiled = (): { pkg: HotpatchPackage; oldImage: Uint8Array } => {
      const b = must(buildPackage(sampleBytes(scenario, v1), sampleBytes(scenario, v2), { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION }));
      return { pkg: b.emitted.pkg, oldImage: b.diff.match.old.img.image };
    };

    it(`${scenario}${suffix}: the compiler writes 16 bytes, the start of the digest; 16 and 32 both apply and read through to NEW`, async () => {
      const { pkg, oldImage } = compiled();
      expect(pkg.target.reliedRanges.length).toBeGreaterThan(0);
      expect(pkg.target.reliedSha256.length).toBe(RELIED_HASH_LENGTH);
      const digest = sha256(gather(oldImage, pkg.target.reliedRanges)!);
      expect(Buffer.from(pkg.target.reliedSha256).equals(Buffer.from(digest.subarray(0, 16)))).toBe(true);
      for (const p of [pkg, withHash(pkg, digest)]) {
        const { image, backend } = loadSample(scenario, v1);
        const loaded = await viaFile(p);
        expect(loaded.target.reliedSha256.length).toBe(p.target.reliedSha256.length);
        const r = must(await applyPackage(loaded, backend));
        const names = p.functions.filter((f) => f.status === 'changed' && f.name !== null).map((f) => f.name!);
        expect(checkThroughRedirects(image, r.plan, sampleBytes(scenario, v1), sampleBytes(scenario, v2), names)).toEqual([]);
      }
    });

    it(`${scenario}${suffix}: a package for another build (one relied byte apart) is refused at the hash, 16 bytes or 32`, async () => {
      const { pkg, oldImage } = compiled();
      const img = oldImage.slice();
      const r = pkg.target.reliedRanges[0]!;
      img[r.rva + Math.floor(r.length / 2)] = img[r.rva + Math.floor(r.length / 2)]! ^ 0x01;
      const other = sha256(gather(img, pkg.target.reliedRanges)!);
      for (const h of [other.slice(0, RELIED_HASH_LENGTH), other]) {
        expect(await refusedUntouched(await viaFile(withHash(pkg, h)), scenario, v1)).toMatch(/^PLAN_IDENTITY: package is for another build: relied-on bytes hash /);
      }
      // The right 16 bytes in a 32-byte hash whose second half is wrong: all 32 are compared.
      const right = sha256(gather(oldImage, pkg.target.reliedRanges)!);
      const half = Uint8Array.from([...right.subarray(0, 16), ...other.subarray(16)]);
      expect(await refusedUntouched(await viaFile(withHash(pkg, half)), scenario, v1)).toMatch(/^PLAN_IDENTITY: /);
    });
  }
});

