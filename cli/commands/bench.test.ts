/**
 * `hotpatch bench`: its usage errors are one line with exit code 2 (and a JSON error with
 * --json) before anything is measured, and --help lists its flags. The bench itself is
 * checked by bench/report.test.ts; running it here would take minutes.
 */
import { describe, expect, it } from 'vitest';
import { runHotpatch, type CliRun } from '../../test/support/cli.ts';

const hotpatch = (...args: string[]): CliRun => runHotpatch(args, { timeoutMs: 60_000 });

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
