/**
 * Parameters whose meaning moves while the registers keep their use shape (issue #14, safety),
 * live under Wine. The probe test/probes/entry-args-params.c changes three exports that the
 * module itself calls only through pointers (so no call site shows the new order):
 * moveto(to, from) -> moveto(from, to) (two pointers to one struct), mix(a, b, c) -> mix(a, c)
 * and fmix3(x, y, z) -> fmix3(x, z) (a middle parameter removed, integer and double). Both
 * compilers' builds, at -O1, -O2 and -Os, were called hotpatchable (the same registers read in
 * the same pointer/integer roles); now they are refused ENTRY_ARGUMENTS_CHANGED from the bodies'
 * own uses of each argument slot (compiler/diff/argument-uses.ts). fmix(x, y, n) -> fmix(y, n)
 * was refused before (n moves to rdx, which the old body never read) and still is.
 * The package the compiler wrote before the rule applies live, and the importer
 * (entry-args-params-importer.c, compiled against v1) then gets answers neither v1 nor v2
 * gives: moveto leaves its struct as it was (1 2 5, where both versions make it 11 60 7),
 * mix(1, 2, 13) = 102 and fmix3(1, 2, 3) = 102000 (v1 and v2 both 133 and 123000).
 * The twin entry-args-params-fix (fixes inside the same signatures, mix dropping its last
 * parameter's use) stays hotpatchable, and patched live the DLL prints v2's lines and the
 * importer v2's answers.
 *
 * Session 19 (issue #14, the open cases of session 18):
 * - -O0 builds spill every argument to the frame at entry and reload it for each use; the
 *   uses are now followed through those frame slots (argument-uses.ts SpillSlots). At -O0
 *   moveto and fmix3 (gcc) / mix (clang) were called hotpatchable, and the package applied
 *   live gave the importer 1 2 5 / 102 / 102000; now moveto is refused by both compilers, fmix3
 *   by gcc and mix by clang, pshapes' copyn and drop4 by clang. The rest at -O0 is now refused
 *   too (session 19): gcc's mix and drop4 (b * 10 is shl/add/add, so r8's only use, an add, is
 *   one rdx has too; what tells them apart is which slot's value is the running value of the
 *   returned sum, `mov eax,[c]; add eax,edx; ret`), clang's fmix3 (z is read straight from its
 *   frame slot, `addsd xmm0,[rsp]`: a float use), gcc's copyn (the pointers are `add rax,rdx`:
 *   a load or store through a sum of a slot is that slot's), and roots that reach a changed
 *   function at -O0 (entry-args-alike calc_api spills its arguments and reloads them, + 0x10,
 *   into rcx and rdx: handed on all the same; live 1 2 5 / 2 6 5 as at -O2).
 * - An unchanged root that computes its callee's arguments from its own, each slot from itself
 *   (probe entry-args-alike: calc_api(a, b) = calc_impl(a + 1, b + 1), `add rcx,0x10`), hands
 *   them on as a thunk does: calc_impl's parameters swapped, refused; live, the importer's
 *   calc_api writes into its `from` array (1 2 5 / 2 6 5, where v1 gives 11 60 7 / 10 20 7).
 *   calc_impl_fix stays hotpatchable and gives v2's answer live.
 * - Two parameters used exactly alike (entry-args-alike order2(a, b) -> order2(b, a), each
 *   handed to stamp() in turn) were hotpatchable at every level; live the importer's order2
 *   stamped y first (v1 stamps x first; an importer built against v2 passes (&y, &x)). Now the
 *   order of the first calls each slot is handed to, in one argument position, refuses it
 *   (argument-uses.ts reorderedPass), -O0 included; order2_fix (stamp(a), stamp(b), stamp(a))
 *   stays hotpatchable.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Toolchain } from '../samples/scenarios.ts';
import { withoutEntryArgumentRule } from './support/importer.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, startImporterProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const suite = liveSuite('hp-probe-args-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];

/** Both versions of probe `name` by `tc` and a host running v1 with the importer. */
const startProbe = (name: string, tc: Toolchain) => startImporterProbe(suite, name, 'entry-args-params-importer', tc);

