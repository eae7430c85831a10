/**
 * Two int parameters of one type swapped (callers unchanged) where each is first computed
 * alike (`a*a`, `a*8`, `a*3`), so only the role the computed value then plays tells them apart
 * (probe test/probes/entry-args-computed.c): the minuend or subtrahend of `a*a - b*b`, the
 * dividend or divisor, a compare's side, the argument slot of a call (`pair(a*8, b*8)`), an
 * index's subtrahend. Before, argument-uses.ts followed a value computed from a parameter only
 * to the globals it reached: c_sub was hotpatchable at gcc -O0/-O1/-O2/-Os and clang -O0,
 * c_call at gcc -O0/-O1 and clang -O0/-O1/-O2/-Os (gcc -O2/-Os refused it SHORT_BRANCH_LEAVES):
 * 11 of the 40 swapped builds wrong-safe (c_div, c_cmp, c_idx refused on other uses or on the
 * order of first uses). Now a value computed from a parameter, or a chain's running value,
 * names the parameter at the non-commutative operation it meets and at the argument slot it is
 * handed to a call in (argument-uses.ts `e` tokens), and two parameters whose computed values
 * exchanged those roles are a swap (argument-moves.ts computedRole): all five are refused
 * ENTRY_ARGUMENTS_CHANGED at all 8 builds; the *_fix twins (a constant changed) and sum_fix (the
 * terms of a commutative sum exchanged) stay hotpatchable. With the rule lifted, the importer
 * built against v1 gets the answers of the arguments exchanged; the twins give v2's.
 * Probe test/probes/entry-args-escape.c: the parameters spilled to frame slots whose addresses
 * are handed to `xchg(&a, &b)`, which exchanges what they hold. Before, a reload after the call
 * was taken for the argument spilled, and esc_sub (the call folded away in v2, its parameters
 * exchanged) and esc_keep (the same body, parameters exchanged) were hotpatchable at all 8
 * builds. Now a slot whose address escapes is not followed (the frame-escape policy of
 * frame-slots.ts), the spilled value is named by the position its slot's address is handed in
 * (`addr@k`), and two slots handed out in one body but used directly in the other are not
 * compared (argument-moves.ts kind 'escape'): both refused at 7 of 8 builds. clang -Os stores
 * them through callee-saved copies of the slots' addresses (`lea rsi,[rsp+0x24]; mov [rsi],ecx;
 * ... mov rcx,rsi; call xchg; mov eax,[rsi]`), which no frame slot numbering saw: esc_sub and
 * esc_keep stayed hotpatchable there, and live the v1 importer got 2 and 2 (the other order's
 * difference). Now a register holding a frame slot's address is a frame pointer for the loads
 * and stores through it, and copying it out hands out that slot (frame-escape.ts): refused at
 * all 8 builds; the twin stays hotpatchable.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Toolchain } from '../samples/scenarios.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, liftRule, startImporterProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const buildSkip = missingTools(['mingw', 'clang']);
const suite = liveSuite('hp-probe-computed-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];
const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
const CODE = 'ENTRY_ARGUMENTS_CHANGED';

const SWAPPED = ['c_call', 'c_cmp', 'c_div', 'c_idx', 'c_sub'];
const VERDICTS = [...SWAPPED.flatMap((n) => [`${n}: ${CODE}`, `${n}_fix: hotpatchable`]), 'sum_fix: hotpatchable'];
const SWAP_MESSAGE = /^its new body uses (argument rdx\S* as its old body used rcx\S* \(.*\) and rcx\S* as it used rdx|arguments rcx and rdx alike, in the opposite order from its old body) .*\(two parameters of one type reordered\?\)/;
const V1 = 'importer c_sub = 16\nimporter c_div = 1\nimporter c_cmp = 0\nimporter c_call = -8\nimporter c_idx = 220\nimporter c_sub_fix = 16\nimporter c_div_fix = 1\nimporter c_cmp_fix = 0\nimporter c_call_fix = -8\nimporter c_idx_fix = 220\nimporter sum_fix = 64\n';
/** With the rule lifted: each swapped function computes with a and b exchanged; each twin gives v2's answer. */
const LIFTED = 'importer c_sub = -16\nimporter c_div = 0\nimporter c_cmp = 1\nimporter c_call = -56\nimporter c_idx = 40\nimporter c_sub_fix = 7\nimporter c_div_fix = 3\nimporter c_cmp_fix = 1\nimporter c_call_fix = 16\nimporter c_idx_fix = 190\nimporter sum_fix = 65\n';

describe.skipIf(buildSkip !== undefined)(`arguments swapped, values computed from them meeting operand roles${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-computed (%s %s): the swapped functions refused ENTRY_ARGUMENTS_CHANGED; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `verdicts${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-computed', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-computed', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual(VERDICTS);
    for (const name of SWAPPED) expect(d.functions.find((f) => f.name === name)?.reason?.message, name).toMatch(SWAP_MESSAGE);
  }, 60_000);
});

const ESCAPED = ['esc_keep', 'esc_sub'];
const ESCAPE_VERDICTS = [...ESCAPED.map((n) => `${n}: ${CODE}`), 'esc_sub_fix: hotpatchable'];
const ESCAPE_MESSAGE = /^its new body (uses argument rdx\S* as its old body used rcx\S* \(.*spilled to a frame slot whose address is passed on as argument 1 of a call|no longer hands out the address of the frame slot it spills argument rcx\S* to)/;
const ESCAPE_V1 = 'importer esc_sub = -2\nimporter esc_keep = -2\nimporter esc_sub_fix = -2\n';
/** With the rule lifted: esc_sub and esc_keep give the other order's difference, the twin v2's answer. */
const ESCAPE_LIFTED = 'importer esc_sub = 2\nimporter esc_keep = 2\nimporter esc_sub_fix = -1\n';

describe.skipIf(buildSkip !== undefined)(`arguments swapped, spilled to frame slots whose addresses escape${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-escape (%s %s): the swapped functions refused ENTRY_ARGUMENTS_CHANGED; the twin hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `escape${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-escape', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-escape', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual(ESCAPE_VERDICTS);
    for (const name of ESCAPED) expect(d.functions.find((f) => f.name === name)?.reason?.message, name).toMatch(ESCAPE_MESSAGE);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`arguments swapped, values computed from them meeting operand roles, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each([['clang', '-O2'], ['gcc', '-O0']] as const)('entry-args-computed (%s %s): refused; carried anyway, the v1 importer gets the answers of the arguments exchanged; the twins give v2\'s', async (tc, opt) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-computed', 'entry-args-computed-importer', tc, opt);
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes(CODE))).toEqual(VERDICTS.filter((v) => v.includes(CODE)));
    const presented = liftRule(d, CODE);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-computed-${tc}${opt}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(LIFTED);
  }, 120_000);

  // clang -Os: the slots reached only through registers holding their addresses (`mov [rsi],ecx`).
  test.each([['gcc', '-O2'], ['clang', '-O2'], ['clang', '-Os']] as const)('entry-args-escape (%s %s): refused; carried anyway, the v1 importer gets the other order\'s difference; the twin gives v2\'s', async (tc, opt) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-escape', 'entry-args-escape-importer', tc, opt);
    expect(h.first.output.endsWith(ESCAPE_V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes(CODE))).toEqual(ESCAPED.map((n) => `${n}: ${CODE}`));
    const presented = liftRule(d, CODE);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-escape-${tc}${opt}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(ESCAPE_LIFTED);
  }, 120_000);
});
