/**
 * GCC interprocedural register allocation, live under Wine (compiler/diff/caller-registers.ts).
 * Both samples share v1: `total(3000000)` loops over `call mix` (about 10 ms a call), and GCC's
 * total keeps its loop counter in edx, its sum in r8d, t in r9d and n in r10d across the call,
 * because v1 mix writes eax only. The host's worker thread calls hp_run in bursts of 50 with a
 * 1 ms sleep between them, so it is inside old total nearly all the time, and a live patch
 * lands while it is in the loop.
 *
 * ipra-clobber: v2 mix writes edx and r8d. Before the rule, `hotpatch build` carried it (299
 * bytes, mix and total redirected) and `hotpatch live` applied it: the main thread's next round
 * printed v2's output (it called the new total), but the worker thread, inside old total,
 * called the new mix through the redirect, lost its loop counter (reset below 769 on every
 * call) and never left the loop: its call count stayed at 285 through three rounds a second
 * apart (before the patch it made about 190 calls a second), with no error reported anywhere.
 * Now the build is refused (CALLER_REGISTERS_CLOBBERED), and a `--skip-refused` package
 * leaves mix and total out. ipra-safe (v2 mix writes eax and ecx only) is patched live with
 * the worker inside the loop: the worker keeps making progress and sees only recorded outputs.
 * (live-e2e.test.ts patches ipra-safe too, but does not check that the worker still runs.)
 */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { fnv1a } from '../samples/host/host-session.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { applyLive, expectedOutput as expected, liveSuite, sampleDll as dll, sleep } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine']);
const suite = liveSuite('hp-live-ipra-', skip);

describe.skipIf(skip !== undefined)(`GCC IPA-RA callers, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const variant of ['', '.stripped']) {
    test(`ipra-clobber${variant}: refused, naming old total's kept registers; --skip-refused carries nothing`, async () => {
      const out = join(suite.dir(), `clobber${variant}.hpk`);
      const r = await runHotpatchAsync(['build', dll('ipra-clobber', 'v1', variant), dll('ipra-clobber', 'v2', variant), '-o', out, '--unsigned', '--json']);
      expect(r.status).toBe(31);
      const j = JSON.parse(r.stdout) as { refused: Array<{ code: string; message: string }> };
      expect(j.refused.map((x) => x.code)).toEqual(['CALLER_REGISTERS_CLOBBERED']);
      expect(j.refused[0]!.message).toMatch(/^old (total|0x[0-9a-f]+) keeps rdx, r8 across its call to (mix|0x[0-9a-f]+) at 0x[0-9a-f]+; the new (mix|0x[0-9a-f]+) clobbers rdx, r8 /);
      const s = await runHotpatchAsync(['build', dll('ipra-clobber', 'v1', variant), dll('ipra-clobber', 'v2', variant), '-o', out, '--unsigned', '--skip-refused', '--json']);
      expect(s.status).toBe(0);
      const left = JSON.parse(s.stdout) as { functions: unknown[]; omitted: Array<{ what: string }> };
      expect(left.functions).toEqual([]);
      expect(left.omitted.length).toBe(2); // mix (refused) and total (it calls mix, which stays old)
    }, 120_000);

    test(`ipra-safe${variant}: patched live while the worker is inside old total's loop; the worker keeps running`, async () => {
      const out = join(suite.dir(), `safe${variant}.hpk`);
      const b = await runHotpatchAsync(['build', dll('ipra-safe', 'v1', variant), dll('ipra-safe', 'v2', variant), '-o', out, '--unsigned']);
      expect(b.status, b.stderr).toBe(0);
      const h = await suite.start(dll('ipra-safe', 'v1', variant), { worker: true });
      expect(h.first.output).toBe(expected('ipra-safe', 'v1'));
      await sleep(500);
      const before = await h.run();
      if (!before.ok) throw new Error(before.error.message);
      const callsBefore = before.value.worker?.calls ?? 0;
      expect(callsBefore, 'the worker runs before the patch').toBeGreaterThan(0);
      const live = await applyLive(out, h, `v1${variant}.dll`);
      expect(live.status, live.stderr).toBe(0);
      const after = await h.run();
      if (!after.ok) throw new Error(after.error.message);
      expect(after.value.output).toBe(expected('ipra-safe', 'v2'));
      await sleep(1000);
      const later = await h.run();
      if (!later.ok) throw new Error(later.error.message);
      const w = later.value.worker!;
      // A worker that lost its loop counter would stay inside old total for ever: its count would stop.
      expect(w.calls - (after.value.worker?.calls ?? 0), 'the worker still completes calls after the patch').toBeGreaterThan(0);
      expect(w.errors).toBe(0);
      const recorded = new Set((['v1', 'v2'] as const).map((v) => fnv1a(expected('ipra-safe', v))));
      // total gives the same value in both versions, so even the call in flight at the patch is a recorded output.
      expect(w.outputs.filter((o) => !recorded.has(o.fnv1a))).toEqual([]);
      expect(w.outputs.some((o) => o.fnv1a === fnv1a(expected('ipra-safe', 'v2'))), 'the worker reached the new mix').toBe(true);
    }, 120_000);
  }
});