/** The importer's three lines for the answers of moveto (a's fields), mix(1, 2, 13) and fmix3(1, 2, 3) x1000. */
const importerLines = (moveto: string, mix: number, fmix3: number): string => `importer moveto = ${moveto}\nimporter mix(1, 2, 13) = ${mix}\nimporter fmix3(1, 2, 3) = ${fmix3}\n`;
const V1 = importerLines('11 60 7', 133, 123000);

const buildSkip = missingTools(['mingw', 'clang']);

describe.skipIf(buildSkip !== undefined)(`parameters moved, other optimisation levels${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  const OPTS = ['-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-params (%s %s): moveto, mix, fmix, fmix3 refused ENTRY_ARGUMENTS_CHANGED; the twin hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `params${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-params', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-params', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => !v.startsWith('hp_run'))).toEqual(['fmix3: ENTRY_ARGUMENTS_CHANGED', 'fmix: ENTRY_ARGUMENTS_CHANGED', 'mix: ENTRY_ARGUMENTS_CHANGED', 'moveto: ENTRY_ARGUMENTS_CHANGED']);
    const msg = (name: string): string => d.functions.find((f) => f.name === name)?.reason?.message ?? '';
    expect(msg('moveto')).toContain('its new body uses argument rdx as its old body used rcx (a store through it at +0x0 (4 bytes)');
    expect(msg('moveto')).toContain('and rcx as it used rdx (a load through it at +0x0 (4 bytes)');
    expect(msg('moveto')).toContain('(two parameters of one type reordered?): old callers left active (the export moveto');
    expect(msg('mix')).toContain('its new body no longer uses argument r8 (');
    expect(msg('mix')).toContain(') and uses rdx as its old body used r8 (a parameter before it removed?)');
    expect(msg('fmix3')).toContain('its new body no longer uses argument xmm2 (its old body\'s addsd (as a float)) and uses xmm1 as its old body used xmm2 (a parameter before it removed?)');
    expect(msg('fmix')).toContain('its new body reads rdx at entry, which the old body never read');
    const fix = diffDlls(buildLayoutProbe(dir, 'entry-args-params-fix', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-params-fix', 2, tc, opt));
    expect(changedVerdicts(fix)).toEqual(['fmix3: hotpatchable', 'mix: hotpatchable', 'moveto: hotpatchable']);
  }, 60_000);
});

