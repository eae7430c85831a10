/**
 * Arguments with another meaning under callers outside the module, live under Wine: stack
 * arguments (compiler/diff/entry-arguments.ts with stack-arguments.ts stackArgumentRoles) and
 * two parameters swapped (argument-permutation.ts). Each scenario's importer.c stands for a
 * module compiled against v1: loaded next to the scenario DLL (`host.exe --also`), it calls the
 * exports with v1's signatures every round.
 * - entry-args-stack: gather(a, b, c, d, p, n) and span(a, b, c, d, s, n), whose fifth and
 *   sixth parameters swap or whose fifth goes; the new bodies read the same stack slots or fewer.
 * - entry-args-swap: ratio(num, den) becomes ratio(den, num); same registers, same roles.
 * - entry-args-order: area_of(b, s) becomes area_of(s, b) (two pointers: the fields read through
 *   rcx and rdx move to each other, pointer-fields.ts) and mix3(a, b, c) becomes mix3(a, c) (a
 *   middle integer removed: the caller passes in rdx what it passed in r8, argument-permutation.ts).
 * - entry-args-thunk: the unchanged export gather_api (`jmp gather_impl`) hands old callers' stack
 *   slots to gather_impl, whose fifth and sixth parameters swap (entry-arguments.ts, tail jumps).
 *
 * Before the rules, each pair was hotpatchable (both compilers). The first test builds that
 * package (the rule's refusals presented as hotpatchable, with their redirects, as the diff
 * gave before) and applies it live: the importer's gather faults (the new body dereferences the
 * index in the sixth slot), span adds the low bits of the string pointer in the fifth, ratio
 * divides 7 by 60, area_of multiplies the scale's bytes as the box's, mix3 reads b as c. Now the build is refused, naming them, and a --skip-refused package leaves
 * the importer v1's answers.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPILER_VERSION, diffFiles, emitPackage, verifyPackage } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import type { HostSession } from '../samples/host/host-session.ts';
import { scenarioDll, type Toolchain } from '../samples/scenarios.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { buildImporter, withoutEntryArgumentRule } from './support/importer.ts';
import { expectedOutput, liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw']);
const suite = liveSuite('hp-entry-args-stack-swap-', skip);
/** Per scenario: what its importer prints when each export answers as v1's does, and what the package without the rule gives for sure. */
const SCENARIOS = {
  // 1*2 + 3*4 + values[x]; 1*2 + 3*4 + 'a' + x. The new gather faults on the index (-999).
  'entry-args-stack': {
    v1: [1, 2].flatMap((x) => [`importer gather(1, 2, 3, 4, values, ${x}) = ${14 + [1, 2, 3, 4][x]!}`, `importer span(1, 2, 3, 4, "a", ${x}) = ${14 + 97 + x}`]),
    without: ['importer gather(1, 2, 3, 4, values, 1) = -999', 'importer gather(1, 2, 3, 4, values, 2) = -999'],
    refused: ['gather', 'span'],
  },
  // 60 / den + 60 % 5; the new body computes den / 60 + den % 5.
  'entry-args-swap': {
    v1: [7, 8].map((d) => `importer ratio(60, ${d}) = ${Math.trunc(60 / d)}`),
    without: [7, 8].map((d) => `importer ratio(60, ${d}) = ${d % 5}`),
    refused: ['ratio'],
  },
  // 20x and 100x + 57; the new area_of reads the box from the scale (5, 0: area 0, plus 1), the new mix3 reads 5 as c.
  'entry-args-order': {
    v1: [1, 2].flatMap((x) => [`importer area_of(box(${x}, 4), scale(5)) = ${20 * x}`, `importer mix3(${x}, 5, 7) = ${100 * x + 57}`]),
    without: [1, 2].flatMap((x) => [`importer area_of(box(${x}, 4), scale(5)) = 1`, `importer mix3(${x}, 5, 7) = ${100 * x + 55}`]),
    refused: ['area_of', 'mix3'],
  },
  // 1*2 + 3*4 + values[x] through the unchanged thunk gather_api; the new gather_impl faults on the index.
  'entry-args-thunk': {
    v1: [1, 2].map((x) => `importer gather_api(1, 2, 3, 4, values, ${x}) = ${14 + [1, 2, 3, 4][x]!}`),
    without: [1, 2].map((x) => `importer gather_api(1, 2, 3, 4, values, ${x}) = -999`),
    refused: ['gather_api'],
  },
} as const;
type Name = keyof typeof SCENARIOS;
const expected = (name: Name, v: 'v1' | 'v2'): string => expectedOutput(name, v);
const dllFile = (tc: Toolchain): string => `v1${tc === 'clang' ? '.clang' : ''}.dll`;
const v1Text = (name: Name): string => SCENARIOS[name].v1.map((l) => `${l}\n`).join('');

