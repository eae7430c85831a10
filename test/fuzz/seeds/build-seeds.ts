/**
 * Builds the fuzz seeds of the discovery-diff surface (test/fuzz/surfaces.ts):
 * `node bin/run-ts.js test/fuzz/seeds/build-seeds.ts [--out DIR]`. seed.c is a DLL without
 * the C runtime, built at two versions by both toolchains of samples/ (mingw-w64 GCC + GNU ld,
 * clang-22 + lld), with and without its COFF symbol table: 8 files of 4-6 KB, about 11
 * functions each where the smallest sample DLL has 54 (its startup code). A fuzz case then
 * decodes and diffs in about a millisecond of CPU instead of twenty, which is what lets the
 * surface reach 1,000,000 cases.
 *
 * Deterministic as samples/build.ts is: `--no-insert-timestamp`, each version linked as
 * `seed.dll` inside its own folder (ld's automatic image base hashes the output name), no
 * `-g`, fixed flags. test/fuzz/fuzz.test.ts rebuilds them and compares when the compilers
 * are installed.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SEEDS_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The committed seed files: `v<1|2>.<gcc|clang>[.stripped].dll`. */
export const SEED_FILES: readonly string[] = ['gcc', 'clang'].flatMap((tc) => [1, 2].flatMap((v) => [`v${v}.${tc}.dll`, `v${v}.${tc}.stripped.dll`]));

const TOOLCHAINS = {
  gcc: ['x86_64-w64-mingw32-gcc'],
  clang: ['clang-22', '--target=x86_64-w64-mingw32', '-fuse-ld=lld'],
} as const;

/** Builds every seed into `outDir` (throws with the compiler's message when a build fails). */
export function buildSeeds(outDir: string): void {
  const work = mkdtempSync(join(tmpdir(), 'hotpatch-fuzz-seeds-'));
  try {
    for (const [tc, [cmd, ...pre]] of Object.entries(TOOLCHAINS)) {
      for (const v of [1, 2]) {
        const dir = join(work, tc, `v${v}`);
        mkdirSync(dir, { recursive: true });
        for (const stripped of [false, true]) {
          const args = [...pre, '-O2', '-Wall', `-DV=${v}`, '-shared', '-nostdlib', '-Wl,-e,DllMain', '-Wl,--no-insert-timestamp', stripped ? '-Wl,-s' : '-Wl,-S', '-o', 'seed.dll', join(SEEDS_DIR, 'seed.c'), '-lkernel32'];
          execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
          mkdirSync(outDir, { recursive: true });
          copyFileSync(join(dir, 'seed.dll'), join(outDir, `v${v}.${tc}${stripped ? '.stripped' : ''}.dll`));
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf('--out');
  buildSeeds(i < 0 ? SEEDS_DIR : process.argv[i + 1]!);
}
