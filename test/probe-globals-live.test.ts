/**
 * Bit-fields of a writable GLOBAL (issue #14, safety), in a real process under Wine: the
 * first hp_run call packs a global word with v1's code, every later call decodes it.
 * - global-bitfield-reorder (test/probes/global-bitfield-reorder.c): two bit-fields of a
 *   global reached through RIP swap places. Both compilers' builds were called hotpatchable
 *   (bitfield-layout.ts keys words by register base only); now pack and unpack are refused
 *   GLOBAL_BITFIELD_CHANGED (compiler/diff/bitfield-globals.ts). The package the compiler
 *   wrote before the rule applies live, and the process prints neither version's line.
 * - global-bitfield-flags: two one-bit flags of the global, set and cleared by in-place
 *   `or/and [rip+g]`, swap places; both versions print the same line, the patched process
 *   another. At -O0 (both compilers) through a register (`mov eax,[rip+g]; or eax,1; mov
 *   [rip+g],eax`): hotpatchable before, now refused too; global-bitfield-fix at -O0 prints v2.
 * - global-bitfield-fix (the twin): one layout, unpack tests another flag bit (only a read
 *   mask changes): hotpatchable, and patched live it prints v2's line.
 *   At -O1 gcc packs the byte whole (`mov [rip+g_word],cl`, no read-modify-write): called
 *   hotpatchable until bitfield-packed-moves.ts followed global words too; patched live it
 *   printed neither line. Now refused with both compilers at -O1; global-bitfield-fix at -O1
 *   prints v2 live.
 * - global-bitfield-immediate: the global assigned from constants (`mov dword [rip+g_word],imm`,
 *   gcc -O1), kind and level swapped: hotpatchable before, carried it prints neither line; now
 *   GLOBAL_BITFIELD_CHANGED (bitfield-immediates.ts with bitfield-globals.ts' keys).
 * And one-bit flags moved while their number changed (test/probes/flag-move-count.c, a
 * pointer's word: on and hot swap, cold is added): hotpatchable before (both compilers), now
 * pack and unpack are refused STRUCTURE_BITFIELD_CHANGED (compiler/diff/flag-moves.ts); the
 * package without the rule, applied live, misreads the flags. Its twin flag-add-fix (a flag
 * added, none moved) stays hotpatchable and prints v2 live.
 * Session 18 (issue #14's bit-field gaps):
 * - global-bitfield-table: global-bitfield-reorder on an indexed global ARRAY (`table[i].level
 *   = x`: `[rcx+rax*4]` after `lea rcx,[rip+table]`), keyed by no rule before (neither RIP nor
 *   a register base without index); clang's builds were hotpatchable. Now bitfield-layout.ts
 *   keys indexed operands too: pack and unpack refused STRUCTURE_BITFIELD_CHANGED. Its twin
 *   global-bitfield-table-fix (only a read mask changes) prints v2 live.
 * - global-flag-move-count: flag-move-count on a writable global (flags swapped AND one
 *   added), hotpatchable before (both compilers); now GLOBAL_BITFIELD_CHANGED
 *   (compiler/diff/flag-moves.ts keys global words as bitfield-globals.ts does). Its twin
 *   global-flag-add-fix (a flag added, none moved) prints v2 live.
 * Session 21:
 * - global-bitfield-fill: fields of the global set to all ones by lone in-place `or
 *   [rip+g],imm` of several bits (neither a bit-field store nor a one-bit flag), swapped:
 *   hotpatchable before (gcc -O1..-Os, clang -O1..-Os); carried, the patched process misreads
 *   them. Now GLOBAL_BITFIELD_CHANGED (compiler/diff/bitfield-fills.ts through
 *   bitfield-layout.ts with the global keys). Its twin global-bitfield-fill-fix (the same
 *   fills, another condition and formula) prints v2 live.
 * - global-bitfield-fill at gcc -O0: the fill goes through a register (`movzx eax,byte
 *   [rip+g]; or eax,0x7; mov [rip+g],al`), no in-place `or`: hotpatchable, and carried the
 *   patched process misread the word. Now such a load, one `or`/`and` immediate and a store back
 *   count as a fill (bitfield-fills.ts). The twin stays hotpatchable at gcc -O0.
 */
