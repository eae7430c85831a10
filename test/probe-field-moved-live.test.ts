/**
 * One field moved, reached through a pointer loaded from another object (issue #14, safety):
 * probe field-moved (test/probes/field-moved.c) inserts a field before inner.flag (+0x8 ->
 * +0x10). show reads o->in->flag and fill writes in->flag, each with one access moved and
 * every other instruction the same. Before compiler/diff/field-moves.ts, show was hotpatchable
 * at all eight builds (gcc, clang x -O0..-Os; fill is refused STRUCTURE_FIELD_ADDED, its
 * pointer is its argument) and `build --skip-refused` shipped it alone: patched live, v2's
 * show reads +0x10 of the inners v1's fill wrote and prints neither version's line. Now show
 * is refused STRUCTURE_FIELD_MOVED: the same move shows in fill. The live rows lift the rule.
 * The twin field-moved-fix (show reads another existing field: one lone access moved, the
 * same code) stays hotpatchable and prints v2.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Toolchain } from '../samples/scenarios.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, liftRule, probeVerdicts, startLayoutProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const buildSkip = missingTools(['mingw', 'clang']);
const suite = liveSuite('hp-probe-field-moved-', skip);
const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
const REFUSED = 'fill: STRUCTURE_FIELD_ADDED, show: STRUCTURE_FIELD_MOVED';
const FIXED = 'show: hotpatchable';

/** Per probe and toolchain, the changed functions' verdicts at -O0, -O1, -O2, -Os. */
const VERDICTS: Record<string, Record<Toolchain, readonly string[]>> = {
  'field-moved': { gcc: [REFUSED, REFUSED, REFUSED, REFUSED], clang: [REFUSED, REFUSED, REFUSED, REFUSED] },
  'field-moved-fix': { gcc: [FIXED, FIXED, FIXED, FIXED], clang: [FIXED, FIXED, FIXED, FIXED] },
};

/** Changed functions as `name: verdict or code`, the harness's own left out. */
const verdicts = (name: string, tc: Toolchain, opt: string, dir: string): string =>
  probeVerdicts(diffDlls(buildLayoutProbe(join(dir, opt), name, 1, tc, opt), buildLayoutProbe(join(dir, opt), name, 2, tc, opt))).join(', ');

describe.skipIf(buildSkip !== undefined)(`field-moved probes, verdicts by both compilers at four levels${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(Object.keys(VERDICTS))('%s', (name) => {
    const dir = join(suite.dir() || '/tmp', `hp-field-moved-verdicts-${process.pid}`);
    for (const tc of ['gcc', 'clang'] as const) {
      expect(OPTS.map((opt) => verdicts(name, tc, opt, dir)), `${name} ${tc}`).toEqual(VERDICTS[name]![tc]);
    }
  }, 120_000);
});

const LIVE = [['gcc', '-O2'], ['gcc', '-O0'], ['clang', '-O2'], ['clang', '-O0']] as const;
const shows = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('show('));

describe.skipIf(skip !== undefined)(`field-moved probes live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(LIVE)('field-moved (%s %s): show refused; shipped alone with the rule lifted, it reads +0x10 of v1\'s inners', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'field-moved', tc, opt);
    expect(changedVerdicts(d)).toEqual(['fill: STRUCTURE_FIELD_ADDED', 'show: STRUCTURE_FIELD_MOVED']);
    // What `build --skip-refused` shipped before the rule: show alone (fill stays refused).
    const lifted = liftRule(d, 'STRUCTURE_FIELD_MOVED');
    expect(changedVerdicts(lifted)).toEqual(['fill: STRUCTURE_FIELD_ADDED', 'show: hotpatchable']);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), lifted, 'field-moved.dll', `field-moved-${tc}${opt}.hpk`, true), 'field-moved.dll');
    // Both versions print 1000n + a + 10 flag = 1090n; v1's inners hold zero at v2's +0x10.
    expect(shows(old)).toEqual(['show(0) = 1090', 'show(1) = 2180', 'show(2) = 3270', 'show(3) = 4360']);
    expect(neu).toBe(old);
    expect(shows(after)).toEqual(['show(0) = 1100', 'show(1) = 2200', 'show(2) = 3300', 'show(3) = 4400']);
  }, 120_000);

  test.each(LIVE)('field-moved-fix (%s %s): hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'field-moved-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['show: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'field-moved-fix.dll', `field-moved-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'field-moved-fix.dll')).toBe(neu);
  }, 120_000);
});
