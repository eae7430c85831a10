/**
 * Adversarial layout probes (issue #14, safety), in a real process under Wine: objects that the
 * first hp_run call builds with v1's code, and that every later call reads, meet v2's code.
 * - heap-stride (samples/heap-stride): an array's element grows 8 -> 12 bytes at its end (no
 *   field moves, no new constant offset). Refused STRUCTURE_STRIDE_CHANGED
 *   (compiler/diff/element-stride.ts); the package the compiler would write without the rule
 *   applies live, and the process then prints neither v1's sums nor v2's. Its twin
 *   heap-stride-fix (same element size, a fix that starts reading an existing field) is
 *   hotpatchable and, patched live, prints v2's sums.
 * - bitfield-reorder (test/probes/bitfield-reorder.c, built here by both compilers with the
 *   samples' flags): two bit-fields swap places in a 4-byte word (same size, same offsets,
 *   only shift and mask constants differ). pack is refused STRUCTURE_BITFIELD_CHANGED
 *   (compiler/diff/bitfield-layout.ts), and unpack, which decodes the word with new constants,
 *   with it (compiler/diff/bitfield-readers.ts): --skip-refused leaves both out. The package
 *   without the rule applies live and the process prints neither version (new unpack decodes
 *   words old pack wrote). bitfield-flag-swap: two one-bit flags, set and cleared by lone
 *   in-place or/and, swap places; both versions print the same lines, and patched without
 *   the rule the process prints others. At gcc/clang -O0 each flag is set and cleared through
 *   a register (load, one-bit `or`/`and`, store back): hotpatchable, carried the process
 *   misread the flags; now the same flag stores (bitfield-layout.ts registerFlag). Its twin
 *   of both, bitfield-flag-fix (one layout, unpack tests another flag bit: only a read mask changes)
 *   is hotpatchable and, patched live, prints v2's lines.
 */
import { describe, expect, test } from 'vitest';
import { COMPILER_VERSION, emitPackage, type ImageDiff } from '../compiler/index.ts';
import type { Toolchain } from '../samples/scenarios.ts';
import { expectedOutput, liveSuite, patchedRound, sampleDll } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, liftRule, startLayoutProbe, writeProbePackage } from './support/layout-probes.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const suite = liveSuite('hp-probe-layout-', skip);

/** test/probes/<name>.c as version `v` by `tc`, built into the suite's folder. */
const buildProbe = (name: string, v: 1 | 2, tc: Toolchain): string => buildLayoutProbe(suite.dir(), name, v, tc);
const writePackage = (d: ImageDiff, moduleName: string, file: string): Promise<string> => writeProbePackage(suite.dir(), d, moduleName, file);

const VARIANTS: ReadonlyArray<readonly [Toolchain, string]> = [
  ['gcc', ''],
  ['clang', '.clang'],
];