describe.skipIf(buildSkip !== undefined)(`parameters moved, more shapes${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  const OPTS = ['-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-pshapes (%s %s): copyn, cpy, drop4, move_impl (under the unchanged export move_api) refused ENTRY_ARGUMENTS_CHANGED; their fixes are not', (tc, opt) => {
    const dir = join(suite.dir(), `pshapes${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-pshapes', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-pshapes', 2, tc, opt));
    const mine = new Set(['copyn', 'cpy', 'drop4', 'move_impl', 'copyn_fix', 'cpy_fix', 'drop4_fix', 'move_impl_fix']);
    // gcc -Os's copy loop jumps back to entry+2 of the old body: the thread rule refuses the fix (the redirect's bytes), not this one.
    const copynFix = tc === 'gcc' && opt === '-Os' ? 'THREAD_RULE' : 'hotpatchable';
    expect(changedVerdicts(d).filter((v) => mine.has(v.slice(0, v.indexOf(':'))))).toEqual(['copyn: ENTRY_ARGUMENTS_CHANGED', `copyn_fix: ${copynFix}`, 'cpy: ENTRY_ARGUMENTS_CHANGED', 'cpy_fix: hotpatchable', 'drop4: ENTRY_ARGUMENTS_CHANGED', 'drop4_fix: hotpatchable', 'move_impl: ENTRY_ARGUMENTS_CHANGED', 'move_impl_fix: hotpatchable']);
    const msg = (name: string): string => d.functions.find((f) => f.name === name)?.reason?.message ?? '';
    expect(msg('copyn')).toMatch(/^its new body uses argument rdx as its old body used rcx \(.*a store through it at \+0x0 \(1 bytes\).*\) and rcx as it used rdx \(.*a load through it at \+0x0 \(1 bytes\).*\(two parameters of one type reordered\?\)/);
    expect(msg('drop4')).toContain('no longer uses argument r9 (its old body\'s add) and uses rdx as its old body used r8, r8 as its old body used r9 (a parameter before it removed?)');
    expect(msg('move_impl')).toContain('(two parameters of one type reordered?) (through old move_api, which enters it and is unchanged): old callers left active (the export move_api');
    // cpy: strcpy, an import the liveness cannot follow, reads rdx in the old body; the new one moves it to rcx first.
    expect(msg('cpy')).toMatch(/reads (rcx, )?rdx at entry, which the old body never read/);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`parameters moved, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS)('entry-args-params (%s): refused; carried anyway, the v1 importer gets answers neither version gives', async (tc) => {
    const { h, neu, file, d } = await startProbe('entry-args-params', tc);
    expect(h.first.output.endsWith(V1)).toBe(true);
    const presented = withoutEntryArgumentRule(d);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, file, `entry-args-params-${tc}.hpk`);
    const after = await patchedRound(h, pkg, file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    // The importer's calls reach bodies that read the old arguments with the new meaning.
    expect(after.slice(neu.length)).toBe(importerLines('1 2 5', 102, 102000));
  }, 120_000);

  test.each(TOOLCHAINS)('entry-args-params-fix (%s): hotpatchable, and patched live the DLL and the importer answer as v2', async (tc) => {
    const { h, neu, file, d } = await startProbe('entry-args-params-fix', tc);
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(changedVerdicts(d)).toEqual(['fmix3: hotpatchable', 'mix: hotpatchable', 'moveto: hotpatchable']);
    expect(d.hotpatchable).toBe(true);
    const pkg = await writeProbePackage(suite.dir(), d, file, `entry-args-params-fix-${tc}.hpk`);
    expect(await patchedRound(h, pkg, file)).toBe(neu + importerLines('11 80 8', 120, 143000));
  }, 120_000);
});

describe.skipIf(buildSkip !== undefined)(`parameters moved, -O0 builds (arguments spilled to the frame)${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(TOOLCHAINS)('entry-args-params, entry-args-pshapes (%s -O0): the moves the frame slots show are refused; the twins hotpatchable', (tc) => {
    const dir = join(suite.dir(), 'O0');
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-params', 1, tc, '-O0'), buildLayoutProbe(dir, 'entry-args-params', 2, tc, '-O0'));
    const params = ['fmix3: ENTRY_ARGUMENTS_CHANGED', 'fmix: ENTRY_ARGUMENTS_CHANGED', 'mix: ENTRY_ARGUMENTS_CHANGED', 'moveto: ENTRY_ARGUMENTS_CHANGED'];
    expect(changedVerdicts(d).filter((v) => !v.startsWith('hp_'))).toEqual(params);
    const msg = (name: string): string => d.functions.find((f) => f.name === name)?.reason?.message ?? '';
    expect(msg('moveto')).toContain('its new body uses argument rdx as its old body used rcx (a store through it at +0x0 (4 bytes)');
    // gcc's `b * 10` is shl/add/add, so c's only use (an add) is one b has too; c is the running value of the returned sum, and rdx now is.
    if (tc === 'gcc') expect(msg('mix')).toContain('no longer uses argument r8 (its old body\'s returned as the running value of arithmetic on it) and uses rdx as its old body used r8 (a parameter before it removed?)');
    // clang's fmix3 reads z straight from its frame slot (`addsd xmm0,[rsp]`): a float use, which xmm1's `addsd xmm0,xmm1` now makes.
    if (tc === 'clang') expect(msg('fmix3')).toContain('no longer uses argument xmm2 (its old body\'s addsd (as a float)) and uses xmm1 as its old body used xmm2 (a parameter before it removed?)');
    const fix = diffDlls(buildLayoutProbe(dir, 'entry-args-params-fix', 1, tc, '-O0'), buildLayoutProbe(dir, 'entry-args-params-fix', 2, tc, '-O0'));
    expect(changedVerdicts(fix).filter((v) => !v.startsWith('hp_'))).toEqual(['fmix3: hotpatchable', 'mix: hotpatchable', 'moveto: hotpatchable']);
    const p = diffDlls(buildLayoutProbe(dir, 'entry-args-pshapes', 1, tc, '-O0'), buildLayoutProbe(dir, 'entry-args-pshapes', 2, tc, '-O0'));
    const refused = new Set(p.functions.filter((f) => f.reason?.code === 'ENTRY_ARGUMENTS_CHANGED').map((f) => f.name ?? ''));
    // move_impl under the unchanged -O0 move_api (it spills, reloads rcx and rdx from their own slots and calls): handed on.
    expect([...refused].sort()).toEqual(['copyn', 'cpy', 'drop4', 'move_impl']);
    // cpy: each pointer reloaded into the other's register for strcpy; xmm0/xmm1, left over from the entry, no longer count as passed.
    expect(p.functions.find((f) => f.name === 'cpy')?.reason?.message).toContain('uses argument rdx/xmm1 as its old body used rcx/xmm0 (passed on as argument 1 of a call) and rcx/xmm0 as it used rdx/xmm1 (passed on as argument 2 of a call) (two parameters of one type reordered?)');
    // gcc forms dst + i and src + i by `add rax,rdx`: the store and the load go through sums of the swapped slots.
    if (tc === 'gcc') expect(p.functions.find((f) => f.name === 'copyn')?.reason?.message).toMatch(/uses argument rdx as its old body used rcx \(.*a store through a sum of it at \+0x0 \(1 bytes\).*\) and rcx as it used rdx \(.*a load through a sum of it at \+0x0 \(1 bytes\)/);
    if (tc === 'gcc') expect(p.functions.find((f) => f.name === 'drop4')?.reason?.message).toContain('no longer uses argument r9 (its old body\'s returned as the running value of arithmetic on it) and uses rdx as its old body used r8, r8 as its old body used r9 (a parameter before it removed?)');
    expect(p.functions.filter((f) => f.name?.endsWith('_fix') === true && f.status === 'changed').map((f) => `${f.name ?? ''}: ${f.verdict}`).sort()).toEqual(['copyn_fix: hotpatchable', 'cpy_fix: hotpatchable', 'drop4_fix: hotpatchable', 'move_impl_fix: hotpatchable']);
  }, 60_000);
});

describe.skipIf(buildSkip !== undefined)(`parameters moved under a root that computes them${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  // -O0: calc_api spills both arguments and reloads them into rcx/rdx, each + 0x10, before its call (handed on all the same).
  const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-alike (%s %s): calc_impl (under the unchanged calc_api, which passes to + 1, from + 1) and order2 refused ENTRY_ARGUMENTS_CHANGED; calc_impl_fix and order2_fix not', (tc, opt) => {
    const dir = join(suite.dir(), `alike${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-alike', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-alike', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => v.startsWith('calc'))).toEqual(['calc_impl: ENTRY_ARGUMENTS_CHANGED', 'calc_impl_fix: hotpatchable']);
    // gcc -O2/-Os: order2_fix's tail jump to stamp is a short branch out of the redirect's bytes.
    expect(changedVerdicts(d).filter((v) => v.startsWith('order2'))).toEqual(['order2: ENTRY_ARGUMENTS_CHANGED', `order2_fix: ${tc === 'gcc' && (opt === '-O2' || opt === '-Os') ? 'SHORT_BRANCH_LEAVES' : 'hotpatchable'}`]);
    expect(d.functions.find((f) => f.name === 'order2')?.reason?.message).toContain('its new body hands arguments rcx/xmm0 and rdx/xmm1 on as argument 1 of its calls in the opposite order from its old body, and uses them alike otherwise (two parameters of one type reordered?)');
    const msg = d.functions.find((f) => f.name === 'calc_impl')?.reason?.message ?? '';
    expect(msg).toContain('(two parameters of one type reordered?) (through old calc_api, which enters it and is unchanged): old callers left active (the export calc_api');
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`parameters moved, -O0 and computed by a root, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS)('entry-args-params (%s -O0): refused; carried anyway, the v1 importer gets answers neither version gives; the twin gives v2\'s', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-params', 'entry-args-params-importer', tc, '-O0');
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(d.functions.find((f) => f.name === 'moveto')?.reason?.code).toBe('ENTRY_ARGUMENTS_CHANGED');
    // mix(1, 2, 13) = 102 below: the lifted mix is wrong live; both compilers now refuse it at -O0 too.
    expect(d.functions.find((f) => f.name === 'mix')?.reason?.code).toBe('ENTRY_ARGUMENTS_CHANGED');
    const presented = withoutEntryArgumentRule(d);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-params-O0-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe(importerLines('1 2 5', 102, 102000));
    const fix = await startImporterProbe(suite, 'entry-args-params-fix', 'entry-args-params-importer', tc, '-O0');
    expect(fix.d.hotpatchable).toBe(true);
    expect(await patchedRound(fix.h, await writeProbePackage(suite.dir(), fix.d, fix.file, `entry-args-params-fix-O0-${tc}.hpk`), fix.file)).toBe(fix.neu + importerLines('11 80 8', 120, 143000));
  }, 180_000);

  test.each(TOOLCHAINS)('entry-args-pshapes (%s -O0): cpy(dst, src) -> cpy(src, dst) refused; carried anyway, the v1 importer\'s dst stays and its src is overwritten; cpy_fix gives v2\'s answer', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-pshapes', 'entry-args-pshapes-importer', tc, '-O0');
    expect(h.first.output.endsWith('importer cpy = hello hello 5\nimporter cpy_fix = hello hello 5\n')).toBe(true);
    expect(d.functions.find((f) => f.name === 'cpy')?.reason?.code).toBe('ENTRY_ARGUMENTS_CHANGED');
    expect(d.functions.find((f) => f.name === 'cpy_fix')?.verdict).toBe('hotpatchable');
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-pshapes-O0-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    // v1 and v2 (with an importer built against it) both give `hello hello 5`: v2's strcpy(dst, src) reached with (dst, src) copies dst over src.
    expect(after.slice(neu.length)).toBe('importer cpy = xxxxx xxxxx 5\nimporter cpy_fix = hello hello 6\n');
  }, 180_000);

  test.each(TOOLCHAINS)('entry-args-alike (%s): calc_impl and order2 refused; carried anyway, the importer\'s calc_api writes into its from array and order2 stamps y first; the fixes give v2\'s answers', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-alike', 'entry-args-alike-importer', tc);
    const V1_LINES = 'importer calc_api = 11 60 7 / 10 20 7\nimporter calc_api_fix = 11 60 7 / 10 20 7\nimporter order2 stamps x first\nimporter order2_fix stamps x first\n';
    expect(h.first.output.endsWith(V1_LINES)).toBe(true);
    expect(d.functions.find((f) => f.name === 'calc_impl')?.reason?.code).toBe('ENTRY_ARGUMENTS_CHANGED');
    expect(d.functions.find((f) => f.name === 'calc_impl_fix')?.verdict).toBe('hotpatchable');
    expect(d.functions.find((f) => f.name === 'order2')?.reason?.code).toBe('ENTRY_ARGUMENTS_CHANGED');
    const presented = withoutEntryArgumentRule(d);
    // gcc's order2_fix ends in a short branch out of the redirect's bytes (SHORT_BRANCH_LEAVES): left out.
    expect(presented.functions.filter((f) => f.verdict === 'refused' && f.name !== 'order2_fix'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-alike-${tc}.hpk`, true), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    // gcc's order2_fix was left out (v1's answer, x first); clang's is v2's (x stamped twice ends larger).
    // gcc -O2's order2 (a short branch to stamp, SHORT_BRANCH_LEAVES on main) still answers x first once lifted: not examined.
    expect(after.slice(neu.length)).toBe(`importer calc_api = 1 2 5 / 2 6 5\nimporter calc_api_fix = 12 60 7 / 10 20 7\nimporter order2 stamps ${tc === 'gcc' ? 'x' : 'y'} first\nimporter order2_fix stamps ${tc === 'gcc' ? 'x' : 'y'} first\n`);
  }, 120_000);

  test.each(TOOLCHAINS)('entry-args-alike (%s -O0): calc_impl refused through the -O0 calc_api (spills, reloads + 0x10); carried anyway, the importer\'s calc_api writes into its from array; the fix gives v2\'s answer', async (tc) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-alike', 'entry-args-alike-importer', tc, '-O0');
    expect(h.first.output).toContain('importer calc_api = 11 60 7 / 10 20 7\nimporter calc_api_fix = 11 60 7 / 10 20 7\n');
    expect(d.functions.find((f) => f.name === 'calc_impl')?.reason?.message).toContain('(through old calc_api, which enters it and is unchanged)');
    expect(d.functions.find((f) => f.name === 'calc_impl_fix')?.verdict).toBe('hotpatchable');
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-alike-O0-${tc}.hpk`, true), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toContain('importer calc_api = 1 2 5 / 2 6 5\nimporter calc_api_fix = 12 60 7 / 10 20 7\n');
  }, 120_000);
});

/**
 * entry-args-same: two parameters used alike with no call to tell them apart (put's two stores
 * of constants, put2's two stores of values, diff's two loads: the same tokens for both slots),
 * reordered. Before, put, put2 and diff were hotpatchable at every level by both compilers (lt's
 * `cmp` was already refused as a swap); live, the importer built against v1 got `2 1`, `6 5`,
 * `-4` from the patched v1. Now the order of the two slots' first uses refuses them
 * (argument-uses.ts reorderedUse); the twins, which keep the order, stay hotpatchable.
 */
const SAME_V1 = 'importer put = 1 2\nimporter put2 = 5 6\nimporter diff = 4\nimporter lt = 1\nimporter put_fix = 1 2\nimporter put2_fix = 5 6\nimporter diff_fix = 4\nimporter lt_fix = 0\n';

describe.skipIf(buildSkip !== undefined)(`parameters used alike, reordered${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-same (%s %s): put, put2, diff, lt refused ENTRY_ARGUMENTS_CHANGED; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `same${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-same', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-same', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => !v.startsWith('hp_'))).toEqual(['diff: ENTRY_ARGUMENTS_CHANGED', 'diff_fix: hotpatchable', 'lt: ENTRY_ARGUMENTS_CHANGED', 'lt_fix: hotpatchable', 'put2: ENTRY_ARGUMENTS_CHANGED', 'put2_fix: hotpatchable', 'put: ENTRY_ARGUMENTS_CHANGED', 'put_fix: hotpatchable']);
    for (const name of ['put', 'put2']) expect(d.functions.find((f) => f.name === name)?.reason?.message).toContain('its new body uses arguments rcx and rdx alike, in the opposite order from its old body (its first use is of rdx where it was of rcx) (two parameters of one type reordered?)');
    // Session 21: diff's two loaded values are the two operands of `sub`, which the uses now name: a swap of roles, not an order.
    expect(d.functions.find((f) => f.name === 'diff')?.reason?.message).toMatch(/^its new body uses argument rdx as its old body used rcx \(.*the value loaded through it meeting sub \(operand 1\).*\) and rcx as it used rdx \(.*the value loaded through it meeting sub \(operand 2\)/);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`parameters used alike, reordered, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => (['-O0', '-O2'] as const).map((o) => [tc, o] as const)))('entry-args-same (%s %s): refused; carried anyway, the v1 importer gets answers neither version gives; the twins give v2\'s', async (tc, opt) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-same', 'entry-args-same-importer', tc, opt);
    expect(h.first.output.endsWith(SAME_V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED'))).toEqual(['diff: ENTRY_ARGUMENTS_CHANGED', 'lt: ENTRY_ARGUMENTS_CHANGED', 'put2: ENTRY_ARGUMENTS_CHANGED', 'put: ENTRY_ARGUMENTS_CHANGED']);
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-same${opt}-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe('importer put = 2 1\nimporter put2 = 6 5\nimporter diff = -4\nimporter lt = 0\nimporter put_fix = 1 3\nimporter put2_fix = 5 7\nimporter diff_fix = 5\nimporter lt_fix = 1\n');
  }, 120_000);
});

