/**
 * Why compiler/diff/code-tables.ts refuses: the package a compiler without the rule would
 * write for vtable-append, vtable-reorder and ops-insert, applied live to a samples/bin/host.exe whose
 * objects were built by the first round (before the patch), under Wine. Each refused
 * function is presented to the emitter as hotpatchable with the redirect its old entry
 * takes, as the diff gave before the rule existed; the emitter and the verifier accept
 * that package, so nothing but the rule stands between a user and the result: the host
 * dies calling past the old vtable (vtable-append) or prints other values than NEW
 * (vtable-reorder: each method through the other's slot; ops-insert: new engine_run
 * indexes the old two-slot callback tables as three-slot ones).
 * The negative twin, vtable-body-fix, passes live in test/live-e2e.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPILER_VERSION, diffFiles, emitPackage, verifyPackage, type FunctionChange, type ImageDiff } from '../compiler/index.ts';
import { planRedirect } from '../compiler/diff/redirect-sites.ts';
import { encodePackage } from '../formats/container.ts';
import { endHosts, startHost, type HostSession } from '../samples/host/host-session.ts';
import { readExpectedOutput, scenarioDll } from '../samples/scenarios.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { missingTools } from './support/tools.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);

/** The diff as it was before the rule: the code-table refusals presented as hotpatchable, with their redirects. */
function withoutTheRule(d: ImageDiff): ImageDiff {
  const reserved = new Set<number>();
  const functions = d.functions.map((f): FunctionChange => {
    if (f.reason?.code !== 'CODE_TABLE_LAYOUT_CHANGED') return f;
    const of = d.match.old.fns.functions[f.oldIndex!]!;
    const r = planRedirect(d.match.old, of, reserved);
    if ('code' in r) throw new Error(`${f.name ?? ''}: ${r.message}`);
    return { ...f, verdict: 'hotpatchable', reason: null, redirect: r };
  });
  return { ...d, functions, hotpatchable: functions.every((f) => f.verdict !== 'refused') };
}

let dir = '';
const hosts: HostSession[] = [];
afterEach(async () => {
  await endHosts(hosts);
  hosts.length = 0;
});

describe.skipIf(skip !== undefined)(`code tables that changed layout, patched anyway, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    keepWineServer();
    dir = mkdtempSync(join(tmpdir(), 'hp-code-tables-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Builds the rule-less package for `name` (gcc, symbols), applies it live after round 1, returns round 2 or its error. */
  async function patchedRound(name: string): Promise<{ output?: string; error?: string }> {
    const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll(name, v)));
    const d = diffFiles(read('v1'), read('v2'));
    if (!d.ok) throw new Error(d.error.message);
    expect(d.value.functions.filter((f) => f.reason?.code === 'CODE_TABLE_LAYOUT_CHANGED').length, 'the rule refuses the pair today').toBe(2);
    const presented = withoutTheRule(d.value);
    expect(presented.hotpatchable).toBe(true);
    const e = emitPackage(presented, { moduleName: 'v1.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!e.ok) throw new Error(e.error.message);
    expect(verifyPackage(presented, e.value.pkg).ok, 'the verifier alone does not catch it').toBe(true);
    const bytes = await encodePackage(e.value.pkg);
    if (!bytes.ok) throw new Error(bytes.error.message);
    const pkg = join(dir, `${name}.hpk`);
    writeFileSync(pkg, bytes.value);

    const h = await startHost(scenarioDll(name, 'v1'));
    if (!h.ok) throw new Error(h.error.message);
    hosts.push(h.value);
    expect(h.value.first.output, 'round 1 builds the objects with v1 code').toBe(readExpectedOutput(name, 'v1'));
    const live = await runHotpatchAsync(['live', pkg, '--pid', String(h.value.windowsPid), '--module', 'v1.dll', '--allow-unsigned'], wineEnv());
    expect(live.status, live.stderr).toBe(0);
    const r = await h.value.run();
    if (!r.ok) return { error: r.error.message };
    return r.value.error === undefined ? { output: r.value.output } : { error: r.value.error };
  }

  test('vtable-append: new report calls slot 1 of the old one-slot vtables, and the host dies', async () => {
    const r = await patchedRound('vtable-append');
    expect(r.output, 'no output from a crashed host').toBeUndefined();
    expect(r.error).toMatch(/ended early/);
  }, 120_000);

  test('vtable-reorder: new report calls old sides for area and old area for sides, printing other values than NEW', async () => {
    const r = await patchedRound('vtable-reorder');
    expect(r.error).toBeUndefined();
    expect(r.output).not.toBe(readExpectedOutput('vtable-reorder', 'v2'));
    expect(r.output).not.toBe(readExpectedOutput('vtable-reorder', 'v1'));
  }, 120_000);

  test('ops-insert: new engine_run indexes the old two-slot tables as three-slot ones and prints other values than NEW', async () => {
    const r = await patchedRound('ops-insert');
    const v2 = readExpectedOutput('ops-insert', 'v2')!;
    // Either garbage values or a crash: anything but NEW's output.
    expect(r.output ?? r.error).not.toBe(v2);
    if (r.output !== undefined) expect(r.output).not.toBe(readExpectedOutput('ops-insert', 'v1'));
  }, 120_000);
});
