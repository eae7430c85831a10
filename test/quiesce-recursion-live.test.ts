/**
 * A recursive caller's own quiescent range, live under Wine (compiler/diff/quiescent-callers.ts).
 * samples/caller-recursion: v2's walk takes a second argument (k, in edx) and v2's run, which
 * enters walk by a tail jump (no frame of its own), passes it. HP_PARK=1 parks a thread in
 * walk(-1), which calls walk(2) in a loop and keeps the last answer (v1: 11); hp_run prints it.
 *
 * The bug, shown with the package as the rule before built it (run's range only: the same
 * package with walk's range dropped): the parked thread has no return address in run, so the
 * patch lands while it is inside OLD walk, and its next walk(2) goes through the redirect into
 * NEW walk, which multiplies by an edx old walk never set: neither v1's 11 nor v2's 14.
 * The fix: walk calls its own entry, so it is its own caller and its old body is a range:
 * `hotpatch live` refuses with LIVE_THREAD_IN_OLD_CALLER naming walk, and the process keeps
 * printing v1's answers.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePackage, loadPackage } from '../formats/container.ts';
import type { HostSession } from '../samples/host/host-session.ts';
import { scenarioDll, type Toolchain } from '../samples/scenarios.ts';
import { runHotpatchAsync } from './support/cli.ts';
import { applyLive, expectedOutput, liveSuite, sleep } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine']);
const suite = liveSuite('hp-quiesce-recursion-', skip);
const NAME = 'caller-recursion';
const expected = (v: 'v1' | 'v2'): string => expectedOutput(NAME, v);
const dllFile = (tc: Toolchain): string => `v1${tc === 'clang' ? '.clang' : ''}.dll`;
const PARKED_LINE = /^parked walk\(2\) = (-?\d+)$/m;

/** The package of `tc`'s pair and its quiescent ranges as `inspect` names them. */
async function build(tc: Toolchain, out: string): Promise<Array<{ rva: string; length: number; function: string | null }>> {
  const b = await runHotpatchAsync(['build', scenarioDll(NAME, 'v1', false, undefined, tc), scenarioDll(NAME, 'v2', false, undefined, tc), '-o', out, '--unsigned']);
  expect(b.status, b.stderr).toBe(0);
  const i = await runHotpatchAsync(['inspect', out, '--json']);
  expect(i.status, i.stderr).toBe(0);
  return (JSON.parse(i.stdout) as { quiescent: Array<{ rva: string; length: number; function: string | null }> }).quiescent;
}

/** A host running v1 with a thread parked in old walk, checked on round 1. */
async function parkedHost(tc: Toolchain): Promise<HostSession> {
  process.env['HP_PARK'] = '1';
  try {
    const h = await suite.start(scenarioDll(NAME, 'v1', false, undefined, tc));
    expect(h.first.output).toBe(`${expected('v1')}parked walk(2) = 11\n`);
    return h;
  } finally {
    delete process.env['HP_PARK'];
  }
}

const live = (pkg: string, h: HostSession, tc: Toolchain): ReturnType<typeof applyLive> => applyLive(pkg, h, dllFile(tc));

describe.skipIf(skip !== undefined)(`caller-recursion, live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const tc of ['gcc', 'clang'] as const) {
    test(`${tc}: with run's range only (the rule before), the patch lands under the thread in old walk, whose next walk(2) answers neither v1 nor v2`, async () => {
      const full = join(suite.dir(), `full-${tc}.hpk`);
      const ranges = await build(tc, full);
      expect(ranges.map((r) => r.function).sort()).toEqual(['run', 'walk']);
      const walkRva = Number(ranges.find((r) => r.function === 'walk')!.rva);
      const loaded = await loadPackage(new Uint8Array(readFileSync(full)), { trusted: [], allowUnsigned: true });
      if (!loaded.ok) throw new Error(loaded.error.message);
      const p = loaded.value.package;
      const before = await encodePackage({ ...p, quiescent: (p.quiescent ?? []).filter((r) => r.rva !== walkRva) });
      if (!before.ok) throw new Error(before.error.message);
      const pkg = join(suite.dir(), `before-${tc}.hpk`);
      writeFileSync(pkg, before.value);
      const h = await parkedHost(tc);
      const r = await live(pkg, h, tc);
      expect(r.status, r.stderr).toBe(0);
      await sleep(300);
      const after = await h.run();
      if (!after.ok) throw new Error(after.error.message);
      expect(after.value.output.startsWith(expected('v2')), 'the main thread calls the new run: v2').toBe(true);
      const parked = Number(PARKED_LINE.exec(after.value.output)?.[1]);
      expect([11, 14], `the parked thread's walk(2) after the patch: ${parked}`).not.toContain(parked);
    }, 120_000);

    test(`${tc}: the package lists old walk: live refuses naming walk while the thread is parked in it; the process prints v1`, async () => {
      const pkg = join(suite.dir(), `park-${tc}.hpk`);
      await build(tc, pkg);
      const h = await parkedHost(tc);
      const r = await live(pkg, h, tc);
      expect(r.status, r.stdout + r.stderr).toBe(50);
      expect(r.stderr).toMatch(/LIVE_THREAD_IN_OLD_CALLER: .*thread \d+ kept (its instruction pointer|a return address) \(0x[0-9a-f]+\) inside quiescent range 0x[0-9a-f]+\+0x[0-9a-f]+ for \d+ tries: old walk calls a changed function whose new entry reads arguments it does not pass; nothing was written/);
      const next = await h.run();
      if (!next.ok) throw new Error(next.error.message);
      expect(next.value.output).toBe(`${expected('v1')}parked walk(2) = 11\n`);
    }, 120_000);
  }
});
