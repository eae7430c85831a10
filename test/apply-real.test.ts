/**
 * A real shipped MSVC module (rollup's win32-x64 .node, two consecutive releases from the
 * real corpus, samples/real): the compiler's package applies to the in-memory image of the
 * old build, passes the compiler's verifier at the addresses used, and reverts exactly;
 * the new build is refused with every differing identity field named, CodeView included
 * (read from the mapped debug directory in memory). Skipped, with the reason, when the
 * corpus file cannot be fetched.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffImages } from '../compiler/diff/diff-images.ts';
import { emitPackage } from '../compiler/emit/emit-package.ts';
import { verifyPackage } from '../compiler/verify/verify-package.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { applyPackage, revertPackage } from '../runtime/apply/apply-package.ts';
import { fingerprint } from '../runtime/apply/testing/fixtures.ts';

const pair = realPairs().find((p) => p.label.startsWith('rollup-4.64.8'));
const oldPath = pair === undefined ? undefined : fetchRealFile(pair.old);
const newPath = pair === undefined ? undefined : fetchRealFile(pair.new);
const unavailable = !oldPath?.ok || !newPath?.ok ? `real corpus pair not available: ${oldPath?.ok === false ? oldPath.error.message : newPath?.ok === false ? newPath.error.message : 'not in manifest'}` : undefined;

describe.skipIf(unavailable !== undefined)(`real MSVC module (${pair?.label ?? 'rollup'})${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('applies the compiler package, verifies at the same addresses, reverts exactly; the other build is refused by identity', async () => {
    const o = new Uint8Array(readFileSync((oldPath as { value: string }).value));
    const n = new Uint8Array(readFileSync((newPath as { value: string }).value));
    const op = parsePe(o);
    const np = parsePe(n);
    if (!op.ok || !np.ok) throw new Error('parse');
    expect(op.value.codeView).not.toBeNull();
    const diff = diffImages({ bytes: o, pe: op.value }, { bytes: n, pe: np.value });
    if (!diff.ok) throw new Error(diff.error.message);
    const e = emitPackage(diff.value, { moduleName: 'rollup.win32-x64-msvc.node', skipRefused: true, series: null, compilerVersion: 'runtime real test' });
    if (!e.ok) throw new Error(e.error.message);
    const pkg = e.value.pkg;
    expect(pkg.target.codeView).not.toBeNull();

    const img = loadProcessImage(o, { name: 'rollup.node' });
    if (!img.ok) throw new Error(img.error.message);
    const backend = new MemoryBackend(img.value);
    const before = fingerprint(img.value);
    const r = await applyPackage(pkg, backend);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    expect(r.value.plan.redirects.length).toBe(pkg.redirects.length);
    const v = verifyPackage(diff.value, pkg, { imageBase: img.value.base, regionBase: r.value.plan.region.address });
    expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toBe('verified');
    expect((await revertPackage(r.value.plan, backend)).ok).toBe(true);
    expect(fingerprint(img.value)).toBe(before);

    // The package on the other release: refused before any step, every difference named.
    const other = loadProcessImage(n, { name: 'rollup.node' });
    if (!other.ok) throw new Error(other.error.message);
    const otherBackend = new MemoryBackend(other.value);
    const refused = await applyPackage(pkg, otherBackend);
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(otherBackend.executed).toBe(0);
    const want: string[] = [];
    if (op.value.fileHeader.timeDateStamp !== np.value.fileHeader.timeDateStamp) want.push(`TimeDateStamp 0x${op.value.fileHeader.timeDateStamp.toString(16)} in package, 0x${np.value.fileHeader.timeDateStamp.toString(16)} in image`);
    if (op.value.codeView!.guid !== np.value.codeView!.guid) want.push('CodeView GUID ');
    expect(want.length).toBeGreaterThan(0);
    expect(refused.error.code).toBe('PLAN_IDENTITY');
    for (const w of want) expect(refused.error.message).toContain(w);

    // Only the CodeView age differs: named on its own.
    const cv = pkg.target.codeView!;
    const aged = await applyPackage({ ...pkg, target: { ...pkg.target, codeView: { ...cv, age: cv.age + 1 } } }, backend);
    expect(aged.ok ? 'applied' : aged.error.message).toBe(`package is for another build: CodeView age ${cv.age + 1} in package, ${cv.age} in image`);
    expect(fingerprint(img.value)).toBe(before);
  }, 120_000);
});
