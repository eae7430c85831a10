/**
 * Two parameters of one type swapped while the expression each feeds is rewritten (issue #14,
 * safety), probe test/probes/entry-args-rewrite.c: no use of either keeps its old form but the
 * global it ends in, and the values reach those stores through instructions that compute
 * another register (`lea eax,[rax+rax*4]`, `lea eax,[rax+r8*4]`, `imul eax,[rcx],100`) or modify
 * theirs with an operation argument-uses.ts did not follow (`xor ecx,0x55`, `or`, `and`,
 * `dec`). rw_sum was refused at 7 of the 8 builds (gcc -Os: `dec eax`), rw_lea, rw_bits and
 * rw_imul at none; live with the rule lifted, the importer built against v1 gets each global
 * computed from the other argument. Now each loaded value is followed through lea/imul into the
 * register they write (argument-uses.ts deriveDst), and a value through xor/or/and/dec in place (ACCUMULATES), and a global that the
 * running value of arithmetic on a slot's own value is stored to names the slot (`d` tokens):
 * the four are refused ENTRY_ARGUMENTS_CHANGED at all 8 builds as slots that exchanged
 * globals, and their *_fix twins (the same rewrites, no swap) stay hotpatchable and give v2's
 * answers live.
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
const suite = liveSuite('hp-probe-rewrite-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];
const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;

const SWAPPED = ['rw_bits', 'rw_imul', 'rw_lea', 'rw_sum'];
const VERDICTS = ['rw_bits: ENTRY_ARGUMENTS_CHANGED', 'rw_bits_fix: hotpatchable', 'rw_imul: ENTRY_ARGUMENTS_CHANGED', 'rw_imul_fix: hotpatchable', 'rw_lea: ENTRY_ARGUMENTS_CHANGED', 'rw_lea_fix: hotpatchable', 'rw_sum: ENTRY_ARGUMENTS_CHANGED', 'rw_sum_fix: hotpatchable'];
const V1 = 'importer rw_lea = 10 63\nimporter rw_bits = 87 263\nimporter rw_imul = 200 7000\nimporter rw_sum = 30 6\nimporter rw_lea_fix = 10 63\nimporter rw_bits_fix = 87 263\nimporter rw_imul_fix = 200 7000\nimporter rw_sum_fix = 30 6\n';
/** With the rule lifted: each swapped function's globals computed from the other argument; each twin v2's answer. */
const LIFTED = 'importer rw_lea = 21 34\nimporter rw_bits = 0 49\nimporter rw_imul = 2100 140\nimporter rw_sum = 11 -1\nimporter rw_lea_fix = 6 119\nimporter rw_bits_fix = 0 52\nimporter rw_imul_fix = 600 490\nimporter rw_sum_fix = 16 4\n';

describe.skipIf(buildSkip !== undefined)(`arguments swapped and rewritten${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-rewrite (%s %s): the swapped functions refused ENTRY_ARGUMENTS_CHANGED as exchanged globals; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `rewrite${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-rewrite', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-rewrite', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => !v.startsWith('hp_'))).toEqual(VERDICTS);
    // Exchanged globals, or (rw_sum, clang's rw_imul -O0) the order of first uses, checked first.
    for (const name of SWAPPED) expect(d.functions.find((f) => f.name === name)?.reason?.message, name).toMatch(/^its new body uses (argument rdx as its old body used rcx \(.*\) and rcx as it used rdx|arguments rcx and rdx alike, in the opposite order from its old body) .*\(two parameters of one type reordered\?\)/);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`arguments swapped and rewritten, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS.map((tc) => [tc] as const))('entry-args-rewrite (%s -O2): refused; carried anyway, the v1 importer gets each global from the other argument; the twins give v2\'s answers', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-rewrite', 'entry-args-rewrite-importer', tc);
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED'))).toEqual(VERDICTS.filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED')));
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-rewrite-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(LIFTED);
  }, 120_000);
});
