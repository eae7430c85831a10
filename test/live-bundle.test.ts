/**
 * A bundle patching two modules of one running process under Wine: host.exe loads two sample
 * DLLs (logic.dll = logic-fix v1, helper.dll = new-helper v1, whose package registers an unwind table), a worker thread calls both
 * all the time, and `hotpatch live RELEASE.hpb` patches both as one transaction switched in
 * one pause; faults injected in the second module's preparation and in the shared pause leave
 * both modules byte-identical to before; and `hotpatch revert --pid` takes the whole bundle
 * out, in one pause too.
 *
 * What the worker may see. A worker call runs logic.dll's hp_run then helper.dll's; every line
 * of their output reports one call of at most one changed function, and a call runs old or
 * new code whole (a thread is never caught inside a redirect site; one already inside an old
 * body finishes it). With both modules switched in one pause, a call that is in flight at the
 * pause prints the old round's lines up to some line and the new round's after it; every other
 * call prints a whole round. So one call per pause (the worker is one thread) may print a split
 * round, and nothing else may differ from the whole rounds. Two pauses (one per module) would
 * show up as many calls printing logic v1 with helper v2.
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
import { endHosts, fnv1a, startHost, type HostSession, type WorkerOutput } from '../samples/host/host-session.ts';
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
  { file: 'helper.dll', scenario: 'new-helper' },
] as const;
/** What a round prints: logic.dll's hp_run output, then helper.dll's. */
const roundOf = (logic: string, helper: string): string => expected('logic-fix', logic) + expected('new-helper', helper);
const bundle = join(dir, 'release.hpb');
const pub = join(dir, 'keys/hotpatch.pub');

const hosts: HostSession[] = [];
afterEach(async () => {
  for (const code of await endHosts(hosts)) expect(code).toBe(0);
});

async function host(): Promise<HostSession> {
  const h = await startHost(join(dir, 'old/logic.dll'), { worker: true, also: [join(dir, 'old/helper.dll')] });
  if (!h.ok) throw new Error(h.error.message);
  hosts.push(h.value);
  expect(h.value.first.output).toBe(roundOf('v1', 'v1'));
  return h.value;
}

async function round(h: HostSession): Promise<{ output: string; outputs: readonly WorkerOutput[]; errors: number }> {
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  return { output: r.value.output, outputs: r.value.worker?.outputs ?? [], errors: r.value.worker?.errors ?? -1 };
}

/** The hashes of every round a call in flight at one pause from `from` to `to` can print: `from`'s lines up to line k, `to`'s from k on. */
function splitRounds(from: string, to: string): Set<number> {
  const a = from.split(/(?<=\n)/);
  const b = to.split(/(?<=\n)/);
  expect(a.length).toBe(b.length);
  const out = new Set<number>();
  for (let k = 0; k <= a.length; k++) out.add(fnv1a(a.slice(0, k).join('') + b.slice(k).join('')));
  return out;
}

/**
 * Checks the worker's outputs against whole states (see the module comment): every output is
 * a whole round of `wholes`, or a split round of one of the `pauses` (from, to); split rounds
 * that are no whole round were printed by at most one call per pause.
 */
