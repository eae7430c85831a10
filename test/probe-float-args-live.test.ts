/**
 * Two double parameters of an export swapped (issue #14, safety), live under Wine. The probe
 * test/probes/entry-args-fswap.c turns fratio(num, den) into fratio(den, num); its importer
 * (entry-args-fswap-importer.c, loaded next to the DLL with `host.exe --also`) stands for a
 * module compiled against v1 and calls fratio(60, d) every round. Both compilers' builds were
 * called hotpatchable (argument roles follow no xmm register); now fratio is refused
 * ENTRY_ARGUMENTS_CHANGED from the module's caller passing its constants in swapped xmm
 * registers (compiler/diff/site-arguments.ts). The package the compiler wrote before the rule
 * applies live, and the importer then gets 4133 for fratio(60, 8) where v1 answers 37500.
 * The same for five(a, b, c, d, e, f), whose doubles e and f (stack arguments 5 and 6) swap:
 * the caller stores its constants into swapped slots; patched without the rule, the importer's
 * five(1, 2, 3, 4, 60, 8) gives 10133 where v1 answers 17500.
 * The twin entry-args-fswap-fix (a fix inside fratio, callers unchanged) stays hotpatchable,
 * and patched live the DLL prints v2's line and the importer v2's answers.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { Toolchain } from '../samples/scenarios.ts';
import { withoutEntryArgumentRule } from './support/importer.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, startImporterProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const suite = liveSuite('hp-probe-float-args-', skip);
const TOOLCHAINS: readonly Toolchain[] = ['gcc', 'clang'];

/** `importer fratio(60, d) = x` lines for d = 8, 10 with `answer(d)`. */
const importerLines = (answer: (d: number) => number): string => [8, 10].map((d) => `importer fratio(60, ${d}) = ${answer(d)}\n`).join('');
const V1 = importerLines((d) => Math.trunc((60 / d + 30) * 1000));
/** `importer five(60, d) = x` lines (entry-args-fswap only). */
const fiveLines = (answer: (d: number) => number): string => [8, 10].map((d) => `importer five(60, ${d}) = ${answer(d)}\n`).join('');
const FIVE_V1 = fiveLines((d) => Math.trunc((10 + 60 / d) * 1000));

/** Both versions of probe `name` by `tc`, v2's own output, and a host running v1 with the importer. */
const startProbe = (name: string, tc: Toolchain) => startImporterProbe(suite, name, 'entry-args-fswap-importer', tc);

const shapesSkip = missingTools(['mingw', 'clang']);

describe.skipIf(shapesSkip !== undefined)(`float parameters reordered in other codegen shapes${shapesSkip ? ` (skipped: ${shapesSkip})` : ''}`, () => {
  const OPTS = ['-O1', '-O2', '-Os'] as const;
  test.each(TOOLCHAINS.flatMap((tc) => OPTS.map((o) => [tc, o] as const)))('entry-args-fshapes (%s %s): sratio, own, mixed and five refused ENTRY_ARGUMENTS_CHANGED', (tc, opt) => {
    const dir = join(suite.dir(), `fshapes${opt}`);
    const d = diffDlls(buildLayoutProbe(dir, 'entry-args-fshapes', 1, tc, opt), buildLayoutProbe(dir, 'entry-args-fshapes', 2, tc, opt));
    expect(changedVerdicts(d)).toEqual(['all: hotpatchable', 'five: ENTRY_ARGUMENTS_CHANGED', 'five_all: hotpatchable', 'mixed: ENTRY_ARGUMENTS_CHANGED', 'own: ENTRY_ARGUMENTS_CHANGED', 'own_all: hotpatchable', 'sratio: ENTRY_ARGUMENTS_CHANGED']);
    expect(d.functions.find((f) => f.name === 'sratio')?.reason?.message).toContain('(old all passed the constant 0x42700000, the constant 0x41000000 there');
    expect(d.functions.find((f) => f.name === 'five')?.reason?.message).toContain('reads its 5th argument ([rsp+0x28] at entry) and its 6th argument ([rsp+0x30] at entry) as its old body did, but its callers in the module now pass them swapped (old five_all passed the constant 0x404e000000000000, the constant 0x4020000000000000');
    expect(d.functions.find((f) => f.name === 'own')?.reason?.message).toContain('(old own_all passed its own xmm0, its own xmm1 there; its new body its own xmm1, its own xmm0');
  }, 60_000);
});

describe.skipIf(skip !== undefined)(`float parameters swapped, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(TOOLCHAINS)('entry-args-fswap (%s): refused; carried anyway, the v1 importer gets other answers', async (tc) => {
    const { h, neu, file, d } = await startProbe('entry-args-fswap', tc);
    expect(h.first.output.endsWith(V1 + FIVE_V1)).toBe(true);
    expect(changedVerdicts(d)).toEqual(['five: ENTRY_ARGUMENTS_CHANGED', 'five_all: hotpatchable', 'fratio: ENTRY_ARGUMENTS_CHANGED', 'fratio_all: hotpatchable']);
    expect(d.functions.find((f) => f.name === 'fratio')?.reason?.message).toContain('reads xmm0 and xmm1 as its old body did, but its callers in the module now pass them swapped (old fratio_all passed the constant 0x404e000000000000, the constant 0x4020000000000000');
    const presented = withoutEntryArgumentRule(d);
    expect(presented.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const pkg = await writeProbePackage(suite.dir(), presented, file, `entry-args-fswap-${tc}.hpk`);
    const after = await patchedRound(h, pkg, file);
    expect(after.startsWith(neu), 'the DLL itself now answers as v2').toBe(true);
    // The importer's fratio(60, d) and five(.., 60, d) reach bodies that divide d by 60.
    expect(after.slice(neu.length)).toBe(importerLines((d) => Math.trunc((d / 60 + d * 0.5) * 1000)) + fiveLines((d) => Math.trunc((10 + d / 60) * 1000)));
  }, 120_000);

  test.each(TOOLCHAINS)('entry-args-fswap-fix (%s): hotpatchable, and patched live the DLL and the importer answer as v2', async (tc) => {
    const { h, neu, file, d } = await startProbe('entry-args-fswap-fix', tc);
    expect(h.first.output.endsWith(V1)).toBe(true);
    expect(changedVerdicts(d)).toEqual(['fratio: hotpatchable']);
    expect(d.hotpatchable).toBe(true);
    const pkg = await writeProbePackage(suite.dir(), d, file, `entry-args-fswap-fix-${tc}.hpk`);
    expect(await patchedRound(h, pkg, file)).toBe(neu + importerLines((d) => Math.trunc((60 / d + d * 0.5) * 1000)));
  }, 120_000);
});
