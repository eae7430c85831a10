/**
 * Two pointer parameters of one type whose roles v2 exchanges (callers unchanged), where the
 * values loaded through them reach the global only from the frame slot they were spilled to,
 * read as a memory operand of the operation they meet (probe
 * test/probes/entry-args-spill-operand.c): volatile locals, whose reload clang folds into the
 * operation (`mov eax,[rsp+4]; sub eax,[rsp]`, `cmp eax,[rsp]; setl`, `idiv dword [rsp]`,
 * `subss xmm0,[rsp]`), and gcc -O0's `a += 5` as arithmetic on the parameter's own frame slot
 * (`add dword [rbp+0x10],5`) before it is reloaded and stored to a global.
 * Before, ld_sub, ld_div and ld_cmp were hotpatchable at clang -O1/-O2/-Os (the loaded value's
 * role was named only when it was read from a register), fl_sub at clang -O0/-O1/-O2/-Os and gcc
 * -O0 (at -O0 the pointer reloaded last is left in rax at the return, `ret`/`dret`, and kept the
 * two slots' uses from reading as exchanged), rmw_add at gcc -O0 (the slot arithmetic ended what
 * the search followed): 15 of the 40 builds wrong-safe. Now a loaded value read from its frame
 * slot as an operand names its role as from a register, arithmetic on a frame slot in place
 * keeps what it held as a computed or loaded value (argument-uses.ts, argument-use-insns.ts
 * `spillAccum`), and two slots exchange their uses whatever is left in rax at a void return
 * (argument-moves.ts): all five are refused ENTRY_ARGUMENTS_CHANGED at all 8 builds, the *_fix
 * twins stay hotpatchable; with the rule lifted, the importer built against v1 gets the other
 * order's results, and the twins v2's.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Toolchain } from '../samples/scenarios.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, liftRule, startImporterProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const buildSkip = missingTools(['mingw', 'clang']);
const suite = liveSuite('hp-probe-spill-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];
const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
const CODE = 'ENTRY_ARGUMENTS_CHANGED';

const SWAPPED = ['fl_sub', 'ld_cmp', 'ld_div', 'ld_sub', 'rmw_add'];
const VERDICTS = SWAPPED.flatMap((n) => [`${n}: ${CODE}`, `${n}_fix: hotpatchable`]);
const SWAP_MESSAGE = /^its new body uses (argument rdx\S* as its old body used rcx\S* \(.*\) and rcx\S* as it used rdx|arguments rcx and rdx alike, in the opposite order from its old body) .*\(two parameters of one type reordered\?\)/;
const V1 = 'importer ld_sub = -18\nimporter ld_div = 0\nimporter ld_cmp = 1\nimporter fl_sub = -17\nimporter ld_sub_fix = -18\nimporter ld_div_fix = 0\nimporter ld_cmp_fix = 1\nimporter fl_sub_fix = -17\nimporter rmw_add = 7 12\nimporter rmw_add_fix = 7 12\n';
/** With the rule lifted: each swapped function's result the other way round; each twin v2's answer. */
const LIFTED = 'importer ld_sub = 18\nimporter ld_div = 10\nimporter ld_cmp = 0\nimporter fl_sub = 17\nimporter ld_sub_fix = 82\nimporter ld_div_fix = 2\nimporter ld_cmp_fix = 3\nimporter fl_sub_fix = -70\nimporter rmw_add = 12 7\nimporter rmw_add_fix = 8 13\n';

describe.skipIf(buildSkip !== undefined)(`arguments swapped, their loaded values read from frame slots as operands${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-spill-operand (%s %s): the swapped functions refused ENTRY_ARGUMENTS_CHANGED; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `verdicts${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-spill-operand', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-spill-operand', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => !v.startsWith('get_global'))).toEqual(VERDICTS);
    for (const name of SWAPPED) expect(d.functions.find((f) => f.name === name)?.reason?.message, name).toMatch(SWAP_MESSAGE);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`arguments swapped, their loaded values read from frame slots as operands, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  // clang -O2 folds the reloads into the operations; gcc -O0 adds to the parameters' own slots and leaves a pointer in rax.
  test.each([['clang', '-O2'], ['gcc', '-O0']] as const)('entry-args-spill-operand (%s %s): refused; carried anyway, the v1 importer gets the other order\'s results; the twins give v2\'s answers', async (tc, opt) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-spill-operand', 'entry-args-spill-operand-importer', tc, opt);
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes(CODE))).toEqual(VERDICTS.filter((v) => v.includes(CODE)));
    const presented = liftRule(d, CODE);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-spill-operand-${tc}${opt}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(LIFTED);
  }, 120_000);
});
