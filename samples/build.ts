/**
 * Builds every sample scenario DLL with both toolchains (mingw-w64 GCC + GNU ld, and
 * clang-22 + lld for x86_64-w64-mingw32 against the same mingw-w64 sysroot, CRT and
 * libstdc++), and the Wine host with GCC, deterministically:
 * `npm run samples:build` (into samples/bin/), `-- --out DIR` (elsewhere, e.g. to compare),
 * `-- --record` (then record expected outputs under Wine: samples/<name>/expected/<v>.txt).
 *
 * Why the builds are byte-identical on any machine with the same mingw-w64 packages:
 * - `--no-insert-timestamp`: TimeDateStamp is 0, not the build time.
 * - Each version is linked as `<name>.dll` from inside its own work folder with a relative
 *   output name: ld's automatic image base is a hash of the output name as given, and the
 *   export directory records the name, so every version of a scenario shares one image base
 *   and one DLL name (as real updates do) whatever the checkout path.
 * - No `-g`, and `-Wl,-S` drops the DWARF that the mingw startup objects carry (it holds
 *   the distribution's build paths); the COFF symbol table stays. `-Wl,-s` makes the
 *   stripped form from the same object file: same sections, no symbol table. (strip(1)
 *   would re-stamp TimeDateStamp with the current time.)
 * - `-ffile-prefix-map` maps the checkout path to `.` for anything that would mention it.
 * - Fixed order, fixed flags, nothing read from the environment.
 * - `foldIdentical` scenarios (identical code folding): clang's build adds
 *   `-ffunction-sections` and `-Wl,--icf=all` (compileForFolding); GNU ld has no ICF.
 * - clang: the same flags through its GCC-compatible driver; lld takes `--no-insert-timestamp`,
 *   `-S`/`-s` and `--enable-auto-image-base` (the base hashed from the output name, as ld
 *   does) from the mingw driver, so the same reasoning holds.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { err, ok, type Result } from '../common/errors.ts';
import { SAMPLES_BIN_DIR, SAMPLES_DIR, TOOLCHAINS, expectedOutputPath, readScenarios, scenarioDll, scenarioSource, type SampleVersion, type Scenario, type Toolchain } from './scenarios.ts';

const run = promisify(execFile);

const GCC = 'x86_64-w64-mingw32-gcc';
const GXX = 'x86_64-w64-mingw32-g++';
const CLANG = 'clang-22';
const CLANGXX = 'clang++-22';
/** clang's driver flags that select the mingw-w64 target and lld (compile and link). */
const CLANG_TARGET = ['--target=x86_64-w64-mingw32', '-fuse-ld=lld'];

/** The driver for a toolchain and language, and the flags it always takes first. */
function driver(tc: Toolchain, cxx: boolean): { cmd: string; pre: readonly string[] } {
  if (tc === 'gcc') return { cmd: cxx ? GXX : GCC, pre: [] };
  return { cmd: cxx ? CLANGXX : CLANG, pre: CLANG_TARGET };
}

/** Flags every scenario object and the host share (srcDir: the samples/ being built). */
const compileFlags = (srcDir: string): string[] => ['-O2', '-Wall', '-Wextra', `-ffile-prefix-map=${srcDir}=.`];
const LINK_FLAGS = ['-Wl,--no-insert-timestamp', '-static-libgcc'];

/** One file the build wrote. */
export interface BuiltFile {
  /** Path relative to the output folder, `/`-separated. */
  readonly path: string;
  readonly size: number;
}

async function compiler(args: readonly string[], cwd: string, cxx: boolean, tc: Toolchain = 'gcc'): Promise<Result<void>> {
  const { cmd, pre } = driver(tc, cxx);
  try {
    await run(cmd, [...pre, ...args], { cwd, maxBuffer: 16 << 20 });
    return ok(undefined);
  } catch (e) {
    const msg = e instanceof Error ? ((e as Error & { stderr?: string }).stderr ?? e.message) : String(e);
    return err('SAMPLES_BUILD_FAILED', `${cmd} ${args.join(' ')}: ${msg.trim().split('\n').slice(0, 3).join(' | ')}`);
  }
}

