/**
 * A package file all the way to an applied plan: loadPackage (container, signature,
 * decompression, decoding, validation; formats/container.ts), then plan and apply. Every
 * refusal before the plan's first step leaves the target untouched: the backend executes
 * nothing until the package is loaded, verified and fully planned.
 */
import { ok, type Result } from '../../common/errors.ts';
import { loadPackage, type LoadedPackage } from '../../formats/container.ts';
import type { PublicKey } from '../../formats/keys.ts';
import type { ProcessBackend } from '../plan/backend.ts';
import type { PlanOptions } from '../plan/plan-package.ts';
import { applyPackage, type ApplyReport } from './apply-package.ts';

/** Trust settings for the package file, plus the planning options. */
export interface ApplyFileOptions extends PlanOptions {
  /** Public keys whose signatures are trusted. */
  readonly trusted: readonly PublicKey[];
  /** Accept a package without a trusted signature (formats' rules). */
  readonly allowUnsigned: boolean;
}

/** The loaded package, its load time, and the apply report. */
export interface ApplyFileReport {
  readonly loaded: LoadedPackage;
  /** Time to load and verify the package file. */
  readonly loadMs: number;
  readonly report: ApplyReport;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Loads, verifies, plans and applies the package file `bytes` to `backend` (see the module comment). */
export async function applyPackageFile(bytes: Uint8Array, backend: ProcessBackend, options: ApplyFileOptions): Promise<Result<ApplyFileReport>> {
  const t0 = now();
  const loaded = await loadPackage(bytes, { trusted: options.trusted, allowUnsigned: options.allowUnsigned });
  if (!loaded.ok) return loaded;
  const loadMs = now() - t0;
  const applied = await applyPackage(loaded.value.package, backend, options);
  if (!applied.ok) return applied;
  return ok({ loaded: loaded.value, loadMs, report: applied.value });
}
