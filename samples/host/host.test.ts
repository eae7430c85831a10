/**
 * host.exe's stdin/stdout protocol (PROTOCOL.md) under Wine: rounds on request, quit with
 * exit 0, the --worker counters, and clear failures for bad arguments and commands.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import { missingTools } from '../../test/support/tools.ts';
import { keepWineServer, runWine, toWinePath } from '../../test/support/wine.ts';
import { HOST_EXE, SAMPLES_DIR, readExpectedOutput, scenarioDll } from '../scenarios.ts';
import { fnv1a, startHost } from './host-session.ts';

const skip = missingTools(['wine']);

beforeAll(() => {
  if (skip === undefined) keepWineServer(30);
});

// Wine starts can take seconds on a loaded machine (the first one also wakes the prefix).
describe.skipIf(skip !== undefined)(`host.exe${skip ? ` (skipped: ${skip})` : ''}`, { timeout: 180_000 }, () => {
  test('reports pid and module, runs rounds on `run`, exits 0 on `quit`', async () => {
    const h = await startHost(scenarioDll('logic-fix', 'v2'));
    expect(h.ok ? 'ok' : h.error.message).toBe('ok');
    if (!h.ok) return;
    const s = h.value;
    try {
      expect(s.windowsPid).toBeGreaterThan(0);
      // A DLL is mapped on a 64 KiB boundary.
      expect(s.moduleBase % 0x10000n).toBe(0n);
      expect(s.moduleBase).toBeGreaterThan(0n);
      expect(s.name).toBe('logic-fix');
      const expected = readExpectedOutput('logic-fix', 'v2');
      expect(s.first.round).toBe(1);
      expect(s.first.output).toBe(expected);
      expect(s.first.worker).toBeUndefined();
      for (const n of [2, 3]) {
        const r = await s.run();
        expect(r.ok ? r.value.round : r.error.message).toBe(n);
        if (r.ok) expect(r.value.output).toBe(expected);
      }
      const q = await s.quit();
      expect(q.ok ? q.value : q.error.message).toBe(0);
    } finally {
      s.kill();
    }
  });

  test('--worker: the worker calls hp_run between rounds and sees only the one output', async () => {
    const h = await startHost(scenarioDll('switch-table', 'v1', true), { worker: true });
    expect(h.ok ? 'ok' : h.error.message).toBe('ok');
    if (!h.ok) return;
    const s = h.value;
    try {
      const hash = fnv1a(readExpectedOutput('switch-table', 'v1')!);
      const w1 = s.first.worker!;
      expect(w1.errors).toBe(0);
      expect(w1.outputs.reduce((n, o) => n + o.calls, 0)).toBe(w1.calls);
      await new Promise((r) => setTimeout(r, 300));
      const r2 = await s.run();
      expect(r2.ok ? 'ok' : r2.error.message).toBe('ok');
      if (!r2.ok) return;
      const w2 = r2.value.worker!;
      expect(r2.value.output).toBe(readExpectedOutput('switch-table', 'v1'));
      // The worker kept running while the host waited on stdin.
      expect(w2.calls).toBeGreaterThan(w1.calls);
      expect(w2.errors).toBe(0);
      expect(w2.outputs).toEqual([{ fnv1a: hash, calls: w2.calls }]);
      const q = await s.quit();
      expect(q.ok ? q.value : q.error.message).toBe(0);
    } finally {
      s.kill();
    }
  });

  test('fnv1a matches the standard FNV-1a 32-bit test vectors', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  test('an unknown command gets an error line and the host keeps serving', async () => {
    const r = runWine(HOST_EXE, [toWinePath(scenarioDll('tiny-function', 'v1'))], { input: 'frobnicate\nrun\nquit\n' });
    expect(r.status).toBe(0);
    const lines = r.stdout.split(/\r?\n/);
    expect(lines).toContain('error unknown command frobnicate');
    expect(lines).toContain('round 2');
    expect(lines.at(-2)).toBe('bye');
  });

  test('end of input ends the host like quit', () => {
    const r = runWine(HOST_EXE, [toWinePath(scenarioDll('tiny-function', 'v1'))], { input: '' });
    expect(r.status).toBe(0);
    expect(r.stdout.split(/\r?\n/).filter((l) => l === 'bye')).toHaveLength(1);
  });

  test('bad arguments: usage (exit 2), a missing DLL (exit 3), a DLL without the harness (exit 4)', () => {
    const none = runWine(HOST_EXE, []);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('usage: host.exe');
    const missing = join(SAMPLES_DIR, 'no-such-scenario', 'v1.dll');
    const r3 = runWine(HOST_EXE, [toWinePath(missing)]);
    expect(r3.status).toBe(3);
    expect(r3.stderr).toMatch(/^host: cannot load Z:\\.*no-such-scenario\\v1\.dll \(error \d+\)/m);
    expect(r3.stdout).toBe('');
    // kernel32 is a real DLL that has no hp_run.
    const r4 = runWine(HOST_EXE, ['kernel32.dll']);
    expect(r4.status).toBe(4);
    expect(r4.stderr).toContain('does not export hp_run and hp_name');
  });
});