/** Where a build reads from and writes to. */
interface BuildContext {
  readonly srcDir: string;
  readonly outDir: string;
  readonly workRoot: string;
  readonly extraFlags: readonly string[];
}

async function buildVersion(s: Scenario, version: SampleVersion, tc: Toolchain, ctx: BuildContext): Promise<Result<BuiltFile[]>> {
  const { outDir, workRoot, srcDir } = ctx;
  const n = version.slice(1);
  const work = join(workRoot, tc, s.name, version);
  mkdirSync(work, { recursive: true });
  const cxx = s.language === 'c++';
  const obj = `${s.name}.o`;
  const source = join(srcDir, relative(SAMPLES_DIR, scenarioSource(s)));
  const fold = s.foldIdentical === true && tc === 'clang';
  const c = fold ? await compileForFolding(s, source, obj, work, cxx, ctx, n) : await compiler([...compileFlags(srcDir), ...ctx.extraFlags, `-DHP_VERSION=${n}`, '-c', '-o', obj, source], work, cxx, tc);
  if (!c.ok) return c;
  const link = [...LINK_FLAGS, ...(cxx ? ['-static-libstdc++'] : []), ...(fold ? ['-Wl,--icf=all'] : []), '-shared', '-o', `${s.name}.dll`, obj];
  const files: BuiltFile[] = [];
  for (const stripped of [false, true]) {
    const l = await compiler([...link, stripped ? '-Wl,-s' : '-Wl,-S'], work, cxx, tc);
    if (!l.ok) return l;
    const dest = scenarioDll(s.name, version, stripped, outDir, tc);
    mkdirSync(join(outDir, s.name), { recursive: true });
    copyFileSync(join(work, `${s.name}.dll`), dest);
    files.push({ path: relative(outDir, dest).split('\\').join('/'), size: readFileSync(dest).length });
  }
  return ok(files);
}

/**
 * clang's object for a `foldIdentical` scenario: lld folds identical functions (`--icf=all`)
 * only between COMDAT sections of one name, and clang's mingw target names each function's
 * section `.text$<function>` (for GNU ld) where MSVC names every one `.text$mn`. So: compile
 * with `-ffunction-sections` to assembly, rename each function's code section `.text$mn` as
 * MSVC does (COMDAT, selection and symbol unchanged), assemble.
 */
async function compileForFolding(s: Scenario, source: string, obj: string, work: string, cxx: boolean, ctx: BuildContext, n: string): Promise<Result<void>> {
  const asm = `${s.name}.s`;
  const c = await compiler([...compileFlags(ctx.srcDir), ...ctx.extraFlags, '-ffunction-sections', `-DHP_VERSION=${n}`, '-S', '-o', asm, source], work, cxx, 'clang');
  if (!c.ok) return c;
  const text = readFileSync(join(work, asm), 'utf8').replace(/^(\s*\.section\s+)\.text\$[A-Za-z0-9_.$?@]+,"xr",/gm, '$1.text$$mn,"xr",');
  writeFileSync(join(work, `${s.name}.mn.s`), text);
  return compiler(['-c', '-o', obj, `${s.name}.mn.s`], work, cxx, 'clang');
}

async function buildHost(ctx: BuildContext): Promise<Result<BuiltFile>> {
  const { outDir, workRoot, srcDir } = ctx;
  const work = join(workRoot, 'host');
  mkdirSync(work, { recursive: true });
  const r = await compiler([...compileFlags(srcDir), ...LINK_FLAGS, '-s', '-o', 'host.exe', join(srcDir, 'host', 'host.c')], work, false);
  if (!r.ok) return r;
  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(work, 'host.exe'), join(outDir, 'host.exe'));
  return ok({ path: 'host.exe', size: readFileSync(join(outDir, 'host.exe')).length });
}

/**
 * Builds the host and every version of every scenario into `outDir` (samples/bin layout),
 * `jobs` compiler runs at a time. `only`: just these scenarios; `srcDir`: a copy of samples/
 * to compile instead (tests build from another path to show the path leaves no trace);
 * `toolchains`: gcc, clang or both (default both);
 * `extraFlags`: appended to each scenario's compile (tests). Returns the files written, in
 * a fixed order.
 */
