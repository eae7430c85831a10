/**
 * The pairs every size and time section measures, and the per-pair analysis they share:
 * - samples: every step of every hotpatchable scenario in samples/scenarios.json, GCC and
 *   clang-22 builds;
 * - real: every pair of samples/real/manifest.json (files from `npm run samples:fetch`).
 *
 * `analysePair` compiles the pair once per run (timed with tinybench: diff, emit, verify,
 * sign), runs the baseline tools (bsdiff/bspatch, xdelta3 -e/-d, zstd --patch-from, zstd
 * of the whole new file) and the floor, and keeps only numbers plus the package file: the
 * diff of a 19 MB pair holds ~2 GB, so it is dropped before the next pair. Results are
 * memoised for the process, so the size, compile and apply-time sections share one
 * measurement.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Bench } from 'tinybench';
import { hex } from '../common/types.ts';
import { buildFromDiff, sealBuilt, COMPILER_VERSION, diffFiles, refusalLines, refusalsByCode, type BuiltPackage, type ImageDiff, type ReasonCode } from '../compiler/index.ts';
import { encodePackage } from '../formats/container.ts';
import { generateKeyPair, importPublicKey, type PublicKey, type SigningKey } from '../formats/keys.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { TOOLCHAINS } from '../samples/scenarios.ts';
import type { Timing } from './stats.ts';
import { fileSize, runConcurrently, sameFile, timeTool } from './tools.ts';
import { completePackage } from './complete-package.ts';

/** Which set a pair belongs to; geometric means are per group. */
export type PairGroup = 'samples' | 'real';

/** One old/new pair to measure. */
export interface BenchPair {
  readonly group: PairGroup;
  /** `scenario v1->v2` for samples, the manifest label for real pairs. */
  readonly label: string;
  readonly oldPath: string;
  readonly newPath: string;
  readonly moduleName: string;
  /** Set when the files are not there (real corpus not fetched): the row says so. */
  readonly missing: string | null;
}

/**
 * Scenario steps of samples/scenarios.json that are expected to be hotpatchable, built by
 * GCC and by clang-22 + lld (labelled "(clang)"), with symbols. A known miss stays in: its
 * row shows the refusal (and the --skip-refused package, marked partial).
 */
export function samplePairs(root: string): BenchPair[] {
  const scenarios = JSON.parse(readFileSync(join(root, 'samples/scenarios.json'), 'utf8')) as { name: string; expect: string; steps: { from: string; to: string }[] }[];
  const out: BenchPair[] = [];
  for (const tc of TOOLCHAINS) {
    const suffix = tc === 'clang' ? '.clang' : '';
    for (const s of scenarios) {
      if (s.expect !== 'hotpatchable') continue;
      for (const st of s.steps) {
        const oldPath = join(root, 'samples/bin', s.name, `${st.from}${suffix}.dll`);
        const newPath = join(root, 'samples/bin', s.name, `${st.to}${suffix}.dll`);
        const missing = existsSync(oldPath) && existsSync(newPath) ? null : `samples/bin/${s.name}/${st.from}${suffix}.dll or ${st.to}${suffix}.dll is missing (npm run samples:build)`;
        out.push({ group: 'samples', label: `${s.name} ${st.from}->${st.to}${tc === 'clang' ? ' (clang)' : ''}`, oldPath, newPath, moduleName: `${s.name}.dll`, missing });
      }
    }
  }
  return out;
}

/** Every pair of samples/real/manifest.json, whether fetched or not. */
export function corpusPairs(): BenchPair[] {
  return realPairs().map((p) => {
    const oldPath = cachePath(p.old);
    const newPath = cachePath(p.new);
    const missing = existsSync(oldPath) && existsSync(newPath) ? null : `not in samples/real/cache (run npm run samples:fetch)`;
    return { group: 'real' as const, label: p.label, oldPath, newPath, moduleName: basename(oldPath), missing };
  });
}

/** Sizes of the whole-file baselines, in bytes. */
export interface BaselineSizes {
  readonly bsdiff: number;
  readonly xdelta3: number;
  readonly zstdPatchFrom: number;
  readonly zstdWholeNew: number;
}

/** A changed or added function, for "what made the package large". */
export interface BigFunction {
  readonly name: string;
  readonly status: string;
  readonly verdict: string | null;
  readonly bytes: number;
  readonly reason: string | null;
}

