/**
 * Bench section `startup`: how long the installed `hotpatch` command takes from process start
 * to exit, and how big the runtime bundle for agents is.
 * - CLI start: `node bin/hotpatch.cjs --help` and `node bin/hotpatch.cjs pe SMALL.dll` (the
 *   compiled CLI in dist/, rebuilt first with `npm run build`'s script so it matches the
 *   sources), each next to `node -e 0` in the same run, interleaved round by round so
 *   machine load hits all alike; wall time of the process (spawn to exit), median of n.
 *   Before: the same two commands through tsx from the TypeScript sources (how bin/hotpatch.cjs
 *   ran before dist/ existed; issue #12 measured 1.3 s and 1.05 s), in the first rounds of the
 *   same run (fewer: each takes about half a second), and the ratio before / now.
 * - Runtime bundle: scripts/bundle-runtime.ts (what dist/bundle/ ships as
 *   `hotpatch/runtime/bundle`), minified; gzip -9 sizes computed here; the pe-parser .wasm
 *   apart and included.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bundledPackages, bundleRuntime, RUNTIME_BUNDLE_JS, RUNTIME_BUNDLE_WASM } from '../../scripts/bundle-runtime.ts';
import { scenarioDll } from '../../samples/scenarios.ts';
import { markdownTable, type BenchContext, type BenchSection, type SectionResult } from '../section.ts';
import { formatBytes, formatMs, formatTiming, summarizeTimes, type Timing } from '../stats.ts';
import { runTool } from '../tools.ts';
import { checkoutBaseline, PARSER_BASELINE } from '../baseline.ts';

interface StartRow {
  readonly what: string;
  readonly command: string;
  readonly timing: Timing;
  /** Median minus `node -e 0`'s median in the same run (null for node itself). */
  readonly overNodeMs: number | null;
  /** The same command through tsx in the same run (null for node itself). */
  readonly before: { readonly command: string; readonly timing: Timing; readonly ratio: number } | null;
}

interface BundleSizes {
  readonly jsBytes: number;
  readonly jsGzipBytes: number;
  readonly wasmBytes: number;
  readonly wasmGzipBytes: number;
  readonly totalBytes: number;
  readonly totalGzipBytes: number;
  readonly packages: readonly string[];
}

const gz = (b: Uint8Array): number => gzipSync(b, { level: 9 }).length;

function runtimeBundleSizes(root: string): Promise<BundleSizes> {
  const out = mkdtempSync(join(tmpdir(), 'hotpatch-bench-bundle-'));
  return bundleRuntime(root, out)
    .then((meta) => {
      const js = readFileSync(join(out, RUNTIME_BUNDLE_JS));
      const wasm = readFileSync(join(out, RUNTIME_BUNDLE_WASM));
      return { jsBytes: js.length, jsGzipBytes: gz(js), wasmBytes: wasm.length, wasmGzipBytes: gz(wasm), totalBytes: js.length + wasm.length, totalGzipBytes: gz(js) + gz(wasm), packages: bundledPackages(meta) };
    })
    .finally(() => rmSync(out, { recursive: true, force: true }));
}

