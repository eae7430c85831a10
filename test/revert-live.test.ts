/**
 * A revert while a thread runs NEW code in the patch region, live under Wine
 * (runtime/plan/plan-steps.ts revertSteps).
 *
 * The revert's pause avoids only the bytes it puts back. A thread inside the region keeps
 * running NEW code until it leaves (its calls to changed callees go to their NEW bodies in the
 * region, so it never meets an old entry with new arguments); the region is released at the end
 * of the transaction only while no thread's RIP, register or stack word points into it, and is
 * otherwise kept allocated and reported. Before, the pause also avoided the whole region, so a
 * worker looping in patched code made `hotpatch revert` fail with LIVE_THREAD_IN_SITE
 * (clean-clone CI, caller-loop-same.clang in test/live-e2e.test.ts).
 *
 * samples/caller-loop with HP_PARK=2 parks a thread, at the host's second hp_run call, in
 * run(-1): after a live patch that is NEW run, in the region, for ever.
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import type { HostSession } from '../samples/host/host-session.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { applyLive, expectedOutput, liveSuite, sampleDll } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';
import { wineEnv } from './support/wine.ts';

const skip = missingTools(['wine']);
const suite = liveSuite('hp-revert-live-', skip);
const expected = (v: 'v1' | 'v2'): string => expectedOutput('caller-loop', v);

describe.skipIf(skip !== undefined)(`revert with a thread in the patch region, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('a thread looping in NEW run: revert succeeds at once, keeps the region it runs in, and the process prints v1', async () => {
    const pkg = join(suite.dir(), 'caller-loop.hpk');
    const b = await runHotpatchAsync(['build', sampleDll('caller-loop', 'v1'), sampleDll('caller-loop', 'v2'), '-o', pkg, '--unsigned']);
    expect(b.status, b.stderr).toBe(0);
    process.env['HP_PARK'] = '2';
    let h: HostSession;
    try {
      h = await suite.start(sampleDll('caller-loop', 'v1'), { worker: false });
    } finally {
      delete process.env['HP_PARK'];
    }
    expect(h.first.output).toBe(expected('v1'));
    const module = ['--pid', String(h.windowsPid), '--module', 'v1.dll', '--json'];
    const p = await applyLive(pkg, h, 'v1.dll');
    expect(p.status, p.stderr).toBe(0);
    const region = (JSON.parse(p.stdout) as { region: { address: string; size: number } }).region;
    // The second call parks a thread in run(-1), which the redirect sends to NEW run.
    const second = await h.run();
    if (!second.ok) throw new Error(second.error.message);
    expect(second.value.output).toBe(expected('v2'));

    const r = await runHotpatchAsync(['revert', ...module], wineEnv());
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { keptRegions: string[] };
    // The parked thread's RIP is in the region for ever: the region is kept, not freed under it.
    expect(j.keptRegions).toContain(region.address);
    const after = await h.run();
    if (!after.ok) throw new Error(after.error.message);
    expect(after.value.output).toBe(expected('v1'));
    // Nothing is applied any more: a second revert finds no state record.
    const again = await runHotpatchAsync(['revert', ...module], wineEnv());
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/^hotpatch: [A-Z_]+: .*\n$/);
  }, 120_000);
});