/** Everything measured on one pair (plain JSON except `packageFile`). */
export interface PairAnalysis {
  readonly group: PairGroup;
  readonly label: string;
  readonly oldSize: number;
  readonly newSize: number;
  /** Null when the pair could not be measured at all (files missing, PE refused). */
  readonly error: string | null;
  /** True when the compiler accepted every change. */
  readonly hotpatchable: boolean;
  readonly counts: ImageDiff['counts'] | null;
  /** One line per refused change (function or data). */
  readonly refused: readonly string[];
  /** Refusal reasons with addresses blanked out, most frequent first. */
  readonly refusedReasons: ReadonlyArray<{ readonly code: ReasonCode; readonly count: number }>;
  /** The package: complete when hotpatchable, else built with --skip-refused (partial). */
  readonly package: {
    readonly bytes: number;
    readonly partial: boolean;
    readonly functions: number;
    readonly dataBlocks: number;
    readonly imports: number;
    readonly omitted: number;
    readonly sizes: BuiltPackage['emitted']['sizes'];
  } | null;
  /** Why there is no package (the --skip-refused build failed too). */
  readonly packageError: string | null;
  /**
   * For a partial package: the complete package, every change the diff found carried
   * (bench/complete-package.ts; unverified, an estimate of what the full update costs as a
   * hotpatch), or why it is missing. Null when the package is already complete.
   */
  readonly complete: { readonly bytes: number; readonly functions: number; readonly forced: number; readonly literal: number } | { readonly error: string } | null;
  /** Compile time: diff + emit + verify + sign/encode (with --skip-refused for refused pairs). */
  readonly compile: Timing | null;
  readonly baselines: BaselineSizes | null;
  /** New bytes of the changed/added functions and data, raw and zstd -19 --patch-from=OLD. */
  readonly floor: { readonly rawBytes: number; readonly bytes: number } | null;
  readonly tools: { readonly bsdiffCreate: Timing; readonly bspatch: Timing; readonly xdelta3Decode: Timing } | null;
  readonly topFunctions: readonly BigFunction[];
  /** The signed package file, for the apply timings (not written to report.json). */
  readonly packageFile: Uint8Array | null;
}

/** A tinybench latency (ms) as a Timing: its median (p50), min, max and sample count. */
export function tinybenchTiming(latency: { readonly p50: number; readonly min: number; readonly max: number; readonly samplesCount: number }): Timing {
  return { medianMs: latency.p50, minMs: latency.min, maxMs: latency.max, n: latency.samplesCount };
}

/** How many repetitions: fewer for big files, one for --quick. */
export interface Effort {
  readonly quick: boolean;
}

function toolRuns(e: Effort, pair: BenchPair, newSize: number): number {
  if (e.quick) return 1;
  if (pair.group === 'samples') return 5;
  return newSize < 2_000_000 ? 3 : 1;
}

let keys: Promise<{ signingKey: SigningKey; publicKey: PublicKey }> | null = null;

/** The run's signing key (fresh per run: packages are signed as `hotpatch build --key` does). */
export function benchKeys(): Promise<{ signingKey: SigningKey; publicKey: PublicKey }> {
  keys ??= (async () => {
    const k = await generateKeyPair();
    const pub = await importPublicKey(k.publicPem);
    if (!pub.ok) throw new Error(`bench key: ${pub.error.message}`);
    return { signingKey: k.signingKey, publicKey: pub.value };
  })();
  return keys;
}

/** The new bytes of every changed/added function and changed/added data item, concatenated. */
export function floorBytes(d: ImageDiff): Uint8Array {
  const img = d.match.new.img.image;
  const fns = d.match.new.fns.functions;
  const parts: Uint8Array[] = [];
  for (const f of d.functions) {
    if ((f.status !== 'changed' && f.status !== 'added') || f.newIndex === null) continue;
    const info = fns[f.newIndex];
    if (info === undefined) continue;
    for (const r of info.ranges) parts.push(img.subarray(r.start, r.end));
  }
  for (const x of d.data) {
    if (x.status === 'removed' || x.newRva === null) continue;
    parts.push(img.subarray(x.newRva, Math.min(img.length, x.newRva + x.size)));
  }
  return new Uint8Array(Buffer.concat(parts));
}

function topFunctionsOf(d: ImageDiff, n: number): BigFunction[] {
  return d.functions
    .filter((f) => f.status === 'changed' || f.status === 'added')
    .map((f) => ({ name: f.name ?? hex(f.newRva ?? 0), status: f.status, verdict: f.verdict, bytes: f.newSize, reason: f.reason === null ? null : `${f.reason.message} [${f.reason.code}]` }))
    .sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name))
    .slice(0, n);
}

interface Compiled {
  diff: ImageDiff;
  built: BuiltPackage | null;
  buildError: string | null;
  file: Uint8Array | null;
}

