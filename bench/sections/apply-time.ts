/**
 * Bench section `apply-time`: applying a package to the in-memory process image, next to
 * rebuilding the new file with bspatch and with xdelta3 -d from the same pair (what a
 * whole-file update has to do before the process can even be restarted).
 * - cold: load the signed .hpk (header, Ed25519 signature, zstd, protobuf, validation), plan
 *   against the image (identity, original bytes, layout, fixups, redirects) and apply the
 *   plan as a transaction; the image is reverted after each iteration, untimed;
 * - warm: apply an already computed plan (the executor and the memory backend);
 * - bspatch / xdelta3 -d: processes writing the new file, repeated.
 * In-process timings with tinybench. Pairs without a package (refused, and --skip-refused
 * failed) have no apply timing.
 */
import { readFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { loadPackage } from '../../formats/container.ts';
import { applyPackage } from '../../runtime/apply/apply-package.ts';
import { applyPlan, revertPlan } from '../../runtime/apply/execute-plan.ts';
import { MemoryBackend } from '../../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../../runtime/image/load-image.ts';
import type { WritePlan } from '../../runtime/plan/write-plan.ts';
import { analysePairs, benchKeys, benchPairs, tinybenchTiming, type BenchPair, type PairAnalysis } from '../pairs.ts';
import { formatRatio, formatTiming, ratioOf, type Timing } from '../stats.ts';
import { markdownTable, type BenchContext, type BenchSection, type Chart, type SectionResult } from '../section.ts';

/** One pair's apply and decode timings. */
export interface ApplyTimeRow {
  readonly group: 'samples' | 'real';
  readonly label: string;
  /** Why there is no apply timing (no package, or the runtime refused it). */
  readonly error: string | null;
  readonly partial: boolean;
  readonly functions: number | null;
  readonly cold: Timing | null;
  readonly warm: Timing | null;
  readonly bspatch: Timing | null;
  readonly xdelta3Decode: Timing | null;
  /** cold median / bspatch median. */
  readonly coldOverBspatch: number | null;
  /** cold median / xdelta3 -d median. */
  readonly coldOverXdelta3: number | null;
}

async function timeApply(pair: BenchPair, a: PairAnalysis, quick: boolean): Promise<{ cold: Timing; warm: Timing } | string> {
  if (a.packageFile === null) return a.error ?? `no package: ${a.packageError ?? 'refused'}`;
  const file = a.packageFile;
  const { publicKey } = await benchKeys();
  const trusted = [publicKey];
  const img = loadProcessImage(new Uint8Array(readFileSync(pair.oldPath)), { name: pair.moduleName });
  if (!img.ok) return `${img.error.code}: ${img.error.message}`;
  const backend = new MemoryBackend(img.value);
  // One checked apply first: a package the runtime refuses gets its reason in the row.
  const loaded = await loadPackage(file, { trusted, allowUnsigned: false });
  if (!loaded.ok) return `${loaded.error.code}: ${loaded.error.message}`;
  const first = await applyPackage(loaded.value.package, backend);
  if (!first.ok) return `${first.error.code}: ${first.error.message}`;
  const plan: WritePlan = first.value.plan;
  const undo = await revertPlan(backend, plan);
  if (!undo.ok) return `${undo.error.code}: ${undo.error.message}`;

  const small = pair.group === 'samples';
  const bench = new Bench({ iterations: quick ? 3 : small ? 20 : 5, time: quick ? 30 : small ? 200 : 400, warmupIterations: 2, warmupTime: 0, throws: true });
  const revert = async (): Promise<void> => {
    const r = await revertPlan(backend, plan);
    if (!r.ok) throw new Error(`revert: ${r.error.code}: ${r.error.message}`);
  };
  bench.add(
    'cold',
    async () => {
      const l = await loadPackage(file, { trusted, allowUnsigned: false });
      if (!l.ok) throw new Error(`load: ${l.error.message}`);
      const r = await applyPackage(l.value.package, backend);
      if (!r.ok) throw new Error(`apply: ${r.error.message}`);
    },
    { afterEach: revert },
  );
  bench.add(
    'warm',
    async () => {
      const r = await applyPlan(backend, plan);
      if (!r.ok) throw new Error(`apply: ${r.error.message}`);
    },
    { afterEach: revert },
  );
  await bench.run();
  const timing = (name: string): Timing => {
    const r = bench.tasks.find((t) => t.name === name)?.result;
    if (r === undefined || r.state !== 'completed') throw new Error(`${name} did not complete`);
    return tinybenchTiming(r.latency);
  };
  return { cold: timing('cold'), warm: timing('warm') };
}

/** An apply-time row from a pair's analysis and its apply timings (or why there are none). */
export function applyTimeRowOf(a: PairAnalysis, t: { cold: Timing; warm: Timing } | string): ApplyTimeRow {
  const bspatch = a.tools?.bspatch ?? null;
  const xd = a.tools?.xdelta3Decode ?? null;
  const cold = typeof t === 'string' ? null : t.cold;
  return {
    group: a.group,
    label: a.label,
    error: typeof t === 'string' ? t : null,
    partial: a.package?.partial ?? false,
    functions: a.package?.functions ?? null,
    cold,
    warm: typeof t === 'string' ? null : t.warm,
    bspatch,
    xdelta3Decode: xd,
    coldOverBspatch: ratioOf(cold?.medianMs ?? null, bspatch?.medianMs ?? null),
    coldOverXdelta3: ratioOf(cold?.medianMs ?? null, xd?.medianMs ?? null),
  };
}

/** Times the apply of each analysed pair's package and builds the section's result. */
export async function applyTimeSectionResult(pairs: readonly BenchPair[], analyses: readonly PairAnalysis[], ctx: Pick<BenchContext, 'quick' | 'log'>): Promise<SectionResult> {
  const rows: ApplyTimeRow[] = [];
  for (const [i, a] of analyses.entries()) {
    const pair = pairs[i]!;
    let t: { cold: Timing; warm: Timing } | string;
    try {
      t = await timeApply(pair, a, ctx.quick);
    } catch (e) {
      t = (e as Error).message.split('\n')[0] ?? 'failed';
    }
    rows.push(applyTimeRowOf(a, t));
    ctx.log(`apply-time: ${a.label}: ${typeof t === 'string' ? `no timing: ${t}` : `cold ${t.cold.medianMs.toFixed(3)} ms, warm ${t.warm.medianMs.toFixed(3)} ms`}`);
  }
  const f = (x: Timing | null): string => (x === null ? '-' : formatTiming(x));
  const markdown = [
    'Median (min..max, n). **cold**: load the signed package (signature, zstd, protobuf, validation), plan it against the OLD image in the in-memory process image and apply the plan as a transaction. **warm**: apply a computed plan only. Both in process (tinybench), the image reverted after every iteration (untimed). **bspatch** and **xdelta3 -d**: rebuilding the new file from the old one and the same pair\'s patch, as processes; a whole-file update still has to restart the process after that. Partial packages (--skip-refused) apply only the hotpatchable part.',
    '',
    markdownTable(
      ['pair', 'group', 'functions', 'cold', 'warm', 'bspatch', 'xdelta3 -d', 'cold / bspatch', 'cold / xdelta3 -d'],
      rows.map((r) => [r.partial ? `${r.label} (partial)` : r.label, r.group, r.functions ?? '-', r.cold === null ? `no apply: ${r.error ?? ''}` : f(r.cold), f(r.warm), f(r.bspatch), f(r.xdelta3Decode), formatRatio(r.coldOverBspatch), formatRatio(r.coldOverXdelta3)]),
    ),
  ].join('\n');
  const charts: Chart[] = (['samples', 'real'] as const).map((g) => {
    const rs = rows.filter((r) => r.group === g);
    return {
      id: `apply-time-${g}`,
      title: `Apply (cold, warm) vs bspatch and xdelta3 -d, ${g === 'samples' ? 'sample scenarios' : 'real pairs'} (median ms, log scale)`,
      unit: 'ms' as const,
      log: true,
      categories: rs.map((r) => (r.partial ? `${r.label} (partial)` : r.label)),
      series: [
        { name: 'apply cold', values: rs.map((r) => r.cold?.medianMs ?? null) },
        { name: 'apply warm', values: rs.map((r) => r.warm?.medianMs ?? null) },
        { name: 'bspatch', values: rs.map((r) => r.bspatch?.medianMs ?? null) },
        { name: 'xdelta3 -d', values: rs.map((r) => r.xdelta3Decode?.medianMs ?? null) },
      ],
    };
  });
  return { markdown, data: { rows }, charts };
}

const section: BenchSection = {
  id: 'apply-time',
  title: 'Apply time: in-memory hotpatch vs bspatch and xdelta3 -d',
  async run(ctx: BenchContext): Promise<SectionResult> {
    const pairs = benchPairs(ctx.root, { quick: ctx.quick });
    return applyTimeSectionResult(pairs, await analysePairs(pairs, { quick: ctx.quick }, (l) => ctx.log(`apply-time: ${l}`)), ctx);
  },
};

export default section;
