/**
 * The compiler's commands as users run them: `hotpatch functions | diff | build | verify`,
 * their --json documents and exit codes (0 ok, 2 usage, 30 refused diff, 31 refused build,
 * 32 verification failure), and one-line errors.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { scenarioDll } from '../samples/scenarios.ts';
import { runHotpatch, type CliRun } from './support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'hotpatch-compiler-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hotpatch = (...args: string[]): CliRun => runHotpatch(args);

const v1 = scenarioDll('logic-fix', 'v1');
const v2 = scenarioDll('logic-fix', 'v2');

test('functions --json lists every function with where it was found', () => {
  const r = hotpatch('functions', scenarioDll('tiny-function', 'v1', true), '--json');
  expect(r.status).toBe(0);
  const j = JSON.parse(r.stdout) as { count: number; functions: Array<{ rva: string; size: number; sources: string[] }> };
  expect(j.count).toBe(j.functions.length);
  expect(j.functions.every((f) => /^0x[0-9a-f]+$/.test(f.rva) && f.size > 0 && f.sources.length > 0)).toBe(true);
  expect(j.functions.some((f) => f.sources.includes('descent'))).toBe(true);
});

test('diff: a file with itself is empty; a real change is listed with its verdict', () => {
  const self = hotpatch('diff', v1, v1, '--json');
  expect(self.status).toBe(0);
  const s = JSON.parse(self.stdout) as { functions: unknown[]; data: unknown[]; hotpatchable: boolean };
  expect(s.functions).toEqual([]);
  expect(s.data).toEqual([]);
  const d = hotpatch('diff', v1, v2, '--json');
  expect(d.status).toBe(0);
  const j = JSON.parse(d.stdout) as { functions: Array<{ name: string; status: string; verdict: string }>; hotpatchable: boolean };
  expect(j.functions).toEqual([expect.objectContaining({ name: 'sum_first', status: 'changed', verdict: 'hotpatchable' })]);
  expect(j.hotpatchable).toBe(true);
});

test('diff of a refused pair exits 30 and names the global', () => {
  const r = hotpatch('diff', scenarioDll('global-init', 'v1'), scenarioDll('global-init', 'v2'));
  expect(r.status).toBe(30);
  expect(r.stdout).toMatch(/g_retry_limit.*REFUSED.*initial value/);
});

test('build needs --key or an explicit --unsigned', () => {
  const out = join(dir, 'nokey.hpk');
  const r = hotpatch('build', v1, v2, '-o', out);
  expect(r.status).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/--unsigned/);
  expect(existsSync(out)).toBe(false);
});

test('build signs and verify proves the package; verify against the wrong NEW fails', () => {
  const keys = join(dir, 'keys');
  expect(hotpatch('keygen', '--out', keys).status).toBe(0);
  const out = join(dir, 'logic.hpk');
  const b = hotpatch('build', v1, v2, '-o', out, '--key', join(keys, 'hotpatch.key'), '--baseline', 'logic-base', '--sequence', '1', '--json');
  expect(b.status).toBe(0);
  const j = JSON.parse(b.stdout) as { written: boolean; signed: boolean; sizes: { package: number }; functions: Array<{ name: string }> };
  expect(j.written && j.signed).toBe(true);
  expect(j.sizes.package).toBe(readFileSync(out).length);
  expect(j.functions.map((f) => f.name)).toEqual(['sum_first']);
  const v = hotpatch('verify', v1, v2, out, '--trust', join(keys, 'hotpatch.pub'));
  expect(v.status).toBe(0);
  expect(v.stdout).toMatch(/verified: 1 function\(s\).*signature verified/);
  const wrong = hotpatch('verify', v1, scenarioDll('bounds-check', 'v2'), out);
  expect(wrong.status).toBe(32);
  expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
});

test('a refused build exits 31 with one line per reason and writes nothing; --skip-refused says what it left out', () => {
  const out = join(dir, 'struct.hpk');
  const a = scenarioDll('struct-layout', 'v1');
  const b = scenarioDll('struct-layout', 'v2');
  const r = hotpatch('build', a, b, '-o', out, '--unsigned');
  expect(r.status).toBe(31);
  const lines = r.stdout.trim().split('\n');
  expect(lines).toContainEqual(expect.stringMatching(/^refused: function settings_score: /));
  expect(lines).toContainEqual(expect.stringMatching(/^refused: global g_settings: .*layout/));
  expect(existsSync(out)).toBe(false);
  const s = hotpatch('build', a, b, '-o', out, '--unsigned', '--skip-refused');
  expect(s.status).toBe(0);
  expect(s.stdout).toMatch(/left out function settings_score/);
  expect(existsSync(out)).toBe(true);
});
