/**
 * Image-relative fixups (FIXUP_KIND_IMAGEREL32) on a real MSVC module (sharp 0.34.5 from
 * samples/real with its image-relative functions changed; skipped with the reason when the
 * cache lacks it): the planner
 * places the patch region above the image, the wasm core writes `S - image base` into table
 * entries and displacements, the compiler's verifier accepts the region at the plan's
 * addresses, revert is exact; and a backend that can only offer a region below the image
 * (or beyond 2 GB above its base) gets PLAN_NO_REGION before any step runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ok } from '../common/errors.ts';
import { asVa } from '../common/types.ts';
import { diffFiles } from '../compiler/index.ts';
import { emitPackage } from '../compiler/emit/emit-package.ts';
import { verifyPackage } from '../compiler/verify/verify-package.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { revertPackage, applyPackage } from '../runtime/apply/apply-package.ts';
import { fingerprint } from '../runtime/apply/testing/fixtures.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import type { ProcessBackend } from '../runtime/plan/backend.ts';
import { withChangedFunctions } from './support/change-functions.ts';

// sharp 0.34.5 against itself with a constant changed in every function that has an
// image-relative reference (test/support/change-functions.ts): the release pairs' --skip-refused
// packages no longer carry such a function (compiler/diff/left-old.ts leaves out carried code
// next to changed code left old).
const pair = realPairs().find((p) => p.label === 'sharp-0.34.4-0.34.5');
const newPath = pair === undefined ? '' : cachePath(pair.new);
const unavailable = pair === undefined ? 'pair not in samples/real/manifest.json' : !existsSync(newPath) ? 'sharp 0.34.5 not in samples/real/cache (run npm run samples:fetch)' : undefined;

describe.skipIf(unavailable !== undefined)(`imagerel32 fixups on a real MSVC module${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('applies above the image with `S - base` in every field, verifies there, reverts; a region below the image is refused', async () => {
    const o = new Uint8Array(readFileSync(newPath));
    const { bytes: n } = withChangedFunctions(o, (f) => f.decoded.refs.some((r) => r.kind === 'imagerel32'));
    const diff = diffFiles(o, n);
    if (!diff.ok) throw new Error(diff.error.message);
    const e = emitPackage(diff.value, { moduleName: 'sharp-win32-x64.node', skipRefused: true, series: null, compilerVersion: 'imagerel32 test' });
    if (!e.ok) throw new Error(e.error.message);
    const pkg = e.value.pkg;
    const fields = pkg.codeBlocks.flatMap((b) => b.fixups.filter((f) => f.kind === 'imagerel32').map((f) => ({ block: b.id, f })));
    expect(fields.length).toBeGreaterThan(0);

    const img = loadProcessImage(o, { name: 'sharp-win32-x64.node' });
    if (!img.ok) throw new Error(img.error.message);
    const backend = new MemoryBackend(img.value);
    const before = fingerprint(img.value);
    const r = await applyPackage(pkg, backend);
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    const base = img.value.base;
    const region = r.value.plan.region.address;
    expect(region > base && region - base < 0x8000_0000n).toBe(true);

    // Every imagerel32 field holds its target's address minus the image base, read back from
    // the patched process memory.
    // plan.functions follows pkg.functions: a record's body is its block plus its offset.
    const blockAt = new Map<number, bigint>();
    pkg.functions.forEach((rec, i) => blockAt.set(rec.blockId, r.value.plan.functions[i]!.bodyVa - BigInt(rec.blockOffset)));
    let checked = 0;
    for (const { block, f } of fields) {
      const at = blockAt.get(block);
      if (at === undefined || f.target.kind !== 'block') continue;
      const target = blockAt.get(f.target.blockId);
      if (target === undefined) continue;
      const got = await backend.read(asVa(at + BigInt(f.offset)), 4);
      if (!got.ok) throw new Error(got.error.message);
      const v = new DataView(got.value.buffer, got.value.byteOffset).getUint32(0, true);
      expect(BigInt(v)).toBe(target + BigInt(f.target.offset) + f.addend - base);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    const v = verifyPackage(diff.value, pkg, { imageBase: base, regionBase: region });
    expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toBe('verified');
    expect((await revertPackage(r.value.plan, backend)).ok).toBe(true);
    expect(fingerprint(img.value)).toBe(before);

    // A backend whose only free region is below the image (or too far above it).
    for (const offer of [base - 0x1000_0000n, base + 0x8000_0000n]) {
      const fresh = loadProcessImage(o, { name: 'sharp-win32-x64.node' });
      if (!fresh.ok) throw new Error(fresh.error.message);
      const mem = new MemoryBackend(fresh.value);
      const cramped: ProcessBackend = {
        kind: 'cramped',
        module: mem.module,
        read: (a, k) => mem.read(a, k),
        queryProtection: (a, k) => mem.queryProtection(a, k),
        findFreeRegion: () => Promise.resolve(ok(asVa(offer))),
        resolveImport: (d, k, x) => mem.resolveImport(d, k, x),
        execute: (s) => mem.execute(s),
      };
      const refused = await applyPackage(pkg, cramped);
      expect(refused.ok ? 'applied' : refused.error.code).toBe('PLAN_NO_REGION');
      if (!refused.ok) expect(refused.error.message).toContain('imagerel32');
      expect(mem.executed).toBe(0);
    }
  }, 180_000);
});