/** diff -> (skip-refused when needed) emit + verify -> signed container: what `hotpatch build --key` does after reading the files. */
async function compileOnce(oldBytes: Uint8Array, newBytes: Uint8Array, moduleName: string, signingKey: SigningKey): Promise<Compiled | string> {
  const d = diffFiles(oldBytes, newBytes);
  if (!d.ok) return `${d.error.code}: ${d.error.message}`;
  const b = buildFromDiff(d.value, { moduleName, skipRefused: !d.value.hotpatchable, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) return { diff: d.value, built: null, buildError: `${b.error.code}: ${b.error.message}`, file: null };
  const s = await sealBuilt(b.value);
  if (!s.ok) return { diff: d.value, built: null, buildError: `${s.error.code}: ${s.error.message}`, file: null };
  const enc = await encodePackage(s.value.emitted.pkg, { signingKey });
  if (!enc.ok) return { diff: d.value, built: s.value, buildError: `${enc.error.code}: ${enc.error.message}`, file: null };
  return { diff: d.value, built: s.value, buildError: null, file: enc.value };
}

function errorRow(pair: BenchPair, oldSize: number, newSize: number, error: string): PairAnalysis {
  return { group: pair.group, label: pair.label, oldSize, newSize, error, hotpatchable: false, counts: null, refused: [], refusedReasons: [], package: null, packageError: null, complete: null, compile: null, baselines: null, floor: null, tools: null, topFunctions: [], packageFile: null };
}

/** Measures one pair (see the module comment). Never throws for bad inputs: the row carries the error. */
export async function measurePair(pair: BenchPair, effort: Effort, log: (line: string) => void): Promise<PairAnalysis> {
  if (pair.missing !== null) return errorRow(pair, 0, 0, pair.missing);
  const oldBytes = new Uint8Array(readFileSync(pair.oldPath));
  const newBytes = new Uint8Array(readFileSync(pair.newPath));
  const { signingKey } = await benchKeys();
  const runs = toolRuns(effort, pair, newBytes.length);

  // Compile, timed by tinybench; the last iteration's result is kept for the analysis.
  let last: Compiled | string | null = null;
  const small = pair.group === 'samples';
  const bench = new Bench(
    small
      ? { iterations: effort.quick ? 2 : 5, time: effort.quick ? 0 : 300, warmup: !effort.quick, warmupIterations: 1, warmupTime: 0 }
      : { iterations: effort.quick || newBytes.length >= 1_000_000 ? 1 : 3, time: 0, warmup: false },
  );
  bench.add('compile', async () => {
    last = null; // let the previous diff go before building the next one
    last = await compileOnce(oldBytes, newBytes, pair.moduleName, signingKey);
  });
  await bench.run();
  const result = bench.tasks[0]?.result;
  const compiled = last as Compiled | string | null;
  if (compiled === null || result === undefined || result.state !== 'completed') {
    const why = result !== undefined && 'error' in result ? String((result as { error?: unknown }).error) : 'compile did not complete';
    return errorRow(pair, oldBytes.length, newBytes.length, why);
  }
  if (typeof compiled === 'string') return errorRow(pair, oldBytes.length, newBytes.length, compiled);
  const compile = tinybenchTiming(result.latency);
  const d = compiled.diff;
  log(`${pair.label}: compiled in ${compile.medianMs.toFixed(0)} ms (${d.hotpatchable ? 'hotpatchable' : `${d.counts.refused} refused`}${compiled.buildError !== null ? `, no package: ${compiled.buildError}` : ''})`);

  const dir = mkdtempSync(join(tmpdir(), 'hotpatch-bench-'));
  try {
    const p = (name: string): string => join(dir, name);
    // Floor first, while the diff is alive; then drop it.
    const floorRaw = floorBytes(d);
    writeFileSync(p('floor.bin'), floorRaw);
    const counts = d.counts;
    const refused = refusalLines(d);
    const refusedReasons = refusalsByCode(d);
    const topFunctions = topFunctionsOf(d, 10);
    const built = compiled.built;
    const pkg =
      built === null || compiled.file === null
        ? null
        : {
            bytes: compiled.file.length,
            partial: !d.hotpatchable,
            functions: built.emitted.pkg.functions.length,
            dataBlocks: built.emitted.pkg.dataBlocks.length,
            imports: built.emitted.pkg.imports.length,
            omitted: built.emitted.omitted.length,
            sizes: built.emitted.sizes,
          };
    const packageFile = compiled.file;
    const packageError = compiled.buildError;
    const complete = built === null || d.hotpatchable ? null : await completeOf(d, pair, newBytes.length, signingKey);
    last = null;

    // Size-only runs (their time is not reported) side by side, as many as there are cores;
    // the timed runs (bsdiff, bspatch, xdelta3 -d) follow one at a time.
    const zstd19 = ['-q', '-f', '-19'];
    await runConcurrently(
      [
        ['zstd', [...zstd19, '--long=27', `--patch-from=${pair.oldPath}`, pair.newPath, '-o', p('patch.zst')]],
        // An empty floor (no function or data changed) is 0 bytes: zstd --patch-from asserts
        // on an empty input (FIO_highbit64) instead of writing an empty frame.
        ...(floorRaw.length === 0 ? [] : [['zstd', [...zstd19, '--long=27', `--patch-from=${pair.oldPath}`, p('floor.bin'), '-o', p('floor.zst')]] as [string, string[]]]),
        ['zstd', [...zstd19, pair.newPath, '-o', p('whole.zst')]],
        ['xdelta3', ['-e', '-9', '-f', '-s', pair.oldPath, pair.newPath, p('patch.xd3')]],
      ],
      cpus().length,
    );
    const floor = { rawBytes: floorRaw.length, bytes: floorRaw.length === 0 ? 0 : fileSize(p('floor.zst')) };
    const bsdiffCreate = timeTool('bsdiff', [pair.oldPath, pair.newPath, p('patch.bsdiff')], runs);
    const bspatch = timeTool('bspatch', [pair.oldPath, p('out.bspatch'), p('patch.bsdiff')], runs);
    if (!sameFile(p('out.bspatch'), pair.newPath)) return errorRow(pair, oldBytes.length, newBytes.length, 'bspatch did not reproduce the new file');
    const xdelta3Decode = timeTool('xdelta3', ['-d', '-f', '-s', pair.oldPath, p('patch.xd3'), p('out.xd3')], runs);
    if (!sameFile(p('out.xd3'), pair.newPath)) return errorRow(pair, oldBytes.length, newBytes.length, 'xdelta3 -d did not reproduce the new file');
    const baselines = { bsdiff: fileSize(p('patch.bsdiff')), xdelta3: fileSize(p('patch.xd3')), zstdPatchFrom: fileSize(p('patch.zst')), zstdWholeNew: fileSize(p('whole.zst')) };
    log(`${pair.label}: package ${pkg?.bytes ?? '-'} B, bsdiff ${baselines.bsdiff} B, xdelta3 ${baselines.xdelta3} B, zstd --patch-from ${baselines.zstdPatchFrom} B, floor ${floor.bytes} B`);
    return {
      group: pair.group,
      label: pair.label,
      oldSize: oldBytes.length,
      newSize: newBytes.length,
      error: null,
      hotpatchable: d.hotpatchable,
      counts,
      refused,
      refusedReasons,
      package: pkg,
      packageError,
      complete,
      compile,
      baselines,
      floor,
      tools: { bsdiffCreate, bspatch, xdelta3Decode },
      topFunctions,
      packageFile,
    };
  } catch (e) {
    return errorRow(pair, oldBytes.length, newBytes.length, (e as Error).message.split('\n')[0] ?? 'tool failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Complete packages are estimated for files up to this size (a 19 MB pair's diff holds ~2 GB already). */
const COMPLETE_MAX_NEW_BYTES = 10_000_000;

async function completeOf(d: ImageDiff, pair: BenchPair, newSize: number, signingKey: SigningKey): Promise<PairAnalysis['complete']> {
  if (newSize > COMPLETE_MAX_NEW_BYTES) return { error: `not estimated above ${COMPLETE_MAX_NEW_BYTES / 1e6} MB` };
  const c = await completePackage(d, pair.moduleName, signingKey);
  return typeof c === 'string' ? { error: c } : { bytes: c.bytes, functions: c.functions, forced: c.forced, literal: c.literal };
}

const memo = new Map<string, Promise<PairAnalysis>>();

/** The pairs a run measures: all of them, or for --quick every sample and the three smallest real pairs. */
export function benchPairs(root: string, effort: Effort): BenchPair[] {
  const real = corpusPairs();
  const chosen = effort.quick
    ? real
        .filter((p) => p.missing === null)
        .sort((a, b) => fileSize(a.newPath) - fileSize(b.newPath))
        .slice(0, 3)
    : real;
  return [...samplePairs(root), ...chosen];
}

/** `measurePair`, once per pair per process (sections share it). */
export function analysePair(pair: BenchPair, effort: Effort, log: (line: string) => void): Promise<PairAnalysis> {
  const key = `${pair.group}:${pair.label}:${effort.quick}`;
  let p = memo.get(key);
  if (p === undefined) {
    p = measurePair(pair, effort, log);
    memo.set(key, p);
  }
  return p;
}

/** Analyses `pairs` one after another (they share two cores with everything else). */
export async function analysePairs(pairs: readonly BenchPair[], effort: Effort, log: (line: string) => void): Promise<PairAnalysis[]> {
  const out: PairAnalysis[] = [];
  for (const pair of pairs) out.push(await analysePair(pair, effort, log));
  return out;
}
