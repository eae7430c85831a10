/**
 * From a pairing and each changed module's outcome to the bundle's entries, and the summary
 * `hotpatch bundle` prints. Also the checks `--from-packages` runs on a package built
 * elsewhere before it may stand for a module: its signature, its target identity against the
 * OLD file, and the NEW build it brings the module to. Pure.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { hex } from '../common/types.ts';
import type { BundleEntryInput, BundleEntryStatus } from '../formats/bundle.ts';
import { loadPackage } from '../formats/container.ts';
import type { PublicKey } from '../formats/keys.ts';
import type { ModuleOutcome } from './build-module.ts';
import type { ModulePair, Pairing, TreeModule } from './pair-modules.ts';

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The module name packages target: the export name, else the file name (as `hotpatch build`). */
export function moduleNameOf(m: TreeModule): string {
  return m.exportName ?? base(m.path);
}

/** Whether two files are byte-identical (by their SHA-256). */
export function sameFile(p: ModulePair): boolean {
  return p.old.identity.fileSha256.every((b, i) => b === p.new.identity.fileSha256[i]);
}

/** Entries of the bundle: one per pair (with its outcome), per unpaired and per added module. */
export function bundleEntries(pairing: Pairing, outcomes: ReadonlyMap<string, ModuleOutcome>): Result<BundleEntryInput[]> {
  const out: BundleEntryInput[] = [];
  for (const p of pairing.pairs) {
    const o: ModuleOutcome | undefined = sameFile(p) ? { status: 'unchanged' } : outcomes.get(p.old.path);
    if (o === undefined) return err('BUNDLE_MISSING_OUTCOME', `${p.old.path}: no build outcome`);
    out.push({
      oldPath: p.old.path,
      newPath: p.new.path,
      moduleName: moduleNameOf(p.old),
      status: o.status,
      oldIdentity: p.old.identity,
      newIdentity: p.new.identity,
      pairedBy: p.pairedBy,
      reasonCode: o.status === 'refused' || o.status === 'partial' ? o.reasonCode : null,
      reasons: o.status === 'refused' || o.status === 'partial' ? o.reasons : [],
      package: o.status === 'changed' || o.status === 'partial' ? o.package : null,
    });
  }
  for (const m of pairing.unpaired) {
    out.push({ oldPath: m.path, newPath: null, moduleName: moduleNameOf(m), status: 'unpaired', oldIdentity: m.identity, newIdentity: null, pairedBy: '', reasonCode: null, reasons: [], package: null });
  }
  for (const m of pairing.added) {
    out.push({ oldPath: null, newPath: m.path, moduleName: moduleNameOf(m), status: 'added', oldIdentity: null, newIdentity: m.identity, pairedBy: '', reasonCode: null, reasons: [], package: null });
  }
  return ok(out);
}

/** Counts per status, and whether the bundle is complete (no module refused or partial). */
export function bundleSummary(entries: readonly { status: BundleEntryStatus }[]): { readonly counts: Record<BundleEntryStatus, number>; readonly complete: boolean } {
  const counts: Record<BundleEntryStatus, number> = { changed: 0, partial: 0, refused: 0, unchanged: 0, added: 0, unpaired: 0 };
  for (const e of entries) counts[e.status]++;
  return { counts, complete: counts.refused === 0 && counts.partial === 0 };
}

/**
 * Checks a package built elsewhere for pair `p`: it loads and its signature verifies with
 * `trusted`; it targets OLD (module name, TimeDateStamp, SizeOfImage, CheckSum); it brings
 * the module to NEW (its `new-time-date-stamp` parameter), and it says whether it was built
 * with --skip-refused as the bundle is. BUNDLE_IDENTITY / BUNDLE_OPTIONS otherwise.
 */
export async function checkForeignPackage(bytes: Uint8Array, p: ModulePair, trusted: readonly PublicKey[], skipRefused: boolean): Promise<Result<{ functions: number }>> {
  // Without a key the bundle is unsigned and vouches for nothing: a signed package is taken as
  // it is (its own signature is checked again by whoever applies it with their trusted keys).
  const l = await loadPackage(bytes, { trusted, allowUnsigned: trusted.length === 0, readOnly: trusted.length === 0 });
  if (!l.ok) return err(l.error.code, `${p.old.path}: ${l.error.message}`, l.error.offset);
  const t = l.value.package.target;
  const o = p.old.identity;
  const name = moduleNameOf(p.old);
  const wrong: string[] = [];
  if (t.moduleName !== name) wrong.push(`module ${t.moduleName}, not ${name}`);
  if (t.timeDateStamp !== o.timeDateStamp) wrong.push(`TimeDateStamp ${hex(t.timeDateStamp)}, not ${hex(o.timeDateStamp)}`);
  if (t.sizeOfImage !== o.sizeOfImage) wrong.push(`SizeOfImage ${hex(t.sizeOfImage)}, not ${hex(o.sizeOfImage)}`);
  if (t.checkSum !== o.checkSum) wrong.push(`CheckSum ${hex(t.checkSum)}, not ${hex(o.checkSum)}`);
  const params = new Map(l.value.package.producer.parameters.map((x) => [x.key, x.value]));
  const stamp = params.get('new-time-date-stamp');
  if (stamp !== undefined && Number.parseInt(stamp, 16) !== p.new.identity.timeDateStamp) wrong.push(`built for NEW TimeDateStamp ${stamp}, not ${hex(p.new.identity.timeDateStamp)}`);
  if (wrong.length > 0) return err('BUNDLE_IDENTITY', `${p.old.path}: the package does not target this pair: ${wrong.join('; ')}`);
  if ((params.get('skip-refused') === 'true') !== skipRefused) return err('BUNDLE_OPTIONS', `${p.old.path}: the package was built ${skipRefused ? 'without' : 'with'} --skip-refused, the bundle ${skipRefused ? 'with' : 'without'}`);
  return ok({ functions: l.value.package.functions.length });
}