import { describe, expect, test } from 'vitest';
import { COMPILER_VERSION, emitPackage } from '../compiler/index.ts';
import type { Toolchain } from '../samples/scenarios.ts';
import { changedVerdicts, liftRule, startLayoutProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const suite = liveSuite('hp-probe-globals-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];
const CODE = 'GLOBAL_BITFIELD_CHANGED';

const startProbe = (name: string, tc: Toolchain) => startLayoutProbe(suite, name, tc);

describe.skipIf(skip !== undefined)(`global bit-field probes live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS)('global-bitfield-reorder (%s): refused; carried anyway, the patched process prints neither version', async (tc) => {
    const { h, old, neu, d } = await startProbe('global-bitfield-reorder', tc);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toMatch(/^bit-field layout of writable global g_word(\.0)? changed at \+0x0: pack reads, masks and writes back/);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it reads the word at \+0x0 of writable global g_word(\.0)?, and pack now packs that word in another bit layout/);
    // --skip-refused carries neither: new unpack alone would misread the word old pack wrote.
    const skipped = emitPackage(d, { moduleName: 'global-bitfield-reorder.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!skipped.ok) throw new Error(skipped.error.message);
    expect(skipped.value.omitted.map((o) => o.what).sort()).toEqual(['function pack', 'function unpack']);
    const presented = liftRule(d, CODE);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-bitfield-reorder.dll', `global-bitfield-reorder-${tc}.hpk`);
    const after = await patchedRound(h, pkg, 'global-bitfield-reorder.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  // gcc -O1 packs the global's byte whole (`mov [rip+g_word],cl`, no read of it):
  // bitfield-packed-moves.ts' link, with bitfield-globals.ts' keys.
  test.each(TOOLCHAINS)('global-bitfield-reorder at -O1 (%s): refused; carried anyway, the patched process prints neither version', async (tc) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-reorder', tc, '-O1');
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    if (tc === 'gcc') expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toMatch(/^it packs the word at \+0x0 of writable global g_word whole \(a store that does not read it\) with its fields at other bits/);
    const presented = liftRule(d, CODE);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-bitfield-reorder.dll', `global-bitfield-reorder-O1-${tc}.hpk`);
    const after = await patchedRound(h, pkg, 'global-bitfield-reorder.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(TOOLCHAINS)('global-bitfield-fix at -O1 (%s): hotpatchable, and patched live it prints v2', async (tc) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-fix', tc, '-O1');
    expect(old).not.toBe(neu);
    expect(changedVerdicts(d)).toEqual(['unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'global-bitfield-fix.dll', `global-bitfield-fix-O1-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'global-bitfield-fix.dll')).toBe(neu);
  }, 120_000);

  // -O0 sets and clears each flag through a register (`mov eax,[rip+g]; or eax,1; mov [rip+g],eax`).
  test.each([['gcc', '-O2'], ['clang', '-O2'], ['gcc', '-O0'], ['clang', '-O0']] as const)('global-bitfield-flags (%s %s): refused; carried anyway, the patched process misreads the flags', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-flags', tc, opt);
    // Only the layout changed: both versions print the same line.
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    const presented = liftRule(d, CODE);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-bitfield-flags.dll', `global-bitfield-flags-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'global-bitfield-flags.dll')).not.toBe(old);
  }, 120_000);

  test.each([['gcc', '-O2'], ['clang', '-O2'], ['gcc', '-O0'], ['clang', '-O0']] as const)('global-bitfield-fix (%s %s): hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-fix', tc, opt);
    expect(old).not.toBe(neu);
    expect(changedVerdicts(d)).toEqual(['unpack: hotpatchable']);
    expect(d.hotpatchable).toBe(true);
    const pkg = await writeProbePackage(suite.dir(), d, 'global-bitfield-fix.dll', `global-bitfield-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'global-bitfield-fix.dll')).toBe(neu);
  }, 120_000);

  test.each(TOOLCHAINS)('flag-move-count (%s): refused; carried anyway, the patched process misreads the flags', async (tc) => {
    const { h, old, neu, d } = await startProbe('flag-move-count', tc);
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual(['pack: STRUCTURE_BITFIELD_CHANGED', 'unpack: STRUCTURE_BITFIELD_CHANGED']);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toContain('one-bit flags moved at +0x0 while their number changed');
    const presented = liftRule(d, 'STRUCTURE_BITFIELD_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'flag-move-count.dll', `flag-move-count-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'flag-move-count.dll')).not.toBe(old);
  }, 120_000);

  test.each(TOOLCHAINS)('flag-add-fix (%s): hotpatchable, and patched live it prints v2', async (tc) => {
    const { h, neu, d } = await startProbe('flag-add-fix', tc);
    expect(changedVerdicts(d)).toEqual(['pack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'flag-add-fix.dll', `flag-add-fix-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'flag-add-fix.dll')).toBe(neu);
  }, 120_000);

  test.each(TOOLCHAINS)('global-bitfield-table (%s): refused; carried anyway, the patched process prints neither version', async (tc) => {
    const { h, old, neu, d } = await startProbe('global-bitfield-table', tc);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['pack: STRUCTURE_BITFIELD_CHANGED', 'unpack: STRUCTURE_BITFIELD_CHANGED']);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toMatch(/^bit-field layout changed at \+0x0: /);
    const presented = liftRule(d, 'STRUCTURE_BITFIELD_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-bitfield-table.dll', `global-bitfield-table-${tc}.hpk`);
    const after = await patchedRound(h, pkg, 'global-bitfield-table.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(TOOLCHAINS)('global-bitfield-table-fix (%s): hotpatchable, and patched live it prints v2', async (tc) => {
    const { h, old, neu, d } = await startProbe('global-bitfield-table-fix', tc);
    expect(old).not.toBe(neu);
    expect(changedVerdicts(d)).toEqual(['unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'global-bitfield-table-fix.dll', `global-bitfield-table-fix-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'global-bitfield-table-fix.dll')).toBe(neu);
  }, 120_000);

  test.each(TOOLCHAINS)('global-flag-move-count (%s): refused; carried anyway, the patched process misreads the flags', async (tc) => {
    const { h, old, neu, d } = await startProbe('global-flag-move-count', tc);
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`pack: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'pack')?.reason?.message).toMatch(/^one-bit flags of writable global g_word(\.0)? moved at \+0x0 while their number changed/);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toMatch(/^it reads the word at \+0x0 of writable global g_word(\.0)?, and pack now sets and clears its one-bit flags at other bits/);
    const presented = liftRule(d, CODE);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-flag-move-count.dll', `global-flag-move-count-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'global-flag-move-count.dll')).not.toBe(old);
  }, 120_000);

  test.each(TOOLCHAINS)('global-flag-add-fix (%s): hotpatchable, and patched live it prints v2', async (tc) => {
    const { h, neu, d } = await startProbe('global-flag-add-fix', tc);
    expect(changedVerdicts(d)).toEqual(['pack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'global-flag-add-fix.dll', `global-flag-add-fix-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'global-flag-add-fix.dll')).toBe(neu);
  }, 120_000);

  test('global-bitfield-immediate (gcc -O1): the global stored as one immediate, its fields swapped; refused; carried anyway, the patched process prints neither version', async () => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-immediate', 'gcc', '-O1');
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual([`init: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'init')?.reason?.message).toMatch(/^it stores the word at \+0x0 of writable global g_word as one immediate with other bits than its old body/);
    const presented = liftRule(d, CODE);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-bitfield-immediate.dll', 'global-bitfield-immediate-gcc-O1.hpk');
    const after = await patchedRound(h, pkg, 'global-bitfield-immediate.dll');
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  // clang keeps only whether init ran (a byte flag) and folds each version's word into unpack:
  // the running image holds no packed word, and unpack alone is the change.
  test('global-bitfield-immediate (clang -O2): the word folded into unpack; hotpatchable, and patched live it prints v2', async () => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-immediate', 'clang', '-O2');
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'global-bitfield-immediate.dll', 'global-bitfield-immediate-clang-O2.hpk');
    expect(await patchedRound(h, pkg, 'global-bitfield-immediate.dll')).toBe(neu);
  }, 120_000);
  const FILL: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O0'], ['gcc', '-O1'], ['gcc', '-O2'], ['clang', '-O2'], ['clang', '-Os']];

  test.each(FILL)('global-bitfield-fill (%s %s): fields set to all ones by lone in-place `or [rip+g],imm`, swapped; refused; carried anyway, the patched process misreads them', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-fill', tc, opt);
    // Only the layout changed: both versions print the same line.
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual([`fill: ${CODE}`, `unpack: ${CODE}`]);
    expect(d.functions.find((f) => f.name === 'fill')?.reason?.message).toMatch(/^bit-field layout of writable global g_word(\.0)? changed at \+0x0: .*\(old only: fill set 0x7, fill set 0xf8; new only: fill set 0xe0, fill set 0x1f\)/);
    const presented = liftRule(d, CODE);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, 'global-bitfield-fill.dll', `global-bitfield-fill-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'global-bitfield-fill.dll')).not.toBe(old);
  }, 120_000);

  test.each(FILL)('global-bitfield-fill-fix (%s %s): the same fills, another condition and formula: hotpatchable, and patched live it prints v2', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'global-bitfield-fill-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['fill: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'global-bitfield-fill-fix.dll', `global-bitfield-fill-fix-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, 'global-bitfield-fill-fix.dll')).toBe(neu);
  }, 120_000);
});
