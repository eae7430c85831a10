/**
 * Entry point of the portability test's bundle: the whole runtime flow (load a PE into an
 * in-memory process, plan, apply, revert) using only runtime/index.ts, run by the test in a
 * worker whose Node globals (process, Buffer, require, ...) have been removed. It reports
 * what it saw so the test can compare with the same flow run under Node.
 */
import { initPeParser } from '../../pe/wasm.ts';
import { applyPackage, loadProcessImage, MemoryBackend, revertPackage, writePlanToJson } from '../../index.ts';
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
