/** samples:fetch: cached files verify, and an unreachable registry fails fast with one clear line. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../test/support/test-files.ts';
import { realPairs } from './real-files.ts';

function fetchScript(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t = Date.now();
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/run-ts.js'), join(REPO_ROOT, 'samples/real/fetch.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t };
}

describe('samples:fetch', () => {
  it('the manifest has >= 10 pairs, sha256 for every file, and a pair whose code did not change', () => {
    const pairs = realPairs();
    expect(pairs.length).toBeGreaterThanOrEqual(10);
    for (const p of pairs) for (const f of [p.old, p.new]) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(pairs.some((p) => p.codeUnchanged === true)).toBe(true);
  });

  it('an unreachable registry gives SAMPLES_FETCH_FAILED lines and exit 60 within the timeout', () => {
    const label = realPairs().find((p) => p.label.startsWith('bufferutil'))?.label ?? '';
    const r = fetchScript([label], {
      HOTPATCH_REAL_CACHE: mkdtempSync(join(tmpdir(), 'hotpatch-real-cache-')),
      HOTPATCH_NPM_TIMEOUT_MS: '20000',
      npm_config_registry: 'http://127.0.0.1:9/',
      npm_config_cache: mkdtempSync(join(tmpdir(), 'hotpatch-npm-cache-')),
      npm_config_fetch_retries: '0',
    });
    expect(r.status).toBe(60);
    const fails = r.stderr.split('\n').filter((l) => l.startsWith('FAIL '));
    expect(fails).toHaveLength(2);
    for (const l of fails) expect(l).toMatch(/^FAIL bufferutil@4\.0\.[89] \S+: SAMPLES_FETCH_FAILED: npm pack bufferutil@4\.0\.[89]: .*ECONNREFUSED/);
    expect(r.stdout).toContain('0/2 files present');
    expect(r.ms).toBeLessThan(2 * 20_000 + 15_000);
  }, 120_000);
});