/**
 * entry-args-loads (session 21): two parameters of one type whose values meet in one
 * non-commutative operation, reordered (less `*a < *b`, less_at `a[i] < b[i]`, quot `x / y` in
 * registers, mod `x % y`, udiv unsigned `x / y`, quotp `*a / *b`, shl2 `x << y`, pdiff `a - b`,
 * subp `*a - *b`). Before, quot, mod and udiv were hotpatchable at every level by both
 * compilers: the dividend is div's implicit rax, so only the divisor had a use and nothing
 * moved between two tokens; live, the importer built against v1 got quot(7, 2) = 0, mod(7, 3)
 * = 3, udiv(7, 2) = 0. The loads were refused only because the compilers read the other
 * pointer first (the 'first' rule), which also refused sum_fix (`*a + *b` -> `*b + *a`, the
 * same sum: every level) and clang's subp_fix (`*a - *b - 1`, computed as `*a + ~*b`, reads b
 * first). Now each slot's uses say which operand role its value, or the value loaded through
 * it, reaches (argument-uses.ts: `sub` operand 1 or 2, the dividend, the left of `<` as the
 * compare's flag reader reads it), the swaps are refused as two slots that exchanged roles, and
 * two slots whose loaded values only meet commutative operations are no longer ordered.
 */
