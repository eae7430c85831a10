/**
 * The house-style rule "functions under ~150 lines" (scripts/function-lengths.ts, run by
 * `npm run check:functions` and .ci/check-functions.sh): first shown to catch a new long
 * function, a listed one that grew and a stale entry in a small fixture tree, through the
 * command and its exit code, so a silent checker cannot pass for a clean repo; then the
 * repository itself, against scripts/long-functions-allowed.txt.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { checkFunctionLengths, functionLengths, parseAllowList, sourceFiles } from '../scripts/function-lengths.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A function declaration `name` of exactly `lines` source lines. */
const fn = (name: string, lines: number): string => `export function ${name}(): number {\n${'  Math.random();\n'.repeat(lines - 3)}  return 0;\n}\n`;

describe('function length rule', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'hp-long-functions-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const put = (path: string, text: string): void => {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  };
  /** The command on the fixture tree: its exit status and output. */
  const run = (...args: string[]): { status: number | null; out: string } => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.js'), join(ROOT, 'scripts/long-functions.ts'), ...args], { cwd: fixture, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, out: r.stdout + r.stderr };
  };

  test('counts lines and reports NEW, GREW, LOWER and REMOVE; the command exits 1 on each, 0 when the list matches', { timeout: 120_000 }, () => {
    put('src/a.ts', `${fn('short', 150)}${fn('long', 151)}`);
    put('src/b.ts', fn('listed', 160));
    put('src/b.test.ts', fn('inTest', 400));
    const all = functionLengths(sourceFiles(join(fixture, 'src')), fixture);
    expect(all.map((f) => [f.file, f.name, f.lines])).toEqual([['src/b.ts', 'listed', 160], ['src/a.ts', 'long', 151], ['src/a.ts', 'short', 150]]);
    const check = (list: string): string[] => checkFunctionLengths(all, parseAllowList(list).entries, 150, 'allow.txt');
    expect(check('160 src/b.ts listed\n151 src/a.ts long\n')).toEqual([]);
    expect(check('160 src/b.ts listed\n')).toEqual(['NEW: src/a.ts:151 long is 151 lines, over 150: split it at its seams']);
    expect(check('159 src/b.ts listed\n151 src/a.ts long')).toEqual(['GREW: src/b.ts:1 listed is 160 lines, allow.txt holds it at 159: split it, never raise the entry']);
    expect(check('170 src/b.ts listed # comment\n151 src/a.ts long')).toEqual(['LOWER: src/b.ts listed is 160 lines: lower its entry in allow.txt from 170 to 160']);
    expect(check('160 src/b.ts listed\n151 src/a.ts long\n150 src/a.ts short\n200 src/c.ts gone\n')).toEqual([
      'REMOVE: src/a.ts short is 150 lines, not over 150: remove its entry from allow.txt',
      'REMOVE: src/c.ts gone is gone: remove its entry from allow.txt',
    ]);
    expect(parseAllowList('160 src/b.ts\n').errors).toEqual(['line 1: expected "LINES FILE NAME", got "160 src/b.ts"']);

    put('allow.txt', '# header\n160 src/b.ts listed\n');
    const failed = run('--allow', 'allow.txt', 'src');
    expect(failed.status).toBe(1);
    expect(failed.out).toContain('NEW: src/a.ts:151 long is 151 lines');
    put('allow.txt', '160 src/b.ts listed\n151 src/a.ts long\n');
    const passed = run('--allow', 'allow.txt', 'src');
    expect(passed.out).toContain('ok: no function over 150 lines beyond the 2 listed in allow.txt');
    expect(passed.status).toBe(0);
  });

  test('the repository: no function over 150 lines beyond scripts/long-functions-allowed.txt, whose entries are exact', { timeout: 120_000 }, () => {
    const dirs = ['common', 'runtime', 'compiler', 'formats', 'bundle', 'cli', 'bench', 'scripts', 'samples', 'test'];
    const all = functionLengths(dirs.flatMap((d) => sourceFiles(join(ROOT, d))), ROOT);
    const list = parseAllowList(readFileSync(join(ROOT, 'scripts/long-functions-allowed.txt'), 'utf8'));
    expect(list.errors).toEqual([]);
    expect(checkFunctionLengths(all, list.entries, 150, 'scripts/long-functions-allowed.txt')).toEqual([]);
  });
});
