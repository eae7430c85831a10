/**
 * Applies packages, each through an encode/load round trip, to fresh in-memory images of one
 * sample's old DLL and returns the images' fingerprints: two forms of one package must print
 * the same (test/ref-scan-apply.test.ts, test/literal-scan-apply.test.ts).
 */
import { encodePackage, loadPackage } from '../../formats/container.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { applyPackage } from '../../runtime/apply/apply-package.ts';
import { fingerprint, loadSample } from '../../runtime/apply/testing/fixtures.ts';

export function must<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** The package as a reader sees it after the file round trip (unsigned). */
export async function viaFile(pkg: HotpatchPackage): Promise<HotpatchPackage> {
  return must(await loadPackage(must(await encodePackage(pkg)), { trusted: [], allowUnsigned: true })).package;
}

/** Fingerprints of `scenario`'s `file` after applying each package. */
export async function appliedPrints(scenario: string, file: string, pkgs: readonly HotpatchPackage[]): Promise<string[]> {
  const prints: string[] = [];
  for (const p of pkgs) {
    const { image, backend } = loadSample(scenario, file);
    must(await applyPackage(await viaFile(p), backend));
    prints.push(fingerprint(image));
  }
  return prints;
}