const LOADS_V1 = 'importer less = 1\nimporter less_at = 1\nimporter quot = 3\nimporter quotp = 3\nimporter mod = 1\nimporter udiv = 3\nimporter shl2 = 12\nimporter pdiff = 2\nimporter subp = 5\nimporter sum_fix = 9\nimporter less_fix = 0\nimporter quot_fix = 3\nimporter subp_fix = 2\n';
const LOADS_SWAPPED = ['less', 'less_at', 'mod', 'pdiff', 'quot', 'quotp', 'shl2', 'subp', 'udiv'];

describe.skipIf(buildSkip !== undefined)(`parameters meeting in one non-commutative operation, reordered${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-loads (%s %s): the swaps refused ENTRY_ARGUMENTS_CHANGED as exchanged operand roles; the twins hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `loads${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-loads', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-loads', 2, tc, opt));
    const verdicts = changedVerdicts(d).filter((v) => !v.startsWith('hp_'));
    expect(verdicts).toEqual([...LOADS_SWAPPED.map((n) => `${n}: ENTRY_ARGUMENTS_CHANGED`), ...['less_fix', 'quot_fix', 'subp_fix', 'sum_fix'].map((n) => `${n}: hotpatchable`)].sort());
    const msg = (name: string): string => d.functions.find((f) => f.name === name)?.reason?.message ?? '';
    for (const name of LOADS_SWAPPED) expect(msg(name)).toMatch(/^its new body uses argument rdx as its old body used rcx \(.*\) and rcx as it used rdx \(.*\) \(two parameters of one type reordered\?\)/);
    expect(msg('quot')).toContain('idiv (the dividend)');
    expect(msg('subp')).toMatch(/the value loaded through it meeting sub \(operand [12]\)/);
    expect(msg('less')).toMatch(/the value loaded through it meeting cmp \(left of [<>]\)/);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`parameters meeting in one non-commutative operation, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => (['-O0', '-O2'] as const).map((o) => [tc, o] as const)))('entry-args-loads (%s %s): refused; carried anyway, the v1 importer gets each pair swapped; the twins give v2\'s answers', async (tc, opt) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-loads', 'entry-args-loads-importer', tc, opt);
    expect(h.first.output.endsWith(LOADS_V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED'))).toEqual(LOADS_SWAPPED.map((n) => `${n}: ENTRY_ARGUMENTS_CHANGED`));
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-loads${opt}-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe('importer less = 0\nimporter less_at = 0\nimporter quot = 0\nimporter quotp = 0\nimporter mod = 3\nimporter udiv = 0\nimporter shl2 = 16\nimporter pdiff = -2\nimporter subp = -5\nimporter sum_fix = 9\nimporter less_fix = 1\nimporter quot_fix = 4\nimporter subp_fix = 1\n');
  }, 120_000);
});

/**
 * entry-args-globals: two pointers whose loaded values are stored to two different
 * zero-initialised globals (store2 `if (a && b) { g_first = *a; g_second = *b; }` -> `g_first =
 * *b; g_second = *a;`, callers unchanged; store2_bare the same without the null tests). The
 * uses named a global by its load-time bytes, alike for the two, so both slots' uses were the
 * same: store2, whose null tests use rcx first in both bodies, was hotpatchable at every level
 * by both compilers, and store2_bare was refused only by the order of first uses, which also
 * refused store2_order (only the two stores reordered, each value kept in its global: same
 * meaning). Live, with the rule lifted, the importer built against v1 gets `2 1` where both
 * versions give `1 2`. Now a writable global is named by its identity through the diff's data
 * match (argument-uses.ts matchedGlobalNames): store2 is refused as two slots that exchanged
 * destinations (store2_bare still by the order of first uses, checked first), store2_order is hotpatchable (the two slots told apart both ways,
 * each keeping its own), and store2_fix stays hotpatchable.
 */
const GLOBALS_V1 = 'importer store2 = 1 2\nimporter store2_bare = 1 2\nimporter store2_order = 1 2\nimporter store2_fix = 1 2\n';

describe.skipIf(buildSkip !== undefined)(`loaded values stored to different globals, reordered${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-globals (%s %s): store2, store2_bare refused ENTRY_ARGUMENTS_CHANGED as exchanged globals; store2_order and store2_fix hotpatchable', (tc, opt) => {
    const dir = join(suite.dir(), `globals${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-globals', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-globals', 2, tc, opt));
    expect(changedVerdicts(d).filter((v) => !v.startsWith('hp_'))).toEqual(['store2: ENTRY_ARGUMENTS_CHANGED', 'store2_bare: ENTRY_ARGUMENTS_CHANGED', 'store2_fix: hotpatchable', 'store2_order: hotpatchable']);
    // store2_bare reads b first in v2: the order of first uses refuses it before the exchange is looked at.
    expect(d.functions.find((f) => f.name === 'store2')?.reason?.message).toMatch(/^its new body uses argument rdx as its old body used rcx \(.*the value loaded through it stored to the global at 0x[0-9a-f]+\) and rcx as it used rdx \(.*the value loaded through it stored to the global at 0x[0-9a-f]+\) \(two parameters of one type reordered\?\)/);
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`loaded values stored to different globals, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS.flatMap((tc) => (['-O0', '-O2'] as const).map((o) => [tc, o] as const)))('entry-args-globals (%s %s): refused; carried anyway, the v1 importer gets each value in the other global; store2_order and store2_fix give v2\'s answers', async (tc, opt) => {
    const { h, neu, file, d } = await startImporterProbe(suite, 'entry-args-globals', 'entry-args-globals-importer', tc, opt);
    expect(h.first.output.endsWith(GLOBALS_V1)).toBe(true);
    expect(changedVerdicts(d).filter((v) => v.includes('ENTRY_ARGUMENTS_CHANGED'))).toEqual(['store2: ENTRY_ARGUMENTS_CHANGED', 'store2_bare: ENTRY_ARGUMENTS_CHANGED']);
    const presented = withoutEntryArgumentRule(d);
    expect(presented.functions.filter((f) => f.verdict === 'refused'), 'nothing else refuses the pair').toEqual([]);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), presented, file, `entry-args-globals${opt}-${tc}.hpk`), file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    expect(after.slice(neu.length)).toBe('importer store2 = 2 1\nimporter store2_bare = 2 1\nimporter store2_order = 1 2\nimporter store2_fix = 2 2\n');
  }, 120_000);
});
