/**
 * Stack arguments with another meaning under callers outside the module, live under Wine
 * (compiler/diff/entry-arguments.ts with stack-arguments.ts stackArgumentRoles).
 * samples/entry-args-stack/importer.c stands for a module compiled against entry-args-stack v1:
 * loaded next to the scenario DLL (`host.exe --also`), it calls the exports
 * gather(a, b, c, d, p, n) and span(a, b, c, d, s, n) with v1's signatures every round.
 *
 * Before the rule saw stack-argument roles, the pair was hotpatchable (both compilers): the new
 * bodies read the same stack slots or fewer, only their meaning changed. The first test builds
 * that package (the rule's refusals presented as hotpatchable, with their redirects, as the diff
 * gave before) and applies it live: the importer's gather faults (the new body dereferences the
 * index in the sixth slot), span adds the low bits of the string pointer in the fifth. Now the
 * build is refused, naming both, and a --skip-refused package leaves the importer v1's answers.
 * (Helpers as test/entry-args-roles-live.test.ts's: to share when the live tests get their
 * common support module.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPILER_VERSION, diffFiles, emitPackage, verifyPackage, type FunctionChange, type ImageDiff } from '../compiler/index.ts';
import { planRedirect } from '../compiler/diff/redirect-sites.ts';
import { encodePackage } from '../formats/container.ts';
import { endHosts, startHost, type HostSession } from '../samples/host/host-session.ts';
import { readExpectedOutput, scenarioDll, type Toolchain } from '../samples/scenarios.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { buildImporter } from './support/importer.ts';
import { missingTools } from './support/tools.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';

const skip = missingTools(['wine', 'mingw']);
const NAME = 'entry-args-stack';
const expected = (v: 'v1' | 'v2'): string => readExpectedOutput(NAME, v)!;
const dllFile = (tc: Toolchain): string => `v1${tc === 'clang' ? '.clang' : ''}.dll`;
/** What the importer prints when each export answers as v1's does: 1*2 + 3*4 + values[x] / + 'a' + x. */
const V1_LINES = [1, 2].flatMap((x) => [`importer gather(1, 2, 3, 4, values, ${x}) = ${14 + [1, 2, 3, 4][x]!}`, `importer span(1, 2, 3, 4, "a", ${x}) = ${14 + 97 + x}`]);
const V1_TEXT = V1_LINES.map((l) => `${l}\n`).join('');

let dir = '';
const hosts: HostSession[] = [];
afterEach(async () => {
  for (const code of await endHosts(hosts.splice(0))) expect(code, 'the host must survive and exit cleanly').toBe(0);
});

/** The diff as it was before the rule saw stack-argument roles: its refusals presented as hotpatchable, with their redirects. */
function withoutTheRule(d: ImageDiff): ImageDiff {
  const reserved = new Set<number>();
  const functions = d.functions.map((f): FunctionChange => {
    if (f.reason?.code !== 'ENTRY_ARGUMENTS_CHANGED') return f;
    const r = planRedirect(d.match.old, d.match.old.fns.functions[f.oldIndex!]!, reserved);
    if ('code' in r) throw new Error(`${f.name ?? ''}: ${r.message}`);
    return { ...f, verdict: 'hotpatchable', reason: null, redirect: r };
  });
  return { ...d, functions, hotpatchable: functions.every((f) => f.verdict !== 'refused') };
}

/** A host running v1 (of `tc`) with the importer next to it, checked on round 1. */
async function v1Host(tc: Toolchain): Promise<HostSession> {
  const h = await startHost(scenarioDll(NAME, 'v1', false, undefined, tc), { also: [buildImporter(dir, NAME, dllFile(tc))] });
  if (!h.ok) throw new Error(h.error.message);
  hosts.push(h.value);
  expect(h.value.first.output).toBe(expected('v1') + V1_TEXT);
  return h.value;
}

/** Applies `pkg` live to `h` and returns round 2's output. */
async function patchedRound(h: HostSession, pkg: string, tc: Toolchain): Promise<string> {
  const live = await runHotpatchAsync(['live', pkg, '--pid', String(h.windowsPid), '--module', dllFile(tc), '--allow-unsigned', '--json'], wineEnv());
  expect(live.status, live.stderr).toBe(0);
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  expect(r.value.error).toBeUndefined();
  return r.value.output;
}

describe.skipIf(skip !== undefined)(`entry-args-stack, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    keepWineServer();
    dir = mkdtempSync(join(tmpdir(), 'hp-entry-args-stack-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const tc of ['gcc', 'clang'] as const) {
    test(`${tc}: the package without the rule, applied live, gives the v1 importer other answers from gather and span`, async () => {
      const d = diffFiles(new Uint8Array(readFileSync(scenarioDll(NAME, 'v1', false, undefined, tc))), new Uint8Array(readFileSync(scenarioDll(NAME, 'v2', false, undefined, tc))));
      if (!d.ok) throw new Error(d.error.message);
      const presented = withoutTheRule(d.value);
      expect(presented.hotpatchable).toBe(true);
      const e = emitPackage(presented, { moduleName: dllFile(tc), skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
      if (!e.ok) throw new Error(e.error.message);
      expect(verifyPackage(presented, e.value.pkg).ok, 'the verifier alone does not catch it').toBe(true);
      const bytes = await encodePackage(e.value.pkg);
      if (!bytes.ok) throw new Error(bytes.error.message);
      const pkg = join(dir, `without-${tc}.hpk`);
      writeFileSync(pkg, bytes.value);
      const h = await v1Host(tc);
      const out = await patchedRound(h, pkg, tc);
      expect(out.startsWith(expected('v2')), 'the DLL itself now answers as v2').toBe(true);
      const lines = out.slice(expected('v2').length).trimEnd().split('\n');
      expect(lines).toHaveLength(V1_LINES.length);
      for (let k = 0; k < lines.length; k++) expect(lines[k], `line ${k}`).not.toBe(V1_LINES[k]);
      expect(lines.filter((l) => l.startsWith('importer gather('))).toEqual(['importer gather(1, 2, 3, 4, values, 1) = -999', 'importer gather(1, 2, 3, 4, values, 2) = -999']);
    }, 120_000);

    test(`${tc}: refused, naming gather and span; the --skip-refused patch leaves the importer v1's answers`, async () => {
      const v1 = scenarioDll(NAME, 'v1', false, undefined, tc);
      const v2 = scenarioDll(NAME, 'v2', false, undefined, tc);
      const out = join(dir, `p-${tc}.hpk`);
      const r = await runHotpatchAsync(['build', v1, v2, '-o', out, '--unsigned', '--json']);
      expect(r.status).toBe(31);
      const j = JSON.parse(r.stdout) as { refused: Array<{ code: string; message: string }> };
      expect(j.refused.map((x) => x.code)).toEqual(['ENTRY_ARGUMENTS_CHANGED', 'ENTRY_ARGUMENTS_CHANGED']);
      expect(j.refused.map((x) => /the export (\w+)/.exec(x.message)?.[1]).sort()).toEqual(['gather', 'span']);
      const s = await runHotpatchAsync(['build', v1, v2, '-o', out, '--unsigned', '--skip-refused', '--json']);
      expect(s.status, s.stderr).toBe(0);
      const h = await v1Host(tc);
      const after = await patchedRound(h, out, tc);
      expect(after.endsWith(V1_TEXT)).toBe(true);
    }, 120_000);
  }
});