const section: BenchSection = {
  id: 'startup',
  title: 'CLI start time and the runtime bundle size',
  async run(ctx: BenchContext): Promise<SectionResult> {
    ctx.log('startup: building dist/ (npm run build)');
    const built = spawnSync(process.execPath, [join(ctx.root, 'bin/run-ts.js'), join(ctx.root, 'scripts/build.ts')], { cwd: ctx.root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`npm run build failed: ${built.stderr.trim().split('\n').slice(-3).join(' ')}`);

    const bin = join(ctx.root, 'bin/hotpatch.cjs');
    const small = scenarioDll('logic-fix', 'v1');
    const tsx = [join(ctx.root, 'bin/run-ts.js'), join(ctx.root, 'cli/main.ts')];
    // [row, command shown, node's arguments, the same through tsx (before dist/)]
    const commands: ReadonlyArray<readonly [string, string, readonly string[], readonly string[] | null]> = [
      ['node -e 0', 'node -e 0', ['-e', '0'], null],
      ['hotpatch --help', 'node bin/hotpatch.cjs --help', [bin, '--help'], [...tsx, '--help']],
      [`hotpatch pe (${readFileSync(small).length} bytes)`, 'node bin/hotpatch.cjs pe samples/bin/logic-fix/v1.dll', [bin, 'pe', small], [...tsx, 'pe', small]],
    ];
    const rounds = ctx.quick ? 5 : 15;
    const tsxRounds = ctx.quick ? 1 : 5;
    const load = loadavg()[0] ?? 0;
    const samples: number[][] = commands.map(() => []);
    const tsxSamples: number[][] = commands.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, [, , args, tsxArgs]] of commands.entries()) {
        samples[i]!.push(runTool(process.execPath, args));
        if (tsxArgs !== null && r < tsxRounds) tsxSamples[i]!.push(runTool(process.execPath, tsxArgs));
      }
    }

    const node = summarizeTimes(samples[0]!);
    const rows: StartRow[] = commands.map(([what, command, , tsxArgs], i) => {
      const timing = summarizeTimes(samples[i]!);
      const beforeTiming = tsxArgs === null ? null : summarizeTimes(tsxSamples[i]!);
      const before = beforeTiming === null ? null : { command: command.replace('bin/hotpatch.cjs', 'bin/run-ts.js cli/main.ts'), timing: beforeTiming, ratio: beforeTiming.medianMs / timing.medianMs };
      return { what, command, timing, overNodeMs: i === 0 ? null : timing.medianMs - node.medianMs, before };
    });

    ctx.log('startup: runtime bundle');
    const b = await runtimeBundleSizes(ctx.root);
    // The same bundle of the parser's baseline (hand-written bindings), built here with the same settings.
    const base = checkoutBaseline(ctx.root, PARSER_BASELINE);
    let before: BundleSizes | string;
    if (typeof base === 'string') before = base;
    else {
      before = await runtimeBundleSizes(base.root).catch((e: unknown) => `bundling ${PARSER_BASELINE.slice(0, 7)} failed: ${(e as Error).message.split('\n')[0] ?? ''}`);
      base.remove();
    }
    const sizeCells = (x: BundleSizes | string, k: 'js' | 'wasm' | 'total'): string[] => {
      if (typeof x === 'string') return ['-', '-'];
      const [raw, gzip] = k === 'js' ? [x.jsBytes, x.jsGzipBytes] : k === 'wasm' ? [x.wasmBytes, x.wasmGzipBytes] : [x.totalBytes, x.totalGzipBytes];
      return [formatBytes(raw), formatBytes(gzip)];
    };
    // Node reads the whole CA file named there at every start, before any script runs: on this
    // machine (Debian's CA bundle) 420 M of `node -e 0`'s 503 M instructions (callgrind).
    const caNote = process.env['NODE_EXTRA_CA_CERTS'] ? ` NODE_EXTRA_CA_CERTS is set in this environment, so every row, \`node -e 0\` included, starts by loading that CA file (with Debian's CA bundle, most of \`node -e 0\`'s start).` : '';
    const markdown = [
      `Load average ${load.toFixed(2)} on ${cpus().length} cores when this section started: on a busy machine every row, \`node -e 0\` included, stretches alike, so compare the rows with each other.${caNote} Wall time from process start to exit (spawn included, the same for every row), median (min..max, n) over ${rounds} interleaved rounds; "over node" is the median minus \`node -e 0\`'s median in the same run. The CLI is the compiled one (dist/, rebuilt before measuring): each command's module is loaded only when it runs, so neither row loads the compiler, iced-x86, protobufjs or zstd-codec. Target: hotpatch --help and hotpatch pe of a small file within 150 ms. "Before" is the same command through tsx from the TypeScript sources, as bin/hotpatch.cjs ran before dist/ existed, measured in the first ${tsxRounds} of the same rounds; "before / now" is the ratio of the medians.`,
      '',
      markdownTable(
        ['command', 'runs', 'time', 'over node', 'before (tsx)', 'before / now'],
        rows.map((r) => [r.what, `\`${r.command}\``, formatTiming(r.timing), r.overNodeMs === null ? '-' : formatMs(r.overNodeMs), r.before === null ? '-' : formatTiming(r.before.timing), r.before === null ? '-' : `${r.before.ratio.toFixed(1)}x`]),
      ),
      '',
      `Runtime bundle for agents (\`hotpatch/runtime/bundle\`: runtime/index.ts bundled by esbuild, ESM, minified; the pe-parser .wasm beside it). gzip -9 sizes. npm packages inside: ${b.packages.join(', ')}.`,
      '',
      `Before: the same bundle built in this run from ${PARSER_BASELINE.slice(0, 7)}, the parser with hand-written bindings and loader${typeof before === 'string' ? ` (not built: ${before})` : ''}.`,
      '',
      markdownTable(
        ['part', 'minified', 'gzipped', 'before: minified', 'before: gzipped'],
        [
          ['JavaScript (wasm apart)', formatBytes(b.jsBytes), formatBytes(b.jsGzipBytes), ...sizeCells(before, 'js')],
          ['pe_parser_bg.wasm', formatBytes(b.wasmBytes), formatBytes(b.wasmGzipBytes), ...sizeCells(before, 'wasm')],
          ['total (wasm included)', formatBytes(b.totalBytes), formatBytes(b.totalGzipBytes), ...sizeCells(before, 'total')],
        ],
      ),
    ].join('\n');
    return { markdown, data: { rounds, loadAverage: load, cliStart: rows, runtimeBundle: b, runtimeBundleBefore: typeof before === 'string' ? { error: before } : before } };
  },
};

export default section;