export async function buildSamples(
  outDir: string = SAMPLES_BIN_DIR,
  opts: { jobs?: number; only?: readonly string[]; srcDir?: string; extraFlags?: readonly string[]; toolchains?: readonly Toolchain[] } = {},
): Promise<Result<BuiltFile[]>> {
  const scenarios = readScenarios().filter((s) => opts.only === undefined || opts.only.includes(s.name));
  const workRoot = mkdtempSync(join(tmpdir(), 'hotpatch-samples-'));
  const ctx: BuildContext = { srcDir: opts.srcDir ?? SAMPLES_DIR, outDir, workRoot, extraFlags: opts.extraFlags ?? [] };
  try {
    const tasks: Array<() => Promise<Result<BuiltFile[]>>> = [
      async () => {
        const h = await buildHost(ctx);
        return h.ok ? ok([h.value]) : h;
      },
    ];
    for (const tc of opts.toolchains ?? TOOLCHAINS) for (const s of scenarios) for (const v of s.versions) tasks.push(() => buildVersion(s, v, tc, ctx));
    const results: Array<Result<BuiltFile[]>> = new Array(tasks.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.jobs ?? 2) }, lane));
    const files: BuiltFile[] = [];
    for (const r of results) {
      if (!r.ok) return r;
      files.push(...r.value);
    }
    return ok(files);
  } finally {
    rmSync(workRoot, { recursive: true, force: true });
  }
}

/**
 * Runs each version (with symbols) of each scenario in the Wine host and writes hp_run's
 * output as samples/<name>/expected/<v>.txt. An explicit step (`--record`), never part of a
 * test run: the tests compare against these files.
 */
export async function recordExpectedOutputs(binDir: string = SAMPLES_BIN_DIR, only?: readonly string[]): Promise<Result<string[]>> {
  const { runHostOnce } = await import('./host/host-session.ts');
  const { keepWineServer } = await import('./wine.ts');
  keepWineServer(30);
  const written: string[] = [];
  for (const s of readScenarios()) {
    if (only !== undefined && !only.includes(s.name)) continue;
    for (const v of s.versions) {
      const r = await runHostOnce(scenarioDll(s.name, v, false, binDir), { hostExe: join(binDir, 'host.exe') });
      if (!r.ok) return r;
      // The expected output is the source's, not a compiler's: clang's build must agree.
      const c = await runHostOnce(scenarioDll(s.name, v, false, binDir, 'clang'), { hostExe: join(binDir, 'host.exe') });
      if (!c.ok) return c;
      if (c.value.output !== r.value.output) return err('SAMPLES_BUILD_FAILED', `${s.name}/${v}: the clang build prints other output than the gcc build`);
      const dest = expectedOutputPath(s.name, v);
      mkdirSync(join(SAMPLES_DIR, s.name, 'expected'), { recursive: true });
      writeFileSync(dest, r.value.output);
      written.push(dest);
    }
  }
  return ok(written);
}

async function main(argv: readonly string[]): Promise<number> {
  let outDir = SAMPLES_BIN_DIR;
  let record = false;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out' && argv[i + 1] !== undefined) outDir = resolve(argv[++i]!);
    else if (a === '--record') record = true;
    else if (a === '--only' && argv[i + 1] !== undefined) only.push(argv[++i]!);
    else {
      process.stderr.write('usage: npm run samples:build -- [--out DIR] [--record] [--only NAME]...\n');
      return 2;
    }
  }
  const sel = only.length > 0 ? only : undefined;
  const built = await buildSamples(outDir, sel === undefined ? {} : { only: sel });
  if (!built.ok) {
    process.stderr.write(`samples: ${built.error.code}: ${built.error.message}\n`);
    return 60;
  }
  for (const f of built.value) process.stdout.write(`${f.path.padEnd(40)} ${f.size}\n`);
  if (record) {
    const rec = await recordExpectedOutputs(outDir, sel);
    if (!rec.ok) {
      process.stderr.write(`samples: ${rec.error.code}: ${rec.error.message}\n`);
      return 60;
    }
    for (const p of rec.value) process.stdout.write(`recorded ${p}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(SAMPLES_DIR, 'build.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}

