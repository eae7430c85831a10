/**
 * Quiescent ranges (format 2.4), live under Wine (compiler/emit/quiescent-ranges.ts).
 * samples/caller-loop: v2's step takes a second argument (k, in edx) and v2's run passes it;
 * hp_run calls run(2000000) (a loop over `call step`) then rest() (about as long, outside run).
 *
 * The bug, shown with the package as it was before format 2.4 (the same package with its
 * quiescent range dropped): the host's worker thread is inside OLD run when the patch lands,
 * keeps running old run's loop, and its next `call step` reaches NEW step through the
 * redirect, which multiplies by an edx old run never set: that call of hp_run prints a third
 * output, neither v1's nor v2's (the worker's FNV-1a hashes show it).
 *
 * The fix: the package lists old run's body; `hotpatch live` writes only while no thread's
 * RIP or return address lies in it. A worker that leaves run between calls is caught a few
 * times and the patch lands on a retry (only v1's and v2's outputs, v2 next round); a thread
 * parked in run(-1) for ever (HP_PARK=1) makes it refuse with LIVE_THREAD_IN_OLD_CALLER,
 * naming the thread, the range and run, and the process keeps printing v1. The negative twin
 * caller-loop-same (step changes, same argument) carries no quiescent range.
 *
 * samples/caller-loop-order: the same hazard with fewer registers read: v2's step(a, c) drops
 * the middle parameter of v1's step(a, b, c), so old run's b (3, in edx) reaches the new step
 * as c; the package lists old run because its matched call sites show the shift
 * (compiler/diff/argument-permutation.ts), and without that range a worker's call in flight
 * prints a third output the same way.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePackage, loadPackage } from '../formats/container.ts';
import { fnv1a, type HostSession } from '../samples/host/host-session.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { applyLive, expectedOutput as expected, liveSuite, sampleDll as dll, sleep } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';
import { wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);
const suite = liveSuite('hp-quiesce-', skip);

async function build(s: string, variant: string, out: string): Promise<{ quiescent: Array<{ rva: string; length: number; function: string | null }> }> {
  const b = await runHotpatchAsync(['build', dll(s, 'v1', variant), dll(s, 'v2', variant), '-o', out, '--unsigned']);
  expect(b.status, b.stderr).toBe(0);
  const i = await runHotpatchAsync(['inspect', out, '--json']);
  expect(i.status, i.stderr).toBe(0);
  return JSON.parse(i.stdout) as { quiescent: Array<{ rva: string; length: number; function: string | null }> };
}

async function host(s: string, variant: string, opts: { worker?: boolean; park?: boolean }): Promise<HostSession> {
  if (opts.park) process.env['HP_PARK'] = '1';
  try {
    const h = await suite.start(dll(s, 'v1', variant), { worker: opts.worker === true });
    expect(h.first.output).toBe(expected(s, 'v1'));
    return h;
  } finally {
    delete process.env['HP_PARK'];
  }
}

const live = (pkg: string, h: HostSession, variant: string): ReturnType<typeof runHotpatchAsync> => applyLive(pkg, h, `v1${variant}.dll`);
const revert = (h: HostSession, variant: string): ReturnType<typeof runHotpatchAsync> =>
  runHotpatchAsync(['revert', '--pid', String(h.windowsPid), '--module', `v1${variant}.dll`, '--json'], wineEnv());

/**
 * `run` again (at most 4 times, 200 ms apart) while it fails with `code`: on this shared 2-core
 * machine a worker descheduled inside the watched code for the agent's whole 50 tries (about
 * 100 ms) is seen at load ~15. Each retry is logged; a refusal that persists still fails.
 */
async function retrying(code: string, run: () => ReturnType<typeof runHotpatchAsync>): ReturnType<typeof runHotpatchAsync> {
  let r = await run();
  for (let i = 1; i < 4 && r.status !== 0 && r.stderr.includes(code); i++) {
    console.log(`retrying after ${r.stderr.trim()}`);
    await sleep(200);
    r = await run();
  }
  return r;
}