/** A host running `name` v1 (of `tc`) with its importer next to it, checked on round 1. */
async function v1Host(name: Name, tc: Toolchain): Promise<HostSession> {
  const h = await suite.start(scenarioDll(name, 'v1', false, undefined, tc), { also: [buildImporter(suite.dir(), name, dllFile(tc))] });
  expect(h.first.output).toBe(expected(name, 'v1') + v1Text(name));
  return h;
}

describe.skipIf(skip !== undefined)(`entry-args-stack, -swap, -order and -thunk, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const [name, tc] of (Object.keys(SCENARIOS) as Name[]).flatMap((n) => (['gcc', 'clang'] as const).map((t) => [n, t] as const))) {
    const sc = SCENARIOS[name];
    test(`${name}, ${tc}: the package without the rule, applied live, gives the v1 importer other answers from ${sc.refused.join(' and ')}`, async () => {
      const d = diffFiles(new Uint8Array(readFileSync(scenarioDll(name, 'v1', false, undefined, tc))), new Uint8Array(readFileSync(scenarioDll(name, 'v2', false, undefined, tc))));
      if (!d.ok) throw new Error(d.error.message);
      const presented = withoutEntryArgumentRule(d.value);
      expect(presented.hotpatchable).toBe(true);
      const e = emitPackage(presented, { moduleName: dllFile(tc), skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
      if (!e.ok) throw new Error(e.error.message);
      expect(verifyPackage(presented, e.value.pkg).ok, 'the verifier alone does not catch it').toBe(true);
      const bytes = await encodePackage(e.value.pkg);
      if (!bytes.ok) throw new Error(bytes.error.message);
      const pkg = join(suite.dir(), `without-${name}-${tc}.hpk`);
      writeFileSync(pkg, bytes.value);
      const h = await v1Host(name, tc);
      const out = await patchedRound(h, pkg, dllFile(tc));
      expect(out.startsWith(expected(name, 'v2')), 'the DLL itself now answers as v2').toBe(true);
      const lines = out.slice(expected(name, 'v2').length).trimEnd().split('\n');
      expect(lines).toHaveLength(sc.v1.length);
      for (let k = 0; k < lines.length; k++) expect(lines[k], `line ${k}`).not.toBe(sc.v1[k]);
      for (const l of sc.without) expect(lines).toContain(l);
    }, 120_000);

    test(`${name}, ${tc}: refused, naming ${sc.refused.join(' and ')}; the --skip-refused patch leaves the importer v1's answers`, async () => {
      const v1 = scenarioDll(name, 'v1', false, undefined, tc);
      const v2 = scenarioDll(name, 'v2', false, undefined, tc);
      const out = join(suite.dir(), `p-${name}-${tc}.hpk`);
      const r = await runHotpatchAsync(['build', v1, v2, '-o', out, '--unsigned', '--json']);
      expect(r.status).toBe(31);
      const j = JSON.parse(r.stdout) as { refused: Array<{ code: string; message: string }> };
      expect(j.refused.map((x) => x.code)).toEqual(sc.refused.map(() => 'ENTRY_ARGUMENTS_CHANGED'));
      expect(j.refused.map((x) => /the export (\w+)/.exec(x.message)?.[1]).sort()).toEqual([...sc.refused]);
      const s = await runHotpatchAsync(['build', v1, v2, '-o', out, '--unsigned', '--skip-refused', '--json']);
      expect(s.status, s.stderr).toBe(0);
      const h = await v1Host(name, tc);
      const after = await patchedRound(h, out, dllFile(tc));
      expect(after.endsWith(v1Text(name))).toBe(true);
    }, 120_000);
  }
});
