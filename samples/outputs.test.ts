/**
 * Every scenario version, built by gcc and by clang, with symbols and stripped, runs in the
 * Wine host and prints
 * exactly its recorded output (samples/<name>/expected/<v>.txt); each step's fix shows:
 * consecutive versions print different outputs. `UPDATE_GOLDEN=1` re-records the expected
 * files from the symbol builds instead of comparing (an explicit step, like
 * `npm run samples:build -- --record`).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { missingTools } from '../test/support/tools.ts';
import { keepWineServer, toWinePath } from '../test/support/wine.ts';
import { startHost } from './host/host-session.ts';
import { expectedOutputPath, readExpectedOutput, readScenarios, scenarioDll, TOOLCHAINS, type SampleVersion, type Toolchain } from './scenarios.ts';

const skip = missingTools(['wine']);
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const scenarios = readScenarios();

beforeAll(() => {
  if (skip === undefined) keepWineServer(30);
});

describe('recorded outputs', () => {
  test.each(scenarios.map((s) => [s.name, s] as const))('%s: every step changes the output', (_n, s) => {
    for (const step of s.steps) {
      const from = readExpectedOutput(s.name, step.from);
      const to = readExpectedOutput(s.name, step.to);
      expect(from, `${s.name}/${step.from} recorded`).toBeDefined();
      expect(to, `${s.name}/${step.to} recorded`).toBeDefined();
      expect(from!.length).toBeGreaterThan(0);
      expect(to, `${s.name}: ${step.from} -> ${step.to} must change the output`).not.toBe(from);
    }
  });
});

describe.skipIf(skip !== undefined)(`scenario DLLs under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(scenarios.map((s) => [s.name, s] as const))('%s: each version prints its recorded output', async (_n, s) => {
    const runs: Array<{ version: SampleVersion; stripped: boolean; tc: Toolchain }> = [];
    for (const tc of TOOLCHAINS) for (const version of s.versions) for (const stripped of [false, true]) if (!(UPDATE && (stripped || tc !== 'gcc'))) runs.push({ version, stripped, tc });
    // The versions run side by side: each Wine start waits mostly on wineserver, not CPU.
    const results = await Promise.all(
      runs.map(async ({ version, stripped, tc }) => {
        const dll = scenarioDll(s.name, version, stripped, undefined, tc);
        const h = await startHost(dll);
        if (!h.ok) return { version, stripped, tc, dll, error: h.error.message };
        const q = await h.value.quit();
        return { version, stripped, tc, dll, session: h.value, exit: q.ok ? q.value : q.error.message };
      }),
    );
    for (const r of results) {
      const what = `${s.name}/${r.version}${r.tc === 'clang' ? '.clang' : ''}${r.stripped ? '.stripped' : ''}.dll`;
      expect(r.error, what).toBeUndefined();
      const session = r.session!;
      expect(r.exit, `${what}: host exit code`).toBe(0);
      expect(session.name, what).toBe(s.name);
      expect(session.moduleFile.toLowerCase(), what).toBe(toWinePath(r.dll).toLowerCase());
      expect(session.first.error, what).toBeUndefined();
      if (UPDATE) {
        const p = expectedOutputPath(s.name, r.version);
        mkdirSync(dirname(p), { recursive: true });
        writeFileSync(p, session.first.output);
        continue;
      }
      expect(session.first.output, what).toBe(readExpectedOutput(s.name, r.version));
    }
  }, 180_000);
});
