/**
 * Format 2.6, scanned references, end to end on real sample pairs: the compiler leaves a
 * delta's copied calls and RIP-relative fields to the runtime's scan (compiler/emit/
 * ref-scans.ts); the package passes the paper verification (which opens it with the runtime's
 * own function), goes through the container, and applied to the in-memory process writes
 * exactly the bytes of the same package with every field listed (the 2.5 form, opened by
 * openRefScans). A skip removed or a scanned field skipped is refused by the verifier (the
 * package would write other bytes), and a skip that is no candidate is refused before any
 * write (PLAN_PACKAGE).
 */
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import type { CodeBlock, HotpatchPackage } from '../formats/package.ts';
import { openRefScans } from '../formats/ref-scan.ts';
import { refusedUntouched, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { appliedPrints, must } from './support/applied-prints.ts';

const scanned = (pkg: HotpatchPackage): CodeBlock[] => pkg.codeBlocks.filter((b) => b.bytes.kind === 'delta' && b.bytes.refScan !== undefined);

describe('scanned references (format 2.6) applied to real samples', () => {
  for (const [scenario, suffix] of [['data-writes', ''], ['enum-names', ''], ['bounds-check', '.clang']] as const) {
    it(`${scenario}${suffix}: writes exactly what the listed form writes; mutated scans are refused`, async () => {
      const opts = { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION } as const;
      const diff = must(diffFiles(sampleBytes(scenario, `v1${suffix}.dll`), sampleBytes(scenario, `v2${suffix}.dll`)));
      const pkg = must(buildFromDiff(diff, opts)).emitted.pkg;
      const at = pkg.codeBlocks.indexOf(scanned(pkg)[0]!);
      expect(at).toBeGreaterThanOrEqual(0);
      // OLD mapped at its preferred base, as the verifier and the planner read it.
      const listed = must(openRefScans(pkg, diff.match.old.img.image));
      expect(scanned(listed)).toEqual([]);
      expect(must(await encodePackage(pkg)).length).toBeLessThan(must(await encodePackage(listed)).length);
      const prints = await appliedPrints(scenario, `v1${suffix}.dll`, [listed, pkg]);
      expect(prints[1]).toBe(prints[0]);
      // The scan's skips changed: one more field left out, or one false candidate derived.
      const blk = pkg.codeBlocks[at]!;
      const d = blk.bytes.kind === 'delta' ? blk.bytes : null;
      const withSkips = (skips: number[]): HotpatchPackage => ({ ...pkg, codeBlocks: pkg.codeBlocks.map((c, i) => (i === at && d !== null ? { ...c, bytes: { ...d, refScan: skips } } : c)) });
      const listedBlock = listed.codeBlocks[at]!.bytes;
      const field = listedBlock.kind === 'delta' ? [...(listedBlock.implicit?.rel32 ?? []), ...(listedBlock.implicit?.moved ?? [])].find((o) => !(d?.implicit?.rel32 ?? []).includes(o) && !(d?.implicit?.moved ?? []).includes(o)) : undefined;
      expect(field).toBeDefined();
      expect(verifyPackage(diff, withSkips([...d!.refScan!, field!].sort((x, y) => x - y))).ok).toBe(false);
      if (d!.refScan!.length > 0) expect(verifyPackage(diff, withSkips(d!.refScan!.slice(1))).ok).toBe(false);
      // A skip that is no candidate: refused by the planner before any write.
      expect(await refusedUntouched(withSkips([...d!.refScan!, d!.size - 4].filter((v, i, a) => a.indexOf(v) === i).sort((x, y) => x - y)), scenario, `v1${suffix}.dll`)).toMatch(/^PLAN_PACKAGE: scanned references: block \d+\.refScan: skipped offset \d+ is no scanned reference$/);
    });
  }
});