describe.skipIf(skip !== undefined)(`layout probes live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(VARIANTS)('heap-stride (%s): refused; carried anyway, old cells are walked at the new stride', async (tc, variant) => {
    const d = diffDlls(sampleDll('heap-stride', 'v1', variant), sampleDll('heap-stride', 'v2', variant));
    expect(d.functions.filter((f) => f.verdict === 'refused').map((f) => `${f.name}: ${f.reason?.code}`).sort()).toEqual([
      'cells_fill: STRUCTURE_STRIDE_CHANGED',
      'cells_sum: STRUCTURE_STRIDE_CHANGED',
    ]);
    const presented = liftRule(d, 'STRUCTURE_STRIDE_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writePackage(presented, 'v1.dll', `heap-stride-${tc}.hpk`);
    const old = expectedOutput('heap-stride', 'v1');
    const neu = expectedOutput('heap-stride', 'v2');
    const h = await suite.start(sampleDll('heap-stride', 'v1', variant));
    expect(h.first.output).toBe(old);
    const after = await patchedRound(h, pkg, `v1${variant}.dll`);
    // The patch applied, and the process prints neither OLD's sums nor NEW's.
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(VARIANTS)('heap-stride-fix (%s): hotpatchable, and patched live it prints v2', async (tc, variant) => {
    const d = diffDlls(sampleDll('heap-stride-fix', 'v1', variant), sampleDll('heap-stride-fix', 'v2', variant));
    expect(d.hotpatchable).toBe(true);
    const pkg = await writePackage(d, 'v1.dll', `heap-stride-fix-${tc}.hpk`);
    const h = await suite.start(sampleDll('heap-stride-fix', 'v1', variant));
    expect(h.first.output).toBe(expectedOutput('heap-stride-fix', 'v1'));
    expect(await patchedRound(h, pkg, `v1${variant}.dll`)).toBe(expectedOutput('heap-stride-fix', 'v2'));
  }, 120_000);

  test.each(VARIANTS)('bitfield-reorder (%s): refused; carried anyway, the patched process prints neither version', async (tc) => {
    const v1 = buildProbe('bitfield-reorder', 1, tc);
    const v2 = buildProbe('bitfield-reorder', 2, tc);
    const neu = (await suite.start(v2)).first.output;
    const h = await suite.start(v1);
    const old = h.first.output;
    expect(neu).not.toBe(old);
    const d = diffDlls(v1, v2);
    expect(d.functions.filter((f) => f.status === 'changed').map((f) => `${f.name}: ${f.reason?.code ?? f.verdict}`).sort()).toEqual([
      'pack: STRUCTURE_BITFIELD_CHANGED',
      'unpack: STRUCTURE_BITFIELD_CHANGED',
    ]);
    expect(d.functions.find((f) => f.name === 'unpack')?.reason?.message).toContain('pack now packs that word in another bit layout');
    expect(d.hotpatchable).toBe(false);
    // --skip-refused carries neither: new unpack alone would misread words old pack wrote.
    const skipped = emitPackage(d, { moduleName: 'bitfield-reorder.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!skipped.ok) throw new Error(skipped.error.message);
    expect(skipped.value.omitted.map((o) => o.what).sort()).toEqual(['function pack', 'function unpack']);
    expect(skipped.value.blockOf.size).toBe(0);
    const presented = liftRule(d, 'STRUCTURE_BITFIELD_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writePackage(presented, 'bitfield-reorder.dll', `bitfield-reorder-${tc}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-reorder.dll');
    // New unpack decodes the words old pack wrote with the other bit order.
    expect(after).not.toBe(neu);
    expect(after).not.toBe(old);
  }, 120_000);

  test.each(VARIANTS)('bitfield-flag-swap (%s): refused; carried anyway, the patched process misreads the flags', async (tc) => {
    const v1 = buildProbe('bitfield-flag-swap', 1, tc);
    const v2 = buildProbe('bitfield-flag-swap', 2, tc);
    const neu = (await suite.start(v2)).first.output;
    const h = await suite.start(v1);
    const old = h.first.output;
    // Only the layout changed: both versions print the same lines.
    expect(neu).toBe(old);
    const d = diffDlls(v1, v2);
    expect(d.functions.filter((f) => f.status === 'changed').map((f) => `${f.name}: ${f.reason?.code ?? f.verdict}`).sort()).toEqual([
      'pack: STRUCTURE_BITFIELD_CHANGED',
      'unpack: STRUCTURE_BITFIELD_CHANGED',
    ]);
    const presented = liftRule(d, 'STRUCTURE_BITFIELD_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writePackage(presented, 'bitfield-flag-swap.dll', `bitfield-flag-swap-${tc}.hpk`);
    // New unpack reads old pack's `on` bit as `hot`.
    expect(await patchedRound(h, pkg, 'bitfield-flag-swap.dll')).not.toBe(old);
  }, 120_000);

  // -O0 sets and clears each flag through a register (gcc `movzx edx,byte [rax]; or edx,0x1; mov [rax],dl`).
  test.each(['gcc', 'clang'] as const)('bitfield-flag-swap (%s -O0): refused; carried anyway, the patched process misreads the flags', async (tc) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'bitfield-flag-swap', tc, '-O0');
    expect(neu).toBe(old);
    expect(changedVerdicts(d)).toEqual(['pack: STRUCTURE_BITFIELD_CHANGED', 'unpack: STRUCTURE_BITFIELD_CHANGED']);
    const presented = liftRule(d, 'STRUCTURE_BITFIELD_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writePackage(presented, 'bitfield-flag-swap.dll', `bitfield-flag-swap-${tc}-O0.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-flag-swap.dll')).not.toBe(old);
  }, 120_000);

  test.each(['gcc', 'clang'] as const)('bitfield-flag-fix (%s -O0): hotpatchable, and patched live it prints v2', async (tc) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'bitfield-flag-fix', tc, '-O0');
    expect(old).not.toBe(neu);
    expect(changedVerdicts(d)).toEqual(['unpack: hotpatchable']);
    const pkg = await writePackage(d, 'bitfield-flag-fix.dll', `bitfield-flag-fix-${tc}-O0.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-flag-fix.dll')).toBe(neu);
  }, 120_000);

  test.each(VARIANTS)('bitfield-flag-fix (%s): hotpatchable, and patched live it prints v2', async (tc) => {
    const v1 = buildProbe('bitfield-flag-fix', 1, tc);
    const v2 = buildProbe('bitfield-flag-fix', 2, tc);
    const neu = (await suite.start(v2)).first.output;
    const h = await suite.start(v1);
    expect(h.first.output).not.toBe(neu);
    const d = diffDlls(v1, v2);
    expect(d.functions.filter((f) => f.status === 'changed').map((f) => f.name)).toEqual(['unpack']);
    expect(d.hotpatchable).toBe(true);
    const pkg = await writePackage(d, 'bitfield-flag-fix.dll', `bitfield-flag-fix-${tc}.hpk`);
    expect(await patchedRound(h, pkg, 'bitfield-flag-fix.dll')).toBe(neu);
  }, 120_000);

  test.each(VARIANTS)('bitfield-readers (%s): the writer\'s readers refused with it, readers of other words at +0 hotpatchable; carried, they print v2', async (tc) => {
    const v1 = buildProbe('bitfield-readers', 1, tc);
    const v2 = buildProbe('bitfield-readers', 2, tc);
    const neu = (await suite.start(v2)).first.output;
    const h = await suite.start(v1);
    const old = h.first.output;
    const lines = (out: string, prefix: string): string[] => out.split('\n').filter((l) => l.startsWith(prefix));
    expect(lines(neu, 'weight(')).not.toEqual(lines(old, 'weight('));
    const d = diffDlls(v1, v2);
    expect(d.functions.filter((f) => f.status === 'changed').map((f) => `${f.name}: ${f.reason?.code ?? f.verdict}`).sort()).toEqual([
      'level_of: STRUCTURE_BITFIELD_CHANGED',
      'mode_of: hotpatchable',
      'pack: STRUCTURE_BITFIELD_CHANGED',
      'unpack: STRUCTURE_BITFIELD_CHANGED',
      'weight_of: hotpatchable',
    ]);
    expect(d.functions.find((f) => f.name === 'level_of')?.reason?.message).toContain('bits 4 and up of the word at +0x0');
    // Carried anyway (every function, as before the reader rule): weight_of and mode_of print v2's
    // lines on the objects v1 made, while level_of (like unpack) decodes old-packed words in the
    // new order and prints neither version's levels. (--skip-refused carries none of the five:
    // unchanged hp_run calls the left-out ones beside them.)
    const presented = liftRule(d, 'STRUCTURE_BITFIELD_CHANGED');
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writePackage(presented, 'bitfield-readers.dll', `bitfield-readers-${tc}.hpk`);
    const after = await patchedRound(h, pkg, 'bitfield-readers.dll');
    expect(lines(after, 'weight(')).toEqual(lines(neu, 'weight('));
    const levels = (out: string): string[] => lines(out, 'unpack(').map((l) => l.slice(l.indexOf(' level = ')));
    expect(levels(after)).not.toEqual(levels(old));
    expect(levels(after)).not.toEqual(levels(neu));
  }, 120_000);
});
