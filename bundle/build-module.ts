/**
 * One module's job in a bundle: exactly what `hotpatch build OLD NEW --key K [--skip-refused]`
 * does (diff, emit, verify, encode, sign), returned as a value instead of a file. Pure and
 * deterministic: the same files, key and options give the same package bytes, which is what
 * lets `hotpatch bundle --from-packages` accept packages built by any engine.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { buildFromDiff, sealBuilt, COMPILER_VERSION, diffFiles, refusalLines } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import type { SigningKey } from '../formats/keys.ts';
import { BUNDLE_LIMITS } from '../formats/bundle.ts';

export interface ModuleJob {
  readonly oldBytes: Uint8Array;
  readonly newBytes: Uint8Array;
  readonly moduleName: string;
  readonly skipRefused: boolean;
}

/** What a job produced: a package (complete or partial), no change, or a refusal with its reasons. */
export type ModuleOutcome =
  | { readonly status: 'changed'; readonly package: Uint8Array; readonly functions: number }
  | { readonly status: 'partial'; readonly package: Uint8Array; readonly functions: number; readonly reasonCode: string; readonly reasons: readonly string[] }
  | { readonly status: 'unchanged' }
  | { readonly status: 'refused'; readonly reasonCode: string; readonly reasons: readonly string[] };

/** At most BUNDLE_LIMITS.reasons lines of at most BUNDLE_LIMITS.reasonChars characters, the last one counting the rest. */
export function boundReasons(lines: readonly string[]): string[] {
  const cut = (s: string): string => (s.length > BUNDLE_LIMITS.reasonChars ? `${s.slice(0, BUNDLE_LIMITS.reasonChars - 3)}...` : s);
  if (lines.length <= BUNDLE_LIMITS.reasons) return lines.map(cut);
  return [...lines.slice(0, BUNDLE_LIMITS.reasons - 1).map(cut), `... and ${lines.length - BUNDLE_LIMITS.reasons + 1} more`];
}

/**
 * Builds one module's package. A refused module is an outcome, not an error (the bundle still
 * carries it, with its reasons); errors are kept for failures of the tool itself (PKG_ZSTD for
 * a package over the size cap is reported as a refusal with that code).
 */
export async function buildModule(job: ModuleJob, signingKey: SigningKey | undefined): Promise<Result<ModuleOutcome>> {
  const d = diffFiles(job.oldBytes, job.newBytes);
  if (!d.ok) return ok({ status: 'refused', reasonCode: d.error.code, reasons: boundReasons([d.error.message]) });
  const diff = d.value;
  if (diff.counts.changed + diff.counts.added + diff.counts.removed === 0 && diff.data.length === 0) return ok({ status: 'unchanged' });
  const refused = refusalLines(diff);
  if (refused.length > 0 && !job.skipRefused) return ok({ status: 'refused', reasonCode: 'BUILD_REFUSED', reasons: boundReasons(refused) });
  const b = buildFromDiff(diff, { moduleName: job.moduleName, skipRefused: job.skipRefused, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) return ok({ status: 'refused', reasonCode: b.error.code, reasons: boundReasons([b.error.message]) });
  const s = await sealBuilt(b.value);
  if (!s.ok) return ok({ status: 'refused', reasonCode: s.error.code, reasons: boundReasons([s.error.message]) });
  const pkg = s.value.emitted.pkg;
  if (pkg.functions.length === 0 && pkg.dataBlocks.length === 0) {
    // Only refused changes (left out) or nothing a process would run differently.
    return ok(refused.length > 0 ? { status: 'refused', reasonCode: 'BUILD_REFUSED', reasons: boundReasons(refused) } : { status: 'unchanged' });
  }
  const enc = await encodePackage(pkg, signingKey === undefined ? {} : { signingKey });
  if (!enc.ok) {
    if (enc.error.code === 'PKG_ZSTD') return ok({ status: 'refused', reasonCode: enc.error.code, reasons: boundReasons([enc.error.message]) });
    return err(enc.error.code, enc.error.message);
  }
  if (refused.length > 0) return ok({ status: 'partial', package: enc.value, functions: pkg.functions.length, reasonCode: 'BUILD_REFUSED', reasons: boundReasons(refused) });
  return ok({ status: 'changed', package: enc.value, functions: pkg.functions.length });
}
