// The README quick start's main job: `hotpatch demo` runs build -> inspect -> apply -> revert
// on a bundled sample and reports what it measured.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHotpatch, type CliRun } from './support/cli.ts';

const run = (args: string[]): CliRun => runHotpatch(args);

describe('hotpatch demo', () => {
  it('builds, applies and reverts the logic-fix sample, writing a package that inspect accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hp-demo-test-'));
    const r = run(['demo', 'logic-fix', '--out-dir', dir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.functions).toEqual([{ name: 'sum_first', status: 'changed' }]);
    expect(j.package.size).toBe(statSync(join(dir, 'logic-fix.hpk')).size);
    expect(j.image.bytesChangedInImage).toBeGreaterThan(0);
    expect(j.image.revertedIdentical).toBe(true);
    expect(j.redirects).toBe(1);
    // The written package verifies with the written public key.
    const inspect = run(['inspect', join(dir, 'logic-fix.hpk'), '--trust', join(dir, 'demo.pub'), '--json']);
    expect(inspect.status).toBe(0);
    expect(JSON.parse(inspect.stdout).signature.status).toBe('verified');
    expect(readFileSync(join(dir, 'demo.key'), 'utf8')).toContain('PRIVATE KEY');
    expect(statSync(join(dir, 'demo.key')).mode & 0o777).toBe(0o600);
  });

  it('refuses a scenario the compiler must refuse, and an unknown one, with one line and exit 2', () => {
    for (const name of ['global-init', 'no-such-scenario']) {
      const r = run(['demo', name]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^hotpatch: USAGE_SCENARIO: /);
    }
  });
});
