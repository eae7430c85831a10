/**
 * Two parameters of one type swapped while the expression each feeds is rewritten (issue #14,
 * safety), probe test/probes/entry-args-own.c: what reaches each global is computed from the
 * parameter's own value (not a value loaded through it) by an instruction that writes another
 * register, or modifies it with an operation argument-uses.ts did not follow: `lea eax,[rcx*8+5]`,
 * `imul eax,ecx,100`, `cdqe`, `not`, `shlx`/`sarx`, `rorx` (and clang -O0's `imul eax,[rsp+4],9`
 * straight from the frame slot). Before, own_lea, own_imul, own_wide, own_not, own_shift and
 * own_rot were hotpatchable at gcc -O1/-O2 and clang -O1/-O2/-Os (all six), gcc -O0 (all but
 * own_lea), gcc -Os (all but own_rot), clang -O0 (own_imul, own_lea, own_not, own_wide): 40 of
 * the 48 builds wrong-safe; and own_shift_fix, whose rewrite only exchanges the two shift kinds
 * between the parameters, was refused at 7 of 8. Now a value computed from a slot's own value by
 * any instruction (iced's used registers) names the slot at a global it is stored to
 * (argument-uses.ts `computed`): the six are refused ENTRY_ARGUMENTS_CHANGED at all 8 builds as
 * slots that exchanged globals, and their *_fix twins stay hotpatchable and give v2's answers
 * live; with the rule lifted, the importer built against v1 gets each global computed from the
 * other argument.
 * Probe test/probes/entry-args-own-spill.c: the computed value passes through a frame slot before
 * the global (a volatile local; gcc -O0's locals: `lea eax,[rcx*8+5]; mov [rsp+4],eax; ...;
 * mov eax,[rsp+4]; mov [rip+g],eax`). spill_lea and spill_imul were hotpatchable at all 8 builds
 * (the reload was no argument's value), and so was idx_spill (a value loaded through
 * `[rcx+rax*4]`, rewritten, kept in a volatile local); now a computed value or a chain's running
 * value spilled and reloaded is computed again, a loaded value loaded again (argument-uses.ts
 * `computedSlots`, `loadedSlots`), and the three are refused at all 8; idx_load (a value loaded
 * through `[rcx+rax*4]`, at -O0 `add rax,rdx; mov eax,[rax]`, straight to the global) was
 * already refused at all 8 and is pinned.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Toolchain } from '../samples/scenarios.ts';
import { withoutEntryArgumentRule } from './support/importer.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, startImporterProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const buildSkip = missingTools(['mingw', 'clang']);
const suite = liveSuite('hp-probe-own-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];
const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;

const SWAPPED = ['own_imul', 'own_lea', 'own_not', 'own_rot', 'own_shift', 'own_wide'];
const VERDICTS = SWAPPED.flatMap((n) => [`${n}: ENTRY_ARGUMENTS_CHANGED`, `${n}_fix: hotpatchable`]);
const SPILL_SWAPPED = ['idx_load', 'idx_spill', 'spill_imul', 'spill_lea'];
const SPILL_VERDICTS = SPILL_SWAPPED.flatMap((n) => [`${n}: ENTRY_ARGUMENTS_CHANGED`, `${n}_fix: hotpatchable`]);
const SWAP_MESSAGE = /^its new body uses (argument rdx\S* as its old body used rcx\S* \(.*\) and rcx\S* as it used rdx|arguments rcx and rdx alike, in the opposite order from its old body) .*\(two parameters of one type reordered\?\)/;
const SPILL_V1 = 'importer spill_lea = 21 31\nimporter spill_imul = 200 7000\nimporter idx_load = 6 25\nimporter idx_spill = 6 25\nimporter spill_lea_fix = 21 31\nimporter spill_imul_fix = 200 7000\nimporter idx_load_fix = 6 25\nimporter idx_spill_fix = 6 25\n';
const SPILL_LIFTED = 'importer spill_lea = 21 18\nimporter spill_imul = 2100 140\nimporter idx_load = 140 0\nimporter idx_spill = 140 0\nimporter spill_lea_fix = 11 63\nimporter spill_imul_fix = 600 490\nimporter idx_load_fix = 14 18\nimporter idx_spill_fix = 14 18\n';
const V1 = 'importer own_lea = 21 31\nimporter own_imul = 200 7000\nimporter own_wide = 1002 21\nimporter own_not = -3 -7\nimporter own_shift = 16 0\nimporter own_rot = 268435456 14680064\nimporter own_lea_fix = 21 31\nimporter own_imul_fix = 200 7000\nimporter own_wide_fix = 1002 21\nimporter own_not_fix = -3 -7\nimporter own_shift_fix = 16 0\nimporter own_rot_fix = 268435456 14680064\n';
/** With the rule lifted: each swapped function's globals computed from the other argument; each twin v2's answer. */
const LIFTED = 'importer own_lea = 21 18\nimporter own_imul = 2100 140\nimporter own_wide = 35 -5\nimporter own_not = -29 -4\nimporter own_shift = 0 64\nimporter own_rot = 234881024 1073741824\nimporter own_lea_fix = 11 63\nimporter own_imul_fix = 600 490\nimporter own_wide_fix = 10 0\nimporter own_not_fix = -9 -14\nimporter own_shift_fix = 0 224\nimporter own_rot_fix = 67108864 3758096384\n';

describe.skipIf(buildSkip !== undefined)(`arguments swapped, their own values computed into globals${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-own (%s %s): the swapped functions refused ENTRY_ARGUMENTS_CHANGED; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `own${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-own', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-own', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => v.startsWith('own_'))).toEqual(VERDICTS);
    for (const name of SWAPPED) expect(d.functions.find((f) => f.name === name)?.reason?.message, name).toMatch(SWAP_MESSAGE);
  }, 60_000);

  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-own-spill (%s %s): computed values spilled and reloaded, values loaded through an index: refused; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `spill${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-own-spill', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-own-spill', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => !v.startsWith('get_global'))).toEqual(SPILL_VERDICTS);
    for (const name of SPILL_SWAPPED) expect(d.functions.find((f) => f.name === name)?.reason?.message, name).toMatch(SWAP_MESSAGE);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`arguments swapped, their own values computed into globals, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS.map((tc) => [tc] as const))('entry-args-own (%s -O2): refused; carried anyway, the v1 importer gets each global from the other argument; the twins give v2\'s answers', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-own', 'entry-args-own-importer', tc);
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED'))).toEqual(VERDICTS.filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED')));
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-own-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(LIFTED);
  }, 120_000);

  test.each(TOOLCHAINS.map((tc) => [tc] as const))('entry-args-own-spill (%s -O2): refused; carried anyway, the v1 importer gets each global from the other argument; the twins give v2\'s answers', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-own-spill', 'entry-args-own-spill-importer', tc);
    expect(h.first.output.endsWith(SPILL_V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED'))).toEqual(SPILL_VERDICTS.filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED')));
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-own-spill-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(SPILL_LIFTED);
  }, 120_000);
});
