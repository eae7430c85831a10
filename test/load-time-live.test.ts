/**
 * Why changed load-time code is refused (compiler/diff/load-time-only.ts), shown in a real
 * process under Wine: for static-ctor, c-constructor, dllmain-attach and guarded-static, the package the
 * compiler would write without the rule (the refused function presented as hotpatchable,
 * with the redirect its old entry takes) applies live without error, and the process still
 * prints the OLD version's output: the constructor or DllMain's attach branch ran at load, the
 * static's initialiser at the host's first call, and neither runs again, so the new code changes nothing the process shows. NEW's output differs
 * (the recorded v1 and v2 outputs are different), so a patch that claimed to be safe would
 * have misled the user. The compiler's own verdict is checked too: INITIALIZER_CHANGED.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPILER_VERSION, diffFiles, emitPackage, type ImageDiff } from '../compiler/index.ts';
import { planRedirect } from '../compiler/diff/redirect-sites.ts';
import { encodePackage } from '../formats/container.ts';
import { endHosts, startHost, type HostSession } from '../samples/host/host-session.ts';
import { expectedOutputPath, scenarioDll, type Toolchain } from '../samples/scenarios.ts';
import { missingTools } from './support/tools.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);
let dir = '';
const hosts: HostSession[] = [];
afterEach(async () => {
  for (const code of await endHosts(hosts.splice(0))) expect(code, 'the host must survive and exit cleanly').toBe(0);
});

/** The diff with its INITIALIZER_CHANGED refusals lifted: what the compiler decided before the rule. */
function withoutRule(d: ImageDiff): ImageDiff {
  const oldFns = d.match.old.fns.functions;
  const functions = d.functions.map((f) => {
    if (f.reason?.code !== 'INITIALIZER_CHANGED') return f;
    const redirect = planRedirect(d.match.old, oldFns[f.oldIndex!]!);
    if ('code' in redirect) throw new Error(`${f.name}: ${redirect.message}`);
    return { ...f, verdict: 'hotpatchable' as const, reason: null, redirect };
  });
  return { ...d, functions, hotpatchable: true, counts: { ...d.counts, refused: 0 } };
}

const CASES: ReadonlyArray<readonly [string, Toolchain, boolean]> = [
  ['static-ctor', 'gcc', false],
  ['static-ctor', 'clang', true],
  ['c-constructor', 'gcc', true],
  ['c-constructor', 'clang', false],
  ['dllmain-attach', 'gcc', false],
  ['dllmain-attach', 'clang', true],
  ['guarded-static', 'gcc', true],
  ['guarded-static', 'clang', false],
];

describe.skipIf(skip !== undefined)(`load-time code patched live keeps the old state${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    keepWineServer();
    dir = mkdtempSync(join(tmpdir(), 'hp-load-time-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each(CASES)('%s (%s, stripped %s): refused; carried anyway, the process keeps printing v1', async (name, tc, stripped) => {
    const v1 = scenarioDll(name, 'v1', stripped, undefined, tc);
    const d = diffFiles(new Uint8Array(readFileSync(v1)), new Uint8Array(readFileSync(scenarioDll(name, 'v2', stripped, undefined, tc))));
    if (!d.ok) throw new Error(d.error.message);
    const refused = d.value.functions.filter((f) => f.verdict === 'refused');
    expect(refused.map((f) => f.reason?.code)).toEqual(['INITIALIZER_CHANGED']);
    expect(d.value.data.filter((x) => x.verdict === 'refused')).toEqual([]);

    const e = emitPackage(withoutRule(d.value), { moduleName: `${name}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!e.ok) throw new Error(e.error.message);
    expect(e.value.pkg.functions.map((f) => f.newRva)).toEqual([refused[0]!.newRva]);
    const bytes = await encodePackage(e.value.pkg);
    if (!bytes.ok) throw new Error(bytes.error.message);
    const pkg = join(dir, `${name}-${tc}-${stripped}.hpk`);
    writeFileSync(pkg, bytes.value);

    const old = readFileSync(expectedOutputPath(name, 'v1'), 'utf8');
    const neu = readFileSync(expectedOutputPath(name, 'v2'), 'utf8');
    expect(neu).not.toBe(old);
    const h = await startHost(v1);
    if (!h.ok) throw new Error(h.error.message);
    hosts.push(h.value);
    expect(h.value.first.output).toBe(old);
    const module = v1.split('/').pop()!;
    const live = await runHotpatchAsync(['live', pkg, '--pid', String(h.value.windowsPid), '--module', module, '--allow-unsigned'], wineEnv());
    expect(live.status, live.stderr).toBe(0);
    expect(live.stdout).toMatch(/^\s+changed \S+ 0x[0-9a-f]+ -> 0x[0-9a-f]+/m);
    const r = await h.value.run();
    if (!r.ok) throw new Error(r.error.message);
    // The new body is in place, yet nothing the process shows is NEW's.
    expect(r.value.output).toBe(old);
  }, 120_000);
});
