/**
 * Leaf functions travel without unwind data (compiler/functions/layout-parts.ts
 * registeredEntries): a carried function whose .pdata entries in NEW are all leaf ones
 * (UNWIND_INFO version 1, no flags, prolog, codes or frame register; what gcc writes for every
 * frameless function) gets no Unwind in its block, which the x64 unwinder reads the same way
 * (no function table entry: a leaf). A function with a frame keeps its entries, and the
 * verifier rejects its block when they are taken away. Both packages apply in memory and read
 * through to v2.
 */
import { describe, expect, it } from 'vitest';
import { buildPackage, COMPILER_VERSION, diffFiles, verifyPackage } from '../compiler/index.ts';
import { registeredEntries } from '../compiler/functions/layout-parts.ts';
import type { FunctionInfo } from '../compiler/image/types.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { applyPackage } from '../runtime/apply/apply-package.ts';
import { checkThroughRedirects } from '../runtime/apply/testing/check-redirects.ts';
import { loadSample, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { must, viaFile } from './support/applied-prints.ts';

interface Carried { readonly fn: FunctionInfo; readonly blockId: number }

function build(scenario: string): { pkg: HotpatchPackage; carried: Carried[]; verify: (p: HotpatchPackage) => ReturnType<typeof verifyPackage> } {
  const v1 = sampleBytes(scenario, 'v1.dll');
  const v2 = sampleBytes(scenario, 'v2.dll');
  const diff = must(diffFiles(v1, v2));
  const pkg = must(buildPackage(v1, v2, { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION })).emitted.pkg;
  const fns = diff.match.new.fns.functions;
  const carried = pkg.functions.map((r) => ({ fn: fns.find((f) => f.entry === (r.newRva as number))!, blockId: r.blockId }));
  return { pkg, carried, verify: (p) => verifyPackage(diff, p) };
}

async function readsThroughV2(scenario: string, pkg: HotpatchPackage): Promise<void> {
  const { image, backend } = loadSample(scenario, 'v1.dll');
  const r = must(await applyPackage(await viaFile(pkg), backend));
  const names = pkg.functions.filter((f) => f.status === 'changed' && f.name !== null).map((f) => f.name!);
  expect(checkThroughRedirects(image, r.plan, sampleBytes(scenario, 'v1.dll'), sampleBytes(scenario, 'v2.dll'), names)).toEqual([]);
}

describe('leaf functions carry no unwind data', () => {
  it('logic-fix (gcc): the changed leaf has a .pdata entry in NEW and no Unwind in its block', async () => {
    const { pkg, carried, verify } = build('logic-fix');
    const leaves = carried.filter((c) => c.fn.pdata.length > 0 && registeredEntries(c.fn).length === 0);
    expect(leaves.length).toBeGreaterThan(0);
    for (const c of leaves) expect(pkg.codeBlocks.find((b) => b.id === c.blockId)?.unwind).toBeNull();
    expect(verify(pkg).ok).toBe(true);
    await readsThroughV2('logic-fix', pkg);
  });

  it('cpp-exceptions (gcc): functions with a frame keep every entry; taking them away is rejected', async () => {
    const { pkg, carried, verify } = build('cpp-exceptions');
    const framed = carried.filter((c) => registeredEntries(c.fn).length > 0);
    expect(framed.length).toBeGreaterThan(0);
    for (const c of framed) expect(pkg.codeBlocks.find((b) => b.id === c.blockId)?.unwind?.runtimeFunctions.length).toBe(registeredEntries(c.fn).length);
    expect(verify(pkg).ok).toBe(true);
    await readsThroughV2('cpp-exceptions', pkg);
    const id = framed[0]!.blockId;
    const stripped = { ...pkg, codeBlocks: pkg.codeBlocks.map((b) => (b.id === id ? { ...b, unwind: null } : b)) };
    const r = verify(stripped);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/non-leaf \.pdata entries in NEW, 0 in the package/);
  });
});