describe.skipIf(skip !== undefined)(`quiescent ranges, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const name of ['caller-loop', 'caller-loop-order']) {
    test(`${name}: without its quiescent range the patch misleads a worker inside old run: a third output`, async () => {
      const full = join(suite.dir(), `full-${name}.hpk`);
      const q = await build(name, '', full);
      expect(q.quiescent.map((r) => r.function)).toEqual(['run']);
      const loaded = await loadPackage(new Uint8Array(readFileSync(full)), { trusted: [], allowUnsigned: true });
      if (!loaded.ok) throw new Error(loaded.error.message);
      const { quiescent: _dropped, ...rest } = loaded.value.package;
      const bare = await encodePackage(rest);
      if (!bare.ok) throw new Error(bare.error.message);
      const dropped = join(suite.dir(), `dropped-${name}.hpk`);
      writeFileSync(dropped, bare.value);
      const known = new Set((['v1', 'v2'] as const).map((v) => fnv1a(expected(name, v))));
      // The worker is inside run about half the time: a patch that lands while it is outside
      // shows nothing, so revert and patch again (at most 30 times: how often a patch lands
      // with the worker inside run depends on the scheduling of the agent's pause, and 10 tries
      // in a row missed it now and then on this loaded 2-core machine).
      let third: number[] = [];
      const h = await host(name, '', { worker: true });
      for (let attempt = 0; attempt < 30 && third.length === 0; attempt++) {
        await sleep(300);
        const p = await live(dropped, h, '');
        expect(p.status, p.stderr).toBe(0);
        await sleep(300);
        const after = await h.run();
        if (!after.ok) throw new Error(after.error.message);
        expect(after.value.output, 'the main thread calls the new run: v2').toBe(expected(name, 'v2'));
        third = after.value.worker!.outputs.filter((o) => !known.has(o.fnv1a)).map((o) => o.fnv1a);
        const r = await retrying('LIVE_THREAD_IN_SITE', () => revert(h, ''));
        expect(r.status, r.stderr).toBe(0);
      }
      expect(third.length, 'a worker call in flight printed neither v1 nor v2').toBeGreaterThan(0);
    }, 180_000);
  }

  test('a thread parked in old run: live refuses naming the thread, the range and run; the process prints v1', async () => {
    const pkg = join(suite.dir(), 'park.hpk');
    await build('caller-loop', '', pkg);
    const h = await host('caller-loop', '', { park: true });
    await sleep(300);
    const r = await live(pkg, h, '');
    expect(r.status, r.stdout + r.stderr).toBe(50);
    expect(r.stderr).toMatch(/LIVE_THREAD_IN_OLD_CALLER: .*thread \d+ kept (its instruction pointer|a return address) \(0x[0-9a-f]+\) inside quiescent range 0x[0-9a-f]+\+0x55 for \d+ tries: old run calls a changed function whose new entry reads arguments it does not pass; nothing was written/);
    for (let i = 0; i < 2; i++) {
      const next = await h.run();
      if (!next.ok) throw new Error(next.error.message);
      expect(next.value.output).toBe(expected('caller-loop', 'v1'));
    }
  }, 120_000);

  for (const variant of ['', '.clang', '.stripped']) {
    test(`caller-loop${variant}: a worker that leaves run between calls; the patch lands on a retry and prints v2 exactly`, async () => {
      const pkg = join(suite.dir(), `worker${variant}.hpk`);
      const q = await build('caller-loop', variant, pkg);
      expect(q.quiescent.length).toBe(1);
      const h = await host('caller-loop', variant, { worker: true });
      await sleep(300);
      const r = await retrying('LIVE_THREAD_IN_OLD_CALLER', () => live(pkg, h, variant));
      expect(r.status, r.stderr).toBe(0);
      // The worker is inside run about half the time: the pause often needs more than one suspension.
      const attempts = (JSON.parse(r.stdout) as { timing: { pauseParts: Array<{ attempts: number }> } }).timing.pauseParts.map((p) => p.attempts);
      expect(attempts.length).toBe(1);
      expect(attempts[0]).toBeGreaterThanOrEqual(1);
      console.log(`caller-loop${variant}: the pause took ${attempts[0]} suspension(s)`);
      const after = await h.run();
      if (!after.ok) throw new Error(after.error.message);
      expect(after.value.output).toBe(expected('caller-loop', 'v2'));
      await sleep(500);
      const later = await h.run();
      if (!later.ok) throw new Error(later.error.message);
      const w = later.value.worker!;
      const known = new Set((['v1', 'v2'] as const).map((v) => fnv1a(expected('caller-loop', v))));
      expect(w.errors).toBe(0);
      expect(w.outputs.filter((o) => !known.has(o.fnv1a)), 'every worker call printed v1 or v2').toEqual([]);
      expect(w.outputs.some((o) => o.fnv1a === fnv1a(expected('caller-loop', 'v2')))).toBe(true);
    }, 120_000);
  }

  test('caller-loop-same (same argument): no quiescent range, patched live with the worker inside run', async () => {
    const pkg = join(suite.dir(), 'same.hpk');
    const q = await build('caller-loop-same', '', pkg);
    expect(q.quiescent).toEqual([]);
    const h = await host('caller-loop-same', '', { worker: true });
    await sleep(300);
    const r = await live(pkg, h, '');
    expect(r.status, r.stderr).toBe(0);
    const after = await h.run();
    if (!after.ok) throw new Error(after.error.message);
    expect(after.value.output).toBe(expected('caller-loop-same', 'v2'));
  }, 120_000);
});
