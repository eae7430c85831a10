/**
 * Progress on stderr: drawn on a real TTY (the CLI run under `script`, a pseudo-terminal) with
 * the compiler's stage names in pipeline order and function counts; nothing at all on stderr
 * when it is a pipe, and nothing under --json even on a TTY.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runHotpatch, runHotpatchOnTty } from '../test/support/cli.ts';
import { scenarioDll } from '../samples/scenarios.ts';
import { progressText } from './progress.ts';

const OLD = scenarioDll('new-helper', 'v1');
const NEW = scenarioDll('new-helper', 'v2');
const dir = mkdtempSync(join(tmpdir(), 'hotpatch-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Progress from the first report, so the small sample pair shows it too. */
const env = { ...process.env, HOTPATCH_PROGRESS_DELAY_MS: '0' };

/** The status lines drawn (each starts with CR + erase-line), in order; the final erase precedes the result, not a status. */
function statusLines(tty: string): string[] {
  return tty
    .split('\r\x1b[K')
    .slice(1)
    .map((s) => s.split(/\r?\n/)[0]!)
    .filter((s) => s.startsWith('hotpatch '));
}

describe('progress on stderr', () => {
  it('formats a stage with its count and elapsed time', () => {
    expect(progressText('hotpatch build', { stage: 'verify', done: 3, total: 12, unit: 'functions' }, 3456)).toBe('hotpatch build: verify 3/12 functions  3.5 s');
    expect(progressText('hotpatch diff', { stage: 'match' }, 40)).toBe('hotpatch diff: match  0.0 s');
  });

  it('build on a TTY: every stage in pipeline order with counts, erased before the result', () => {
    const r = runHotpatchOnTty(['build', OLD, NEW, '-o', join(dir, 'p.hpk'), '--unsigned'], env);
    expect(r.status).toBe(0);
    const lines = statusLines(r.stdout);
    const stages = [...new Set(lines.map((l) => /^hotpatch build: (\w+)/.exec(l)?.[1]))];
    expect(stages).toEqual(['parse', 'functions', 'match', 'diff', 'emit', 'verify']);
    expect(lines.some((l) => /^hotpatch build: verify 2\/2 functions {2}\d+\.\d s$/.test(l))).toBe(true);
    expect(lines.some((l) => /^hotpatch build: functions 1\/2 images/.test(l))).toBe(true);
    // Decoding is counted function by function, per image.
    expect(lines.some((l) => /^hotpatch build: functions 0\/[1-9]\d* functions of OLD/.test(l))).toBe(true);
    expect(lines.some((l) => /^hotpatch build: functions 0\/[1-9]\d* functions of NEW/.test(l))).toBe(true);
    // The line is erased, then the result starts at column 0.
    expect(r.stdout).toMatch(/\r\x1b\[Kwrote /);
  });

  it('diff on a TTY shows parse, functions, match, diff; under --json nothing but the JSON', () => {
    const r = runHotpatchOnTty(['diff', OLD, NEW], env);
    expect(r.status).toBe(0);
    expect([...new Set(statusLines(r.stdout).map((l) => /^hotpatch diff: (\w+)/.exec(l)?.[1]))]).toEqual(['parse', 'functions', 'match', 'diff']);

    const j = runHotpatchOnTty(['diff', OLD, NEW, '--json'], env);
    expect(j.status).toBe(0);
    expect(j.stdout).not.toContain('\x1b[K');
    expect((JSON.parse(j.stdout) as { hotpatchable: boolean }).hotpatchable).toBe(true);
  });

  it('stderr is empty when it is a pipe (build and diff)', () => {
    const b = runHotpatch(['build', OLD, NEW, '-o', join(dir, 'q.hpk'), '--unsigned'], { env });
    expect(b.status).toBe(0);
    expect(b.stderr).toBe('');
    const d = runHotpatch(['diff', OLD, NEW], { env });
    expect(d.status).toBe(0);
    expect(d.stderr).toBe('');
    expect(d.stdout).toMatch(/^1 changed, 1 added/);
  });
});
