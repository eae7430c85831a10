/**
 * Arguments with another meaning under callers outside the module, live under Wine
 * (compiler/diff/entry-arguments.ts with argument-roles.ts). samples/entry-args-roles/importer.c
 * stands for a module compiled against entry-args-roles v1: loaded next to the scenario DLL
 * (`host.exe --also`), it calls the exports pick(p, i), bump(tag, n), make_trio(x) and
 * deep_api(x) with v1's signatures every round.
 *
 * Before the rule saw roles, the pair was hotpatchable (both compilers): the same registers are
 * read before and after, only their meaning changed, and deep_api reaches the grown deep_impl
 * two calls deep. The first test builds that package (the rule's refusals presented as
 * hotpatchable, with their redirects, as the diff gave before) and applies it live: the
 * importer's pick faults (the new body dereferences the index), bump gets the tag pointer's low
 * bits as n, make_trio never writes the importer's result, deep_api multiplies by whatever rdx
 * held. Now the build is refused, naming the four functions, and a --skip-refused package
 * leaves the importer v1's answers.
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
const suite = liveSuite('hp-entry-args-roles-', skip);
const NAME = 'entry-args-roles';
const expected = (v: 'v1' | 'v2'): string => expectedOutput(NAME, v);
const dllFile = (tc: Toolchain): string => `v1${tc === 'clang' ? '.clang' : ''}.dll`;
/** What the importer prints, line by line, when each export answers as v1's does. */
const V1_LINES = [1, 2].flatMap((x) => [
  `importer pick(values, ${x}) = ${[1, 2, 3, 4][x & 3]! + 1}`,
  `importer bump("a", ${x}) = ${97 + x}`,
  `importer make_trio(${x}) = {${x - 1}, ${x + 1}, ${x}}`,
  `importer deep_api(${x}) = ${(5 * x + 1) * 2}`,
]);

/** A host running v1 (of `tc`) with the importer next to it, checked on round 1. */
async function v1Host(tc: Toolchain): Promise<HostSession> {
  const h = await suite.start(scenarioDll(NAME, 'v1', false, undefined, tc), { also: [buildImporter(suite.dir(), NAME, dllFile(tc))] });
  expect(h.first.output).toBe(expected('v1') + V1_LINES.map((l) => `${l}\n`).join(''));
  return h;
}

describe.skipIf(skip !== undefined)(`entry-args-roles, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const tc of ['gcc', 'clang'] as const) {
    test(`${tc}: the package without the rule, applied live, gives the v1 importer other answers from every export it calls`, async () => {
      const d = diffFiles(new Uint8Array(readFileSync(scenarioDll(NAME, 'v1', false, undefined, tc))), new Uint8Array(readFileSync(scenarioDll(NAME, 'v2', false, undefined, tc))));
      if (!d.ok) throw new Error(d.error.message);
      const presented = withoutEntryArgumentRule(d.value);
      expect(presented.hotpatchable).toBe(true);
      const e = emitPackage(presented, { moduleName: dllFile(tc), skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
      if (!e.ok) throw new Error(e.error.message);
      expect(verifyPackage(presented, e.value.pkg).ok, 'the verifier alone does not catch it').toBe(true);
      const bytes = await encodePackage(e.value.pkg);
      if (!bytes.ok) throw new Error(bytes.error.message);
      const pkg = join(suite.dir(), `without-${tc}.hpk`);
      writeFileSync(pkg, bytes.value);
      const h = await v1Host(tc);
      const out = await patchedRound(h, pkg, dllFile(tc));
      expect(out.startsWith(expected('v2')), 'the DLL itself now answers as v2').toBe(true);
      const lines = out.slice(expected('v2').length).trimEnd().split('\n');
      expect(lines).toHaveLength(V1_LINES.length);
      // Every export the importer calls answers otherwise (pick: the fault the importer catches).
      for (let k = 0; k < lines.length; k++) expect(lines[k], `line ${k}`).not.toBe(V1_LINES[k]);
      expect(lines.filter((l) => l.startsWith('importer pick('))).toEqual(['importer pick(values, 1) = -999', 'importer pick(values, 2) = -999']);
    }, 120_000);

    test(`${tc}: refused, naming the four functions; the --skip-refused patch leaves the importer v1's answers`, async () => {
      const v1 = scenarioDll(NAME, 'v1', false, undefined, tc);
      const v2 = scenarioDll(NAME, 'v2', false, undefined, tc);
      const out = join(suite.dir(), `p-${tc}.hpk`);
      const r = await runHotpatchAsync(['build', v1, v2, '-o', out, '--unsigned', '--json']);
      expect(r.status).toBe(31);
      const j = JSON.parse(r.stdout) as { refused: Array<{ code: string }> };
      expect(j.refused.map((x) => x.code)).toEqual(Array(4).fill('ENTRY_ARGUMENTS_CHANGED'));
      const s = await runHotpatchAsync(['build', v1, v2, '-o', out, '--unsigned', '--skip-refused', '--json']);
      expect(s.status, s.stderr).toBe(0);
      const h = await v1Host(tc);
      const after = await patchedRound(h, out, dllFile(tc));
      expect(after.endsWith(V1_LINES.map((l) => `${l}\n`).join(''))).toBe(true);
    }, 120_000);
  }
});
