/**
 * A bundle patching two modules of one running process under Wine: host.exe loads two sample
 * DLLs (logic.dll = logic-fix v1, bounds.dll = bounds-check v1), a worker thread calls both
 * all the time, and `hotpatch live RELEASE.hpb` patches both as one transaction; a fault
 * injected in the second module's apply leaves both modules byte-identical to before; and
 * `hotpatch revert --pid` takes the whole bundle out.
 */
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { err, type Result } from '../common/errors.ts';
import { loadBundle } from '../formats/bundle.ts';
import { loadPackage } from '../formats/container.ts';
import { openWin32Backend, openSiblingBackend, type Win32AgentBackend } from '../runtime/backends/win32-agent.ts';
import { modulesWithState } from '../runtime/backends/win32-agent/live.ts';
import type { WriteStep } from '../runtime/plan/write-plan.ts';
import { applyBundleLive, firstLoadedModule, type LiveBundleItem } from '../runtime/backends/win32-agent/live-bundle.ts';
import { endHosts, fnv1a, startHost, type HostSession } from '../samples/host/host-session.ts';
import { runHotpatch, runHotpatchAsync, type CliRun } from './support/cli.ts';
import { missingTools } from './support/tools.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const expected = (scenario: string, v: string): string => readFileSync(join(ROOT, 'samples', scenario, 'expected', `${v}.txt`), 'utf8');
const hotpatch = (args: readonly string[]): Promise<CliRun> => runHotpatchAsync(args, wineEnv());

const dir = mkdtempSync(join(tmpdir(), 'hp-live-bundle-'));
const MODULES = [
  { file: 'logic.dll', scenario: 'logic-fix' },
  { file: 'bounds.dll', scenario: 'bounds-check' },
] as const;
/** What a round prints: logic.dll's hp_run output, then bounds.dll's. */
const roundOf = (logic: string, bounds: string): string => expected('logic-fix', logic) + expected('bounds-check', bounds);
const bundle = join(dir, 'release.hpb');
const pub = join(dir, 'keys/hotpatch.pub');

const hosts: HostSession[] = [];
afterEach(async () => {
  for (const code of await endHosts(hosts)) expect(code).toBe(0);
});

async function host(): Promise<HostSession> {
  const h = await startHost(join(dir, 'old/logic.dll'), { worker: true, also: [join(dir, 'old/bounds.dll')] });
  if (!h.ok) throw new Error(h.error.message);
  hosts.push(h.value);
  expect(h.value.first.output).toBe(roundOf('v1', 'v1'));
  return h.value;
}

async function round(h: HostSession): Promise<{ output: string; hashes: number[]; errors: number }> {
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  return { output: r.value.output, hashes: (r.value.worker?.outputs ?? []).map((o) => o.fnv1a), errors: r.value.worker?.errors ?? -1 };
}

/** Both modules' mapped images, as the process holds them. */
async function images(b: Win32AgentBackend): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const m of MODULES) {
    const s = await openSiblingBackend(b, m.file);
    if (!s.ok) throw new Error(s.error.message);
    const r = await s.value.read(s.value.module.base, s.value.module.sizeOfImage);
    if (!r.ok) throw new Error(r.error.message);
    out.push(r.value);
  }
  return out;
}

