/**
 * Entry point of the portability test's bundle: the whole runtime flow (load a PE into an
 * in-memory process, plan, apply, revert) using only runtime/index.ts, run by the test in a
 * worker whose Node globals (process, Buffer, require, ...) have been removed. It reports
 * what it saw so the test can compare with the same flow run under Node.
 */
import { initPeParser } from '../../pe/wasm.ts';
import { applyPackage, applyPackageFile, importPublicKey, initPeParser as initPeParserFromIndex, loadProcessImage, MemoryBackend, revertPackage, writePlanToJson, type PublicKey } from '../../index.ts';
import { packageFromJson } from './package-json.ts';

/** What the flow saw, for comparison between the two realms. */
export interface PortableResult {
  readonly nodeGlobals: Record<string, string>;
  readonly plan: string;
  readonly patchedHash: string;
  readonly revertedIdentical: boolean;
}

async function digest(bytes: Uint8Array): Promise<string> {
  const { sha256, toHex } = await import('../../pe/sha256.ts');
  return toHex(sha256(bytes));
}

/** Runs the flow; `wasm` is the pe-parser module bytes (no file system to read it from). */
export async function runPortable(wasm: Uint8Array, dll: Uint8Array, packageJson: string): Promise<PortableResult> {
  const g = globalThis as Record<string, unknown>;
  const nodeGlobals: Record<string, string> = {};
  for (const k of ['process', 'Buffer', 'require', 'module', 'global', 'setImmediate']) nodeGlobals[k] = typeof g[k];
  const init = await initPeParser(wasm);
  if (!init.ok) throw new Error(init.error.message);
  const img = loadProcessImage(dll, { name: 'sample.dll' });
  if (!img.ok) throw new Error(img.error.message);
  const region = img.value.space.regionAt(img.value.base)!;
  const before = await digest(region.bytes);
  const backend = new MemoryBackend(img.value);
  const applied = await applyPackage(packageFromJson(packageJson), backend);
  if (!applied.ok) throw new Error(applied.error.message);
  const patchedHash = await digest(region.bytes);
  const reverted = await revertPackage(applied.value.plan, backend);
  if (!reverted.ok) throw new Error(reverted.error.message);
  return {
    nodeGlobals,
    plan: JSON.stringify(writePlanToJson(applied.value.plan)),
    patchedHash,
    revertedIdentical: (await digest(region.bytes)) === before && img.value.space.list().length === 2,
  };
}

/** What the package-file flow saw: the load, the apply, and the refusals of bad files. */
export interface PortableFileResult extends PortableResult {
  readonly signature: string;
  readonly uncompressed: number;
  /** Error code per refused variant of the file, with the steps the backend executed for it. */
  readonly refusals: Record<string, string>;
}

/**
 * The flow from a package FILE: `file` is a signed .hpk, `trustedPem` the SPKI PEM of its
 * signer and `otherPem` another key's. Applies and reverts through applyPackageFile, then
 * offers tampered, untrusted and over-bound variants, which must be refused untouched.
 */
export async function runPortableFile(wasm: Uint8Array, dll: Uint8Array, file: Uint8Array, trustedPem: string, otherPem: string): Promise<PortableFileResult> {
  const g = globalThis as Record<string, unknown>;
  const nodeGlobals: Record<string, string> = {};
  for (const k of ['process', 'Buffer', 'require', 'module', 'global', 'setImmediate']) nodeGlobals[k] = typeof g[k];
  // Everything from the one public entry, as an embedder would.
  const init = await initPeParserFromIndex(wasm);
  if (!init.ok) throw new Error(init.error.message);
  const trusted = await importPublicKey(trustedPem);
  const other = await importPublicKey(otherPem);
  if (!trusted.ok || !other.ok) throw new Error('key import failed');
  const img = loadProcessImage(dll, { name: 'sample.dll' });
  if (!img.ok) throw new Error(img.error.message);
  const region = img.value.space.regionAt(img.value.base)!;
  const before = await digest(region.bytes);
  const backend = new MemoryBackend(img.value);

  const refusals: Record<string, string> = {};
  const refuse = async (label: string, bytes: Uint8Array, opts: { trusted: readonly PublicKey[]; maxUncompressed?: number }): Promise<void> => {
    const r = await applyPackageFile(bytes, backend, { allowUnsigned: false, ...opts });
    refusals[label] = r.ok ? 'applied' : `${r.error.code} steps=${backend.executed}`;
  };
  const tampered = file.slice();
  tampered[40] = tampered[40]! ^ 1; // a payload byte
  await refuse('tampered', tampered, { trusted: [trusted.value] });
  await refuse('untrusted', file, { trusted: [other.value] });
  await refuse('over-bound', file, { trusted: [trusted.value], maxUncompressed: 64 });
  await refuse('truncated', file.subarray(0, file.length - 1), { trusted: [trusted.value] });

  const applied = await applyPackageFile(file, backend, { trusted: [trusted.value], allowUnsigned: false });
  if (!applied.ok) throw new Error(`${applied.error.code}: ${applied.error.message}`);
  const patchedHash = await digest(region.bytes);
  const reverted = await revertPackage(applied.value.report.plan, backend);
  if (!reverted.ok) throw new Error(reverted.error.message);
  const sig = applied.value.loaded.signature;
  return {
    nodeGlobals,
    signature: sig.status === 'unsigned' ? sig.status : `${sig.status} ${sig.keyId}`,
    uncompressed: applied.value.loaded.sizes.uncompressed,
    refusals,
    plan: JSON.stringify(writePlanToJson(applied.value.report.plan)),
    patchedHash,
    revertedIdentical: (await digest(region.bytes)) === before && img.value.space.list().length === 2,
  };
}
