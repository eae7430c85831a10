/**
 * Format 2.9, scanned literal references, end to end on real sample pairs: the compiler stores
 * a changed function's literal block as one literal op over its old body whose calls and
 * RIP-relative fields the runtime's scan derives (compiler/emit/literal-scans.ts, chosen by
 * sealPackage when the file is smaller). The package passes the paper verification (which opens
 * it with the runtime's own function), goes through the container, and applied to the in-memory
 * process writes exactly the bytes of the same package with every derived fixup listed
 * (openRefScans' output, the 2.8 form). Every mutation of the scan is caught (but a derived
 * call to a carried callee kept at OLD's distance, neutral as verify-mutations' moved fields): a skip removed
 * (the candidate is derived) or a derived field skipped (it keeps the old place's displacement)
 * is refused by the verifier, and a skip that is no candidate is refused before any write.
 */
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage } from '../compiler/index.ts';
import { withLiteralScans } from '../compiler/emit/literal-scans.ts';
import type { CodeBlock, HotpatchPackage } from '../formats/package.ts';
import { openRefScans } from '../formats/ref-scan.ts';
import { refusedUntouched, sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { appliedPrints, must } from './support/applied-prints.ts';

const scanning = (b: CodeBlock): boolean => b.bytes.kind === 'delta' && b.bytes.scanLiterals === true;

describe('scanned literal references (format 2.9) applied to real samples', () => {
  for (const [scenario, suffix] of [['entry-args-fix', ''], ['caller-loop-same', '.clang'], ['fn-identity', ''], ['fn-identity', '.clang'], ['rodata-identity', '.clang'], ['global-reuse', '']] as const) {
    it(`${scenario}${suffix}: writes exactly what the listed form writes; every scan mutation but a neutral moved call is refused`, async () => {
      const opts = { moduleName: `${scenario}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION } as const;
      const diff = must(diffFiles(sampleBytes(scenario, `v1${suffix}.dll`), sampleBytes(scenario, `v2${suffix}.dll`)));
      // The form as the compiler writes it, whether or not it makes this package smaller.
      const pkg = withLiteralScans(diff.match.old.img, must(buildFromDiff(diff, opts)).emitted.pkg);
      must(verifyPackage(diff, pkg));
      const at = pkg.codeBlocks.findIndex(scanning);
      expect(at).toBeGreaterThanOrEqual(0);
      const listed = must(openRefScans(pkg, diff.match.old.img.image));
      expect(listed.codeBlocks.some(scanning)).toBe(false);
      expect(listed.codeBlocks[at]!.fixups.length).toBeGreaterThan(pkg.codeBlocks[at]!.fixups.length);
      const prints = await appliedPrints(scenario, `v1${suffix}.dll`, [listed, pkg]);
      expect(prints[1]).toBe(prints[0]);
      const blk = pkg.codeBlocks[at]!;
      const d = blk.bytes.kind === 'delta' ? blk.bytes : null;
      const withSkips = (skips: number[]): HotpatchPackage => ({ ...pkg, codeBlocks: pkg.codeBlocks.map((c, i) => (i === at && d !== null ? { ...c, bytes: { ...d, refScan: [...skips].sort((x, y) => x - y) } } : c)) });
      const own = new Set(blk.fixups.map((f) => f.offset));
      const derived = listed.codeBlocks[at]!.fixups.filter((f) => !own.has(f.offset));
      // A derived call to a carried callee that the layout keeps at OLD's distance (a moved
      // target) left as it stands is right in any layout, as test/verify-mutations.test.ts's
      // NEUTRAL moved fields are: counted apart; every other mutation must be caught.
      let caught = 0;
      let neutral = 0;
      for (const f of derived) {
        const ok = verifyPackage(diff, withSkips([...d!.refScan!, f.offset])).ok;
        if (ok && f.target.kind === 'block') neutral++;
        else caught += ok ? 0 : 1;
      }
      for (const s of d!.refScan!) caught += verifyPackage(diff, withSkips(d!.refScan!.filter((x) => x !== s))).ok ? 0 : 1;
      expect(caught + neutral).toBe(derived.length + d!.refScan!.length);
      // Fields to old-image places are never neutral: each one left as it stands is caught.
      expect(caught).toBeGreaterThanOrEqual(derived.filter((f) => f.target.kind === 'image').length);
      console.log(`${scenario}${suffix}: ${derived.length} derived, ${d!.refScan!.length} skips; ${caught} mutations caught, ${neutral} neutral`);
      // A skip that is no candidate: refused by the planner before any write.
      const stray = d!.size - 1;
      expect(await refusedUntouched(withSkips([...d!.refScan!.filter((x) => x !== stray), stray]), scenario, `v1${suffix}.dll`)).toMatch(/^PLAN_PACKAGE: scanned references: block \d+\.refScan: skipped offset \d+ is no scanned reference$/);
    });
  }
});