describe.skipIf(skip !== undefined)(`a bundle across two modules of a live process under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    keepWineServer();
    for (const m of MODULES) {
      for (const [tree, v] of [['old', 'v1'], ['new', 'v2']] as const) {
        mkdirSync(join(dir, tree), { recursive: true });
        copyFileSync(join(ROOT, 'samples/bin', m.scenario, `${v}.dll`), join(dir, tree, m.file));
      }
    }
    expect(runHotpatch(['keygen', '--out', join(dir, 'keys')]).status).toBe(0);
    const r = runHotpatch(['bundle', join(dir, 'old'), join(dir, 'new'), '-o', bundle, '--key', join(dir, 'keys/hotpatch.key')], { timeoutMs: 300_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);

  test('hotpatch live patches both modules while a thread calls them; revert --pid restores both', async () => {
    const h = await host();
    const pid = String(h.windowsPid);
    const live = await hotpatch(['live', bundle, '--pid', pid, '--trust', pub, '--json']);
    expect(live.stderr).toBe('');
    expect(live.status).toBe(0);
    const j = JSON.parse(live.stdout) as { modules: Array<{ path: string; module: string; functions: number }>; notLoaded: string[] };
    expect(j.modules.map((m) => [m.path, m.module.toLowerCase(), m.functions])).toEqual([
      ['bounds.dll', 'bounds.dll', 2],
      ['logic.dll', 'logic.dll', 1],
    ]);
    expect(j.notLoaded).toEqual([]);
    const after = await round(h);
    expect(after.output).toBe(roundOf('v2', 'v2'));
    expect(after.errors).toBe(0);
    // The worker saw only whole states: before, one module switched (bounds.dll goes first), both.
    const allowed = [roundOf('v1', 'v1'), roundOf('v1', 'v2'), roundOf('v2', 'v2')].map(fnv1a);
    for (const x of after.hashes) expect(allowed).toContain(x);

    const rv = await hotpatch(['revert', '--pid', pid]);
    expect(rv.stderr).toBe('');
    expect(rv.status).toBe(0);
    expect(rv.stdout).toMatch(/^reverted 2 module\(s\) in process \d+ as one transaction\n/);
    expect((await round(h)).output).toBe(roundOf('v1', 'v1'));
    const none = await hotpatch(['revert', '--pid', pid]);
    expect(none.status).toBe(42);
    expect(none.stderr).toMatch(/^hotpatch: REVERT_NOTHING_APPLIED: no hotpatch is applied in process \d+\n$/);
  }, 240_000);

  test('a fault in the second module\'s apply leaves both modules byte-identical (one agent session: the failing module undone step by step, the live one reverted)', async () => {
    const h = await host();
    const l = await loadBundle(new Uint8Array(readFileSync(bundle)), { trusted: [], allowUnsigned: true, readOnly: true });
    if (!l.ok) throw new Error(l.error.message);
    const items: LiveBundleItem[] = [];
    for (const { entry, package: pkg } of l.value.entries) {
      const p = await loadPackage(pkg!, { trusted: [], allowUnsigned: true, readOnly: true });
      if (!p.ok) throw new Error(p.error.message);
      items.push({ path: entry.oldPath!, moduleName: entry.moduleName, pkg: p.value.package });
    }
    expect(items.map((i) => i.path)).toEqual(['bounds.dll', 'logic.dll']);
    const opened = await openWin32Backend({ pid: h.windowsPid, module: firstLoadedModule(items), env: wineEnv() });
    if (!opened.ok) throw new Error(opened.error.message);
    const b = opened.value;
    expect(b.module.name?.toLowerCase()).toBe('bounds.dll');
    const before = await images(b);
    // The second module's backend fails its first redirect: by then its region is allocated,
    // written, protected and its unwind table registered, and the first module is live.
    const steps: string[] = [];
    const attach = async (primary: Win32AgentBackend, name: string): Promise<Result<Win32AgentBackend>> => {
      const s = await openSiblingBackend(primary, name);
      if (!s.ok) return s;
      const real = s.value;
      return {
        ok: true,
        value: Object.assign(Object.create(real) as Win32AgentBackend, {
          execute: async (step: Parameters<Win32AgentBackend['execute']>[0]) => {
            steps.push(step.op);
            if (step.op === 'redirect') return err('LIVE_INJECTED', 'injected fault at the first redirect of the second module');
            return real.execute(step);
          },
          // The executor sends suspended spans (suspend, redirects, resume) as one request.
          executeSpan: async (span: readonly WriteStep[]) => {
            steps.push(...span.map((x) => x.op));
            return err('LIVE_INJECTED', 'injected fault at the first redirect of the second module');
          },
        }),
      };
    };
    const r = await applyBundleLive(b, items, attach);
    expect(r.ok ? null : r.error.code).toBe('LIVE_INJECTED');
    expect(r.ok ? '' : r.error.message).toMatch(/^logic\.dll \(logic\.dll\): (step \d+ \(redirect\)|steps \d+-\d+ \(suspended span\)): injected fault .*; the 1 module\(s\) applied before it were reverted$/);
    expect(steps.slice(0, 3)).toEqual(['allocate', 'write', 'protect']);
    expect(steps).toContain('register-unwind');
    // applyBundleLive ended the session: the first module, already live, was reverted.

    const check = await openWin32Backend({ pid: h.windowsPid, module: 'bounds.dll', env: wineEnv() });
    if (!check.ok) throw new Error(check.error.message);
    const after = await images(check.value);
    const records = await modulesWithState(check.value.agent);
    await check.value.abandon();
    expect(records.ok ? records.value : null).toEqual([]);
    for (const [i, img] of after.entries()) expect(Buffer.from(img).equals(Buffer.from(before[i]!)), MODULES[i]!.file).toBe(true);
    const next = await round(h);
    expect(next.output).toBe(roundOf('v1', 'v1'));
    expect(next.errors).toBe(0);
  }, 240_000);
});
