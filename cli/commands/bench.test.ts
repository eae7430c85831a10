/**
 * `hotpatch bench`: its usage errors are one line with exit code 2 (and a JSON error with
 * --json) before anything is measured, and --help lists its flags. The bench itself is
 * checked by bench/report.test.ts; running it here would take minutes.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function hotpatch(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin/hotpatch.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('hotpatch bench', () => {
  it('refuses an unknown section with one line and exit 2, naming the sections there are', () => {
    const r = hotpatch('bench', 'no-such-section');
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hotpatch: USAGE_UNKNOWN_SECTION: no bench section no-such-section \(have: .*\bsize\b.*\)$/);
    expect(lines[0]).toContain('apply-time');
  });

  it('gives the error as JSON with --json', () => {
    const r = hotpatch('bench', 'no-such-section', '--json');
    expect(r.status).toBe(2);
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('USAGE_UNKNOWN_SECTION');
  });

  it('documents its flags in --help', () => {
    const r = hotpatch('bench', '--help');
    expect(r.status).toBe(0);
    for (const flag of ['--quick', '--render', '--no-readme', '--json']) expect(r.stdout).toContain(flag);
  });
});
