/**
 * Test support: real sample DLLs loaded into in-memory processes, and an exact fingerprint
 * of a process (every region's bytes and page protections, registered function tables),
 * so "byte-identical" is checked on everything a transaction could have touched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Va } from '../../../common/types.ts';
import { loadProcessImage } from '../../image/load-image.ts';
import type { ProcessImage } from '../../image/process-image.ts';
import { MemoryBackend } from '../../backends/memory-backend.ts';
import type { ProtectionRun } from '../../plan/backend.ts';
import { expect } from 'vitest';
import type { HotpatchPackage } from '../../../formats/package.ts';
import { applyPackage } from '../apply-package.ts';

/** The repository root. */
export const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** Bytes of samples/bin/<scenario>/<file>. */
export function sampleBytes(scenario: string, file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(ROOT, 'samples/bin', scenario, file)));
}

/** A fresh in-memory process with `samples/bin/<scenario>/<file>` loaded (at `base` if given). */
export function loadSample(scenario: string, file: string, base?: Va): { image: ProcessImage; backend: MemoryBackend } {
  const r = loadProcessImage(sampleBytes(scenario, file), base === undefined ? { name: `${scenario}.dll` } : { base, name: `${scenario}.dll` });
  if (!r.ok) throw new Error(r.error.message);
  return { image: r.value, backend: new MemoryBackend(r.value) };
}

/**
 * SHA-256 over every region (base, kind, bytes, protections) and the registered function
 * tables: equal fingerprints mean byte- and protection-identical processes.
 */
export function fingerprint(img: ProcessImage): string {
  const h = createHash('sha256');
  for (const r of img.space.list()) {
    h.update(`${r.base.toString(16)}:${r.kind}:${r.size};`);
    h.update(r.bytes);
    h.update(r.protection);
  }
  for (const t of img.functionTables) h.update(`ft:${t.table.toString(16)}:${t.entryCount}:${t.base.toString(16)};`);
  return h.digest('hex');
}

/** One protection value per 4 KB page of `runs` (what queryProtection returned). */
export function pagesOf(runs: readonly ProtectionRun[]): number[] {
  const out: number[] = [];
  for (const r of runs) for (let i = 0; i < r.size / 0x1000; i++) out.push(r.protection);
  return out;
}

/**
 * Applies `pkg` to a fresh sample process, which must refuse it having executed no step and
 * changed nothing (fingerprint); returns the refusal as `CODE: message`.
 */
export async function refusedUntouched(pkg: HotpatchPackage, scenario = 'new-helper', file = 'v1.dll'): Promise<string> {
  const { image, backend } = loadSample(scenario, file);
  const before = fingerprint(image);
  const r = await applyPackage(pkg, backend);
  expect(r.ok).toBe(false);
  expect(backend.executed).toBe(0);
  expect(backend.mutations).toBe(0);
  expect(fingerprint(image)).toBe(before);
  return r.ok ? '' : `${r.error.code}: ${r.error.message}`;
}