function sawWholeStates(outputs: readonly WorkerOutput[], wholes: readonly string[], pauses: ReadonlyArray<readonly [string, string]>): void {
  const whole = new Set(wholes.map(fnv1a));
  const split = new Set(pauses.flatMap(([f, t]) => [...splitRounds(f, t)]));
  for (const o of outputs) expect(whole.has(o.fnv1a) || split.has(o.fnv1a), `worker output ${o.fnv1a.toString(16)} is no whole round and no split at a pause`).toBe(true);
  const inFlight = outputs.filter((o) => !whole.has(o.fnv1a)).reduce((n, o) => n + o.calls, 0);
  expect(inFlight, 'worker calls that printed a split round (one call in flight per pause at most)').toBeLessThanOrEqual(pauses.length);
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
    const j = JSON.parse(live.stdout) as { modules: Array<{ path: string; module: string; functions: number }>; notLoaded: string[]; pauses: number; pauseParts: Array<{ sites: number }> };
    expect(j.modules.map((m) => [m.path, m.module.toLowerCase(), m.functions])).toEqual([
      ['helper.dll', 'helper.dll', 2],
      ['logic.dll', 'logic.dll', 1],
    ]);
    expect(j.notLoaded).toEqual([]);
    // One pause (one agent swap) wrote both modules' sites: helper.dll's one (average_percent; the added clamp_percent needs none), logic.dll's one.
    expect(j.pauses).toBe(1);
    expect(j.pauseParts.map((p) => p.sites)).toEqual([2]);
    const after = await round(h);
    expect(after.output).toBe(roundOf('v2', 'v2'));
    expect(after.errors).toBe(0);
    const [v1v1, v2v2] = [roundOf('v1', 'v1'), roundOf('v2', 'v2')];
    sawWholeStates(after.outputs, [v1v1, v2v2], [[v1v1, v2v2]]);

    const rv = await hotpatch(['revert', '--pid', pid, '--json']);
    expect(rv.stderr).toBe('');
    expect(rv.status).toBe(0);
    const rj = JSON.parse(rv.stdout) as { modules: unknown[]; pauses: number };
    expect([rj.modules.length, rj.pauses]).toEqual([2, 1]);
    const back = await round(h);
    expect(back.output).toBe(v1v1);
    expect(back.errors).toBe(0);
    sawWholeStates(back.outputs, [v1v1, v2v2], [
      [v1v1, v2v2],
      [v2v2, v1v1],
    ]);
    const none = await hotpatch(['revert', '--pid', pid]);
    expect(none.status).toBe(42);
    expect(none.stderr).toMatch(/^hotpatch: REVERT_NOTHING_APPLIED: no hotpatch is applied in process \d+\n$/);
  }, 240_000);

  // A fault in the second module's preparation (its region and code are in place, the first
  // module's too with its unwind table registered, nothing is live yet), and a fault in the one
  // pause that switches both (the agent's swap refuses: nothing written). Both modules must come
  // back byte-identical, with no state record, through one transaction's rollback. logic.dll's
  // package registers no unwind table (logic-fix's changed function is a leaf, whose .pdata
  // entry is not carried: compiler/functions/layout-parts.ts registeredEntries), so its last
  // preparation step is the protect that makes its code executable; helper.dll's changed and
  // added functions have frames, so the first module's rollback takes a registered table out.
  test.each([
    ['the second module\'s last preparation step', 'second', 'protect', /^logic\.dll \(logic\.dll\): step \d+ \(protect\): injected fault$/],
    ['the one pause that switches both modules', 'span', 'suspend-threads', /^all modules: steps 0-\d+ \(suspended span\): injected fault$/],
  ] as const)('a fault in %s leaves both modules byte-identical', async (_what, where, op, message) => {
    const h = await host();
    const l = await loadBundle(new Uint8Array(readFileSync(bundle)), { trusted: [], allowUnsigned: true, readOnly: true });
    if (!l.ok) throw new Error(l.error.message);
    const items: LiveBundleItem[] = [];
    for (const { entry, package: pkg } of l.value.entries) {
      const p = await loadPackage(pkg!, { trusted: [], allowUnsigned: true, readOnly: true });
      if (!p.ok) throw new Error(p.error.message);
      items.push({ path: entry.oldPath!, moduleName: entry.moduleName, pkg: p.value.package });
    }
    expect(items.map((i) => i.path)).toEqual(['helper.dll', 'logic.dll']);
    const opened = await openWin32Backend({ pid: h.windowsPid, module: firstLoadedModule(items), env: wineEnv() });
    if (!opened.ok) throw new Error(opened.error.message);
    const real = opened.value;
    expect(real.module.name?.toLowerCase()).toBe('helper.dll');
    const before = await images(real);
    const seen: Array<[string, string]> = [];
    /** `b` with its steps recorded, failing at the first `op` when `fail`. */
    const faulty = (b: Win32AgentBackend, label: string, fail: boolean): Win32AgentBackend =>
      Object.assign(Object.create(b) as Win32AgentBackend, {
        execute: async (step: WriteStep) => {
          seen.push([label, step.op]);
          return fail && step.op === op ? err('LIVE_INJECTED', 'injected fault') : b.execute(step);
        },
        executeSpan: async (span: readonly WriteStep[]) => {
          seen.push(...span.map((x): [string, string] => [label, x.op]));
          return fail && span.some((x) => x.op === op) ? err('LIVE_INJECTED', 'injected fault') : b.executeSpan!(span);
        },
      });
    const primary = faulty(real, 'primary', where === 'span');
    const attach = async (p: Win32AgentBackend, name: string): Promise<Result<Win32AgentBackend>> => {
      const s = await openSiblingBackend(p, name);
      return s.ok ? { ok: true, value: faulty(s.value, name.toLowerCase(), where === 'second') } : s;
    };
    const r = await applyBundleLive(primary, items, attach);
    expect(r.ok ? null : r.error.code).toBe('LIVE_INJECTED');
    expect(r.ok ? '' : r.error.message).toMatch(message);
    // Before the fault: helper.dll prepared on the primary (no suspension), logic.dll's region under way.
    const primarySteps = seen.filter(([l]) => l === 'primary').map(([, o]) => o);
    expect(primarySteps.slice(0, 3)).toEqual(['allocate', 'write', 'protect']);
    expect(primarySteps).toContain('register-unwind');
    expect(seen.filter(([l]) => l === 'logic.dll').map(([, o]) => o).slice(0, 3)).toEqual(['allocate', 'write', 'protect']);
    // Nothing was suspended before the shared pause (the two modules' redirects go in one span).
    const suspends = seen.filter(([, o]) => o === 'suspend-threads');
    expect(suspends).toEqual(where === 'span' ? [['primary', 'suspend-threads']] : []);
    expect(seen.filter(([, o]) => o === 'redirect').length).toBe(where === 'span' ? 2 : 0);

    const check = await openWin32Backend({ pid: h.windowsPid, module: 'helper.dll', env: wineEnv() });
    if (!check.ok) throw new Error(check.error.message);
    const after = await images(check.value);
    const records = await modulesWithState(check.value.agent);
    await check.value.abandon();
    expect(records.ok ? records.value : null).toEqual([]);
    for (const [i, img] of after.entries()) expect(Buffer.from(img).equals(Buffer.from(before[i]!)), MODULES[i]!.file).toBe(true);
    const next = await round(h);
    expect(next.output).toBe(roundOf('v1', 'v1'));
    expect(next.errors).toBe(0);
    expect(next.outputs.map((o) => o.fnv1a)).toEqual([fnv1a(roundOf('v1', 'v1'))]);
  }, 240_000);
});
