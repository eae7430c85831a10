/**
 * Live apply/revert through the agent against samples/bin/host.exe under Wine, with packages
 * built by hand from the real sample DLL pairs (runtime/apply/testing/hand-package.ts): the
 * same planner and executor as the in-memory backend, the worker thread calling the patched
 * functions the whole time, the process never restarted. (test/live-e2e.test.ts does the
 * same with compiler-built packages through the CLI.)
 */
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HotpatchPackage } from '../formats/package.ts';
import { buildHandPackage } from '../runtime/apply/testing/hand-package.ts';
import { openWin32Backend, type Win32AgentBackend } from '../runtime/backends/win32-agent.ts';
import { applyLive, findLiveState, revertLive } from '../runtime/backends/win32-agent/live.ts';
import { endHosts, fnv1a, startHost, type HostSession } from '../samples/host/host-session.ts';
import { missingTools } from './support/tools.ts';
import { keepWineServer, wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dll = (scenario: string, v: string): string => join(ROOT, 'samples/bin', scenario, `${v}.dll`);
const bytes = (scenario: string, v: string): Uint8Array => new Uint8Array(readFileSync(dll(scenario, v)));
const expected = (scenario: string, v: string): string => readFileSync(join(ROOT, 'samples', scenario, 'expected', `${v}.txt`), 'utf8');

const hosts: HostSession[] = [];
afterEach(async () => {
  // Every process survived everything the test did to it.
  for (const code of await endHosts(hosts)) expect(code).toBe(0);
});

async function host(scenario: string): Promise<HostSession> {
  const h = await startHost(dll(scenario, 'v1'), { worker: true });
  if (!h.ok) throw new Error(h.error.message);
  hosts.push(h.value);
  return h.value;
}

async function output(h: HostSession): Promise<string> {
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  expect(r.value.error).toBeUndefined();
  expect(r.value.worker?.errors).toBe(0);
  return r.value.output;
}

/**
 * Every output the worker saw is one of the versions' recorded outputs, except at most one
 * call per patch event (`events` applies and reverts so far): the hp_run call in flight while
 * the redirects were written may run old code for some vectors and new code for later ones.
 * So at most `events` calls may have produced an unrecorded output; a wrong output that
 * persists (more calls than that) fails.
 */
async function workerSawOnly(h: HostSession, scenario: string, versions: readonly string[], events: number): Promise<void> {
  const r = await h.run();
  if (!r.ok) throw new Error(r.error.message);
  const allowed = new Set(versions.map((v) => fnv1a(expected(scenario, v))));
  const others = (r.value.worker?.outputs ?? []).filter((o) => !allowed.has(o.fnv1a));
  const calls = others.reduce((n, o) => n + o.calls, 0);
  expect(calls, 'worker calls whose output no version produces (one in-flight call per patch event at most)').toBeLessThanOrEqual(events);
  expect(r.value.worker?.errors).toBe(0);
}

async function open(h: HostSession): Promise<Win32AgentBackend> {
  const b = await openWin32Backend({ pid: h.windowsPid, module: 'v1.dll', env: wineEnv() });
  if (!b.ok) throw new Error(b.error.message);
  expect(b.value.module.base).toBe(h.moduleBase);
  return b.value;
}

async function apply(h: HostSession, pkg: HotpatchPackage): Promise<number> {
  const b = await open(h);
  const r = await applyLive(pkg, b);
  if (!r.ok) {
    await b.abandon();
    throw new Error(`${r.error.code}: ${r.error.message}`);
  }
  const c = await b.close();
  expect(c.ok).toBe(true);
  return r.value.pauseUs;
}

describe.skipIf(skip !== undefined)(`live apply under Wine with hand-built packages${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(() => {
    keepWineServer(); // later Wine starts take ~0.1 s; it ends by itself
  });

  test('logic-fix: v1 -> v2 behaviour while the worker runs, revert -> v1, in one process', async () => {
    const h = await host('logic-fix');
    expect(h.first.output).toBe(expected('logic-fix', 'v1'));
    const pause = await apply(h, buildHandPackage(bytes('logic-fix', 'v1'), bytes('logic-fix', 'v2'), { changed: ['sum_first'] }));
    expect(pause).toBeGreaterThan(0);
    expect(await output(h)).toBe(expected('logic-fix', 'v2'));
    await workerSawOnly(h, 'logic-fix', ['v1', 'v2'], 1);

    const b = await open(h);
    const st = await findLiveState(b);
    expect(st.ok && st.value?.plan.series.sequence).toBe(1);
    const rv = await revertLive(b);
    if (!rv.ok) throw new Error(rv.error.message);
    const closed = await b.close();
    expect(closed.ok).toBe(true);
    expect(await output(h)).toBe(expected('logic-fix', 'v1'));
    await workerSawOnly(h, 'logic-fix', ['v1', 'v2'], 2);
    // Nothing applied any more: no record, and a second revert says so.
    const b2 = await open(h);
    const none = await revertLive(b2);
    expect(!none.ok && none.error.code).toBe('REVERT_NOTHING_APPLIED');
    expect(!none.ok && none.error.message).toMatch(/no hotpatch is applied to v1\.dll in process \d+/);
    await b2.close();
  });

  // Different redirect kinds and code shapes: short jump into padding (tiny-function), calls
  // through pointers (fnptr), recursion, two functions at once (bounds-check, inline-fix), a
  // body several times larger (grow). Not switch-table: the hand-built package points the new
  // body at the old image's .rdata where the new jump table is not (the live run crashes; the
  // compiler's packages carry the table, test/live-e2e.test.ts covers it).
  test.each([
    ['tiny-function', ['feature_level'], []],
    ['fnptr', ['op_halve'], []],
    ['recursion', ['count_paths'], []],
    ['bounds-check', ['set_name', 'get_score'], []],
    ['inline-fix', ['read_a', 'read_b'], []],
    ['grow', ['checksum'], []],
  ] as const)('%s: live v1 -> v2 -> v1 with the worker running', async (scenario, changed, added) => {
    const h = await host(scenario);
    expect(h.first.output).toBe(expected(scenario, 'v1'));
    await apply(h, buildHandPackage(bytes(scenario, 'v1'), bytes(scenario, 'v2'), { changed, added }));
    expect(await output(h)).toBe(expected(scenario, 'v2'));
    const b = await open(h);
    const rv = await revertLive(b);
    if (!rv.ok) throw new Error(rv.error.message);
    expect((await b.close()).ok).toBe(true);
    expect(await output(h)).toBe(expected(scenario, 'v1'));
    await workerSawOnly(h, scenario, ['v1', 'v2'], 2);
  });

  test('new-helper: an added function placed in the region, the module bytes restored by revert', async () => {
    const h = await host('new-helper');
    const b0 = await open(h);
    const view0 = await b0.read(b0.module.base, b0.module.sizeOfImage);
    await b0.close();
    await apply(h, buildHandPackage(bytes('new-helper', 'v1'), bytes('new-helper', 'v2'), { changed: ['average_percent'], added: ['clamp_percent'] }));
    expect(await output(h)).toBe(expected('new-helper', 'v2'));
    const b = await open(h);
    expect((await revertLive(b)).ok).toBe(true);
    await b.close();
    expect(await output(h)).toBe(expected('new-helper', 'v1'));
    const b1 = await open(h);
    const view1 = await b1.read(b1.module.base, b1.module.sizeOfImage);
    await b1.close();
    expect(view0.ok && view1.ok && Buffer.from(view1.value).equals(Buffer.from(view0.value))).toBe(true);
  });

  test('series: sequence 1 then 2 supersedes it in the live process; revert returns to the baseline', async () => {
    const s = (v: string): Uint8Array => bytes('series', v);
    const h = await host('series');
    expect(h.first.output).toBe(expected('series', 'v1'));
    await apply(h, buildHandPackage(s('v1'), s('v2'), { changed: ['word_count'], baseline: 'series-v1', sequence: 1 }));
    expect(await output(h)).toBe(expected('series', 'v2'));
    await apply(h, buildHandPackage(s('v1'), s('v3'), { changed: ['word_count', 'vowel_count'], baseline: 'series-v1', sequence: 2 }));
    expect(await output(h)).toBe(expected('series', 'v3'));
    await workerSawOnly(h, 'series', ['v1', 'v2', 'v3'], 2);
    // Only one record remains (the superseded one was freed with its region), and an older sequence is refused.
    const b = await open(h);
    const st = await findLiveState(b);
    expect(st.ok && st.value?.plan.series.sequence).toBe(2);
    const old = await applyLive(buildHandPackage(s('v1'), s('v2'), { changed: ['word_count'], baseline: 'series-v1', sequence: 1 }), b);
    expect(!old.ok && old.error.code).toBe('PLAN_SEQUENCE');
    expect((await revertLive(b)).ok).toBe(true);
    await b.close();
    expect(await output(h)).toBe(expected('series', 'v1'));
  });

  test('20 apply/revert cycles under the worker: no crash, no worker error, nothing kept, module byte-identical', async () => {
    const h = await host('bounds-check');
    const pkg = buildHandPackage(bytes('bounds-check', 'v1'), bytes('bounds-check', 'v2'), { changed: ['set_name', 'get_score'] });
    const b0 = await open(h);
    const original = await b0.read(b0.module.base, b0.module.sizeOfImage);
    await b0.close();
    for (let i = 0; i < 20; i++) {
      await apply(h, pkg);
      const b = await open(h);
      const rv = await revertLive(b);
      if (!rv.ok) throw new Error(rv.error.message);
      const c = await b.close();
      expect(c.ok && c.value.kept).toEqual([]);
    }
    expect(await output(h)).toBe(expected('bounds-check', 'v1'));
    await workerSawOnly(h, 'bounds-check', ['v1', 'v2'], 40);
    const b1 = await open(h);
    const after = await b1.read(b1.module.base, b1.module.sizeOfImage);
    expect(await findLiveState(b1)).toEqual({ ok: true, value: null });
    await b1.close();
    expect(original.ok && after.ok && Buffer.from(after.value).equals(Buffer.from(original.value))).toBe(true);
  });

  test('a failure injected at each step of the live transaction leaves the process as it was', async () => {
    const h = await host('new-helper');
    const pkg = buildHandPackage(bytes('new-helper', 'v1'), bytes('new-helper', 'v2'), { changed: ['average_percent'], added: ['clamp_percent'] });
    const b0 = await open(h);
    const image = await b0.read(b0.module.base, b0.module.sizeOfImage);
    const prot = await b0.queryProtection(b0.module.base, b0.module.sizeOfImage);
    await b0.close();
    if (!image.ok || !prot.ok) throw new Error('snapshot');
    let steps = 0;
    for (let k = 0; ; k++) {
      const b = await open(h);
      // Step k fails before touching anything (as a failing agent request would); the
      // executor must undo steps 0..k-1 through the observations this backend reported.
      const real = b.execute.bind(b);
      let n = 0;
      let region: bigint | null = null;
      const faulty: typeof b = Object.assign(Object.create(b) as typeof b, {
        execute: async (step: Parameters<typeof b.execute>[0]) => {
          if (step.op === 'allocate' && region === null && n > 0) region = step.address;
          if (n++ === k) return { ok: false as const, error: { code: 'LIVE_INJECTED', message: `fault at step ${k}` } };
          return real(step);
        },
      });
      const r = await applyLive(pkg, faulty);
      const c = await b.close();
      expect(c.ok).toBe(true);
      if (r.ok) {
        steps = k; // every step ran: k was past the end
        break;
      }
      expect(r.error.code).toBe('LIVE_INJECTED');
      const v = await open(h);
      const now = await v.read(v.module.base, v.module.sizeOfImage);
      const protNow = await v.queryProtection(v.module.base, v.module.sizeOfImage);
      expect(now.ok && Buffer.from(now.value).equals(Buffer.from(image.value)), `bytes after a fault at step ${k}`).toBe(true);
      expect(protNow.ok && protNow.value, `protections after a fault at step ${k}`).toEqual(prot.value);
      expect(await findLiveState(v)).toEqual({ ok: true, value: null });
      if (region !== null) {
        const q = await v.agent.request(`query 0x${(region as bigint).toString(16)}`);
        expect(q.ok && q.value['state'], `patch region after a fault at step ${k}`).toBe('free');
      }
      await v.close();
      expect(await output(h)).toBe(expected('new-helper', 'v1'));
    }
    expect(steps).toBeGreaterThan(10);
    // The last round applied for real; revert it.
    expect(await output(h)).toBe(expected('new-helper', 'v2'));
    const b = await open(h);
    expect((await revertLive(b)).ok).toBe(true);
    await b.close();
    expect(await output(h)).toBe(expected('new-helper', 'v1'));
  });

  test('a package for another build is refused before any write; the process keeps running unchanged', async () => {
    const h = await host('new-helper');
    const b = await open(h);
    const before = await b.read(b.module.base, b.module.sizeOfImage);
    const r = await applyLive(buildHandPackage(bytes('logic-fix', 'v1'), bytes('logic-fix', 'v2'), { changed: ['sum_first'] }), b);
    expect(!r.ok && r.error.code).toBe('PLAN_IDENTITY');
    expect(!r.ok && r.error.message).toMatch(/package is for another build: .*TimeDateStamp|SizeOfImage|CheckSum/);
    expect(b.pauses.length).toBe(0); // never even suspended
    const after = await b.read(b.module.base, b.module.sizeOfImage);
    await b.close();
    expect(before.ok && after.ok && Buffer.from(after.value).equals(Buffer.from(before.value))).toBe(true);
    expect(await output(h)).toBe(expected('new-helper', 'v1'));
    const gone = await openWin32Backend({ pid: h.windowsPid, module: 'v2.dll', env: wineEnv() });
    expect(!gone.ok && gone.error.code).toBe('LIVE_MODULE_NOT_FOUND');
    expect(await output(h)).toBe(expected('new-helper', 'v1'));
  });
});
