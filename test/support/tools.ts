/**
 * External tools the tests use (mingw-w64, Wine, python3-pefile, bsdiff, ...). A test that
 * needs a missing tool is skipped with a visible reason, except under
 * HOTPATCH_REQUIRE_WINE=1 (CI sets it), where a missing tool is a failure.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const REQUIRE_TOOLS = process.env['HOTPATCH_REQUIRE_WINE'] === '1';

const cache = new Map<string, boolean>();

/** True when `cmd` runs (exit status 0 for `args`). */
export function hasTool(cmd: string, args: readonly string[] = ['--version']): boolean {
  const key = [cmd, ...args].join(' ');
  let found = cache.get(key);
  if (found === undefined) {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    found = r.status === 0;
    cache.set(key, found);
  }
  return found;
}

export const hasMingw = (): boolean => hasTool('x86_64-w64-mingw32-gcc');
/** clang-22 with lld-22 (the second sample toolchain). */
export const hasClang = (): boolean => hasTool('clang-22') && hasTool('ld.lld-22');
export const hasWine = (): boolean => hasTool('wine', ['--version']);
/** Debian's python3 with python3-pefile (a python3 earlier on PATH may not have it). */
export const PEFILE_PYTHON = '/usr/bin/python3';
export const hasPefile = (): boolean => hasTool(PEFILE_PYTHON, ['-c', 'import pefile']);

/**
 * PyPI packages for Debian's python3 (LIEF), pinned in pip-packages.txt and installed by
 * .ci/install-pip.sh into this directory per pinned line; put it on PYTHONPATH.
 */
export function pipPackagePath(name: string): string {
  const list = readFileSync(new URL('./pip-packages.txt', import.meta.url), 'utf8').split('\n');
  const line = list.find((l) => l.startsWith(`${name}==`));
  if (line === undefined) throw new Error(`${name} is not pinned in test/support/pip-packages.txt`);
  return join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'hotpatch', 'pip', line.trim());
}
export const hasLief = (): boolean => hasTool(PEFILE_PYTHON, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import lief', pipPackagePath('lief')]);

/**
 * Reason to skip, or undefined when every tool is there. Under HOTPATCH_REQUIRE_WINE=1 a
 * missing tool throws instead, so the suite fails rather than silently skipping.
 */
export function missingTools(needs: ReadonlyArray<'mingw' | 'wine' | 'pefile' | 'lief' | 'clang'>): string | undefined {
  const has = { mingw: hasMingw, wine: hasWine, pefile: hasPefile, lief: hasLief, clang: hasClang };
  const missing = needs.filter((n) => !has[n]());
  if (missing.length === 0) return undefined;
  const reason = `needs ${missing.join(', ')} (apt: gcc-mingw-w64-x86-64 wine64 python3-pefile clang-22 lld-22; LIEF: bash .ci/install-pip.sh)`;
  if (REQUIRE_TOOLS) throw new Error(`HOTPATCH_REQUIRE_WINE=1 but ${reason}`);
  return reason;
}
