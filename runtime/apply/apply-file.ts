/**
 * A package file all the way to an applied plan: loadPackage (container, signature,
 * decompression, decoding, validation; formats/container.ts), then plan and apply. Every
 * refusal before the plan's first step leaves the target untouched: the backend executes
 * nothing until the package is loaded, verified and fully planned. Part of the portable core
 * (runtime/index.ts): signatures go through WebCrypto and zstd through formats/zstd.ts, so
 * this runs with no Node globals (runtime/portable.test.ts).
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
  /** Refuse payloads declaring more decompressed bytes than this (loadPackage's default when absent). */
  readonly maxUncompressed?: number;
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
  const { trusted, allowUnsigned, maxUncompressed } = options;
  const loaded = await loadPackage(bytes, maxUncompressed === undefined ? { trusted, allowUnsigned } : { trusted, allowUnsigned, maxUncompressed });
  if (!loaded.ok) return loaded;
  const loadMs = now() - t0;
  const applied = await applyPackage(loaded.value.package, backend, options);
  if (!applied.ok) return applied;
  return ok({ loaded: loaded.value, loadMs, report: applied.value });
}
