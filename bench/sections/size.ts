/**
 * Bench section `size`: how big a hotpatch package is next to the whole-file delta tools on
 * the same pair, and next to the floor, for every hotpatchable sample scenario step and every
 * real pair of samples/real/manifest.json.
 *
 * - package: the signed .hpk (header, zstd-compressed protobuf, Ed25519 signature) the
 *   compiler builds (diff, emit, verify); for a pair the compiler refuses, the package built
 *   with --skip-refused (partial: it leaves the refused changes out) when that build succeeds;
 * - bsdiff, xdelta3 -e -9 -s OLD, zstd -19 --long=27 --patch-from=OLD, and the whole new
 *   file under zstd -19: Debian's tools run as processes;
 * - floor: the new bytes of just the changed and added functions and data (from the
 *   compiler's diff), zstd -19 --long=27 --patch-from=OLD: what any function-level patch
 *   must at least carry, before any metadata (fixups, redirects, identity, signature).
 */
import { analysePairs, benchPairs, type PairAnalysis } from '../pairs.ts';
import { realPairs } from '../../samples/real/real-files.ts';
import { formatBytes, formatRatio, geometricMean, ratioOf } from '../stats.ts';
import { markdownTable, type BenchContext, type BenchSection, type Chart, type SectionResult } from '../section.ts';

/** The ratios of a row: package size over each baseline, and floor over bsdiff. */
export interface SizeRatios {
  readonly bsdiff: number | null;
  readonly xdelta3: number | null;
  readonly zstdPatchFrom: number | null;
  readonly zstdWholeNew: number | null;
  readonly floor: number | null;
  /** floor / bsdiff: how much smaller a function-level patch could be, even where the compiler refuses. */
  readonly floorOverBsdiff: number | null;
}

/** The ratio keys, in table order. */
export const RATIO_KEYS = ['bsdiff', 'xdelta3', 'zstdPatchFrom', 'zstdWholeNew', 'floor', 'floorOverBsdiff'] as const;

/** One pair's sizes in bytes (null where not measured) and ratios. */
export interface SizeRow {
  readonly group: 'samples' | 'real';
  readonly label: string;
  readonly status: 'hotpatchable' | 'refused' | 'error';
  readonly error: string | null;
  readonly oldSize: number;
  readonly newSize: number;
  readonly package: number | null;
  /** True when `package` was built with --skip-refused. */
  readonly packagePartial: boolean;
  readonly packageError: string | null;
  readonly packageBreakdown: PairAnalysis['package'];
  /** For a partial package: the complete package's estimated size (pairs.ts `complete`). */
  readonly complete: PairAnalysis['complete'];
  readonly counts: PairAnalysis['counts'];
  readonly bsdiff: number | null;
  readonly xdelta3: number | null;
  readonly zstdPatchFrom: number | null;
  readonly zstdWholeNew: number | null;
  readonly floor: number | null;
  readonly floorRaw: number | null;
  readonly ratios: SizeRatios;
  /** The manifest's recorded baselines (real pairs), to cross-check the tools' output. */
  readonly manifestBaselines: { readonly bsdiff: number; readonly xdelta3: number; readonly zstdPatchFrom: number; readonly zstdWholeNew: number } | null;
  readonly topFunctions: PairAnalysis['topFunctions'];
  readonly refusedReasons: PairAnalysis['refusedReasons'];
  readonly refusedCount: number;
  /** The first refusal lines (all of them are in `hotpatch build`'s output). */
  readonly refusedSample: readonly string[];
}

/** Geometric means of each ratio over the rows of one group that have it, with the count. */
export type GroupMeans = { readonly [K in (typeof RATIO_KEYS)[number]]: { readonly mean: number | null; readonly n: number } };

/** The ratios of a row, computed from its sizes. */
export function ratiosOf(r: Pick<SizeRow, 'package' | 'bsdiff' | 'xdelta3' | 'zstdPatchFrom' | 'zstdWholeNew' | 'floor'>): SizeRatios {
  return {
    bsdiff: ratioOf(r.package, r.bsdiff),
    xdelta3: ratioOf(r.package, r.xdelta3),
    zstdPatchFrom: ratioOf(r.package, r.zstdPatchFrom),
    zstdWholeNew: ratioOf(r.package, r.zstdWholeNew),
    floor: ratioOf(r.package, r.floor),
    floorOverBsdiff: ratioOf(r.floor, r.bsdiff),
  };
}

/** Geometric means per ratio over `rows`. */
export function groupMeans(rows: readonly SizeRow[]): GroupMeans {
  const out: Record<string, { mean: number | null; n: number }> = {};
  for (const k of RATIO_KEYS) {
    const xs = rows.map((r) => r.ratios[k]).filter((x): x is number => x !== null && x > 0);
    out[k] = { mean: geometricMean(xs), n: xs.length };
  }
  return out as GroupMeans;
}

/**
 * The means of one group, kept apart by what the package holds: a complete package carries
 * every change, a partial one (--skip-refused) leaves the refused ones out, so its size says
 * little about the whole update and is never averaged with complete ones. `all` is every row
 * (for floor / bsdiff, which exists even where there is no package).
 */
export interface GroupSummary {
  readonly complete: GroupMeans;
  readonly partial: GroupMeans;
  readonly all: GroupMeans;
}

/** Rows of a kind: complete packages, partial packages, or all. */
export function rowsOfKind(rows: readonly SizeRow[], kind: keyof GroupSummary): SizeRow[] {
  if (kind === 'all') return [...rows];
  return rows.filter((r) => r.package !== null && r.packagePartial === (kind === 'partial'));
}

/** The group summary of `rows`. */
export function summarizeGroup(rows: readonly SizeRow[]): GroupSummary {
  return { complete: groupMeans(rowsOfKind(rows, 'complete')), partial: groupMeans(rowsOfKind(rows, 'partial')), all: groupMeans(rows) };
}

/** A size row from a pair's analysis. */
export function sizeRowOf(a: PairAnalysis): SizeRow {
  const manifest = a.group === 'real' ? realPairs().find((p) => p.label === a.label)?.baselines ?? null : null;
  // A --skip-refused package with nothing left in it (every change refused) patches nothing:
  // it is not a package for this pair, and is not averaged.
  const empty = a.package !== null && a.package.partial && a.package.functions === 0 && a.package.dataBlocks === 0;
  const pkg = empty ? null : a.package;
  const sizes = {
    package: pkg?.bytes ?? null,
    bsdiff: a.baselines?.bsdiff ?? null,
    xdelta3: a.baselines?.xdelta3 ?? null,
    zstdPatchFrom: a.baselines?.zstdPatchFrom ?? null,
    zstdWholeNew: a.baselines?.zstdWholeNew ?? null,
    floor: a.floor?.bytes ?? null,
  };
  return {
    group: a.group,
    label: a.label,
    status: a.error !== null ? 'error' : a.hotpatchable ? 'hotpatchable' : 'refused',
    error: a.error,
    oldSize: a.oldSize,
    newSize: a.newSize,
    ...sizes,
    packagePartial: pkg?.partial ?? false,
    packageError: empty ? `every change refused: the --skip-refused package would be empty (${a.package?.bytes ?? 0} bytes of header, identity and signature)` : a.packageError,
    packageBreakdown: pkg,
    complete: a.complete,
    counts: a.counts,
    floorRaw: a.floor?.rawBytes ?? null,
    ratios: ratiosOf(sizes),
    manifestBaselines: manifest === null ? null : { bsdiff: manifest.bsdiff, xdelta3: manifest.xdelta3, zstdPatchFrom: manifest.zstdPatchFrom, zstdWholeNew: manifest.zstdWholeNew },
    topFunctions: a.topFunctions,
    refusedReasons: a.refusedReasons.slice(0, 8),
    refusedCount: a.refused.length,
    refusedSample: a.refused.slice(0, 5),
  };
}

const b = (n: number | null): string => (n === null ? '-' : String(n));

function pkgCell(r: SizeRow): string {
  if (r.status === 'error') return `error: ${r.error ?? ''}`;
  if (r.package === null) return `refused (${r.refusedCount}); --skip-refused: ${r.packageError ?? 'no package'}`;
  return r.packagePartial ? `${r.package} (partial, ${r.refusedCount} refused)` : String(r.package);
}

function completeCells(r: SizeRow): string[] {
  const c = r.complete;
  if (c === null) return r.package !== null && !r.packagePartial ? ['= package', formatRatio(r.ratios.floor), formatRatio(r.ratios.bsdiff)] : ['-', '-', '-'];
  if ('error' in c) return [`- (${c.error.slice(0, 80)})`, '-', '-'];
  const literal = c.literal > 0 ? `, ${c.literal} literal` : '';
  return [`${c.bytes} (${c.functions} fns, ${c.forced} refused carried${literal})`, formatRatio(ratioOf(c.bytes, r.floor)), formatRatio(ratioOf(c.bytes, r.bsdiff))];
}

function crossCheck(r: SizeRow): string {
  const m = r.manifestBaselines;
  if (m === null || r.bsdiff === null || r.xdelta3 === null || r.zstdPatchFrom === null) return '-';
  const d = (x: number, y: number): string => (x === y ? '=' : `${(((x - y) / y) * 100).toFixed(1)}%`);
  return `${d(r.bsdiff, m.bsdiff)} / ${d(r.xdelta3, m.xdelta3)} / ${d(r.zstdPatchFrom, m.zstdPatchFrom)}`;
}

/** The section's markdown from its rows and means. */
export function sizeMarkdown(rows: readonly SizeRow[], means: Readonly<Record<'samples' | 'real', GroupSummary>>): string {
  const table = (group: 'samples' | 'real'): string =>
    markdownTable(
      ['pair', 'old', 'package', 'bsdiff', 'xdelta3', 'zstd --patch-from', 'zstd whole new', 'floor', 'pkg/bsdiff', 'pkg/xdelta3', 'pkg/zstd-pf', 'pkg/zstd whole', 'pkg/floor', 'floor/bsdiff'],
      rows
        .filter((r) => r.group === group)
        .map((r) => [r.label, formatBytes(r.oldSize), pkgCell(r), b(r.bsdiff), b(r.xdelta3), b(r.zstdPatchFrom), b(r.zstdWholeNew), b(r.floor), ...RATIO_KEYS.map((k) => formatRatio(r.ratios[k]))]),
    );
  const meanLine = (group: 'samples' | 'real'): string => {
    const pkgKeys = RATIO_KEYS.filter((k) => k !== 'floorOverBsdiff');
    const line = (kind: 'complete' | 'partial'): string => {
      const m = means[group][kind];
      return `${kind} packages: ${pkgKeys.map((k) => `package/${k} ${formatRatio(m[k].mean)}`).join(', ')} (n=${m.bsdiff.n})`;
    };
    return `Geometric means (${group}): ${line('complete')}; ${line('partial')}; floor/bsdiff over every pair ${formatRatio(means[group].all.floorOverBsdiff.mean)} (n=${means[group].all.floorOverBsdiff.n}). Partial packages leave the refused changes out, so they are never averaged with complete ones.`;
  };
  const real = rows.filter((r) => r.group === 'real');
  const why = rows
    .filter((r) => r.topFunctions.length > 0)
    .map((r) => {
      const top = r.topFunctions.slice(0, 5).map((f) => `\`${f.name}\` ${f.bytes} B ${f.status}${f.verdict === 'refused' ? ' (refused)' : ''}`);
      const reasons = r.refusedReasons.slice(0, 3).map((x) => `${x.count}x ${x.code}`);
      const p = r.packageBreakdown;
      const holds = p === null ? '' : `. The ${p.partial ? 'partial ' : ''}package holds ${p.functions} function(s) and ${p.dataBlocks} data block(s): code ${p.sizes.code} B, data ${p.sizes.data} B, unwind ${p.sizes.unwind} B, fixups ${p.sizes.fixups} B before compression`;
      return `- **${r.label}**: ${top.join(', ')}${holds}${reasons.length > 0 ? `. Refused: ${reasons.join('; ')}` : ''}`;
    });
  return [
    'Bytes. **package**: the signed .hpk the compiler builds (diff, emit, verify, Ed25519 signature, payload zstd-compressed or stored when zstd would not shrink it); for a pair with refused changes, the package `--skip-refused` builds (partial: it leaves the refused changes out; the row says how many) or why that build failed. **bsdiff**, **xdelta3** (`-e -9 -s OLD`), **zstd --patch-from** (`-19 --long=27 --patch-from=OLD`) and **zstd whole new** (`-19`, the new file alone) are Debian\'s tools run as processes on the same files (their round trips are checked: bspatch and xdelta3 -d reproduce the new file). **floor**: the new bytes of only the changed and added functions and data of the compiler\'s diff, `zstd -19 --long=27 --patch-from=OLD`; the least a function-level patch carries before its metadata. Ratios below 1 mean the package is smaller.',
    '',
    '### Samples (hotpatchable scenario steps)',
    '',
    table('samples'),
    '',
    meanLine('samples'),
    '',
    '### Real pairs (samples/real/manifest.json)',
    '',
    table('real'),
    '',
    meanLine('real'),
    '',
    '#### Complete packages of the partial pairs',
    '',
    'A partial package leaves the refused changes out, so it says little about what the whole update costs. **complete**: every function the diff calls changed or added carried, refused ones included, emitted as a hotpatchable one is (code, fixups, deltas, unwind, read-only data, redirects, identity) and signed, never verified or applied (`bench/complete-package.ts`). Functions emission cannot resolve even so are carried as their literal NEW bytes without fixups (`literal`: those rows slightly understate). Writable data stays out (the floor counts it). Measured in the same run as the table above; not estimated for files over 10 MB.',
    '',
    markdownTable(
      ['pair', 'partial package', 'complete package', 'floor', 'bsdiff', 'complete/floor', 'complete/bsdiff'],
      real.filter((r) => r.packagePartial).map((r) => {
        const [c, cf, cb] = completeCells(r);
        return [r.label, String(r.package), c!, b(r.floor), b(r.bsdiff), cf!, cb!];
      }),
    ),
    '',
    'Cross-check of the whole-file baselines against the sizes recorded in the manifest (bsdiff / xdelta3 / zstd --patch-from; `=` is byte-identical):',
    '',
    markdownTable(['pair', 'measured vs manifest'], real.map((r) => [r.label, crossCheck(r)])),
    '',
    '### Why: the largest changed or added functions, and the refusals',
    '',
    'Top functions by new code bytes (the compiler\'s diff), what the package carries (uncompressed: new code, carried data such as read-only constants the new code needs, unwind data, fixups), and for refused pairs the most frequent refusal reasons (addresses blanked).',
    '',
    ...why,
  ].join('\n');
}

/** The section's charts: package size over each baseline, per group (log scale, 1 = par). */
export function sizeCharts(rows: readonly SizeRow[]): Chart[] {
  return (['samples', 'real'] as const).map((group) => {
    const rs = rows.filter((r) => r.group === group);
    return {
      id: `size-${group}`,
      title: `Package size / baseline size, ${group === 'samples' ? 'sample scenarios' : 'real pairs'} (below 1: the package is smaller)`,
      unit: 'ratio' as const,
      log: true,
      categories: rs.map((r) => (r.packagePartial ? `${r.label} (partial)` : r.label)),
      series: [
        { name: 'package / bsdiff', values: rs.map((r) => r.ratios.bsdiff) },
        { name: 'package / xdelta3', values: rs.map((r) => r.ratios.xdelta3) },
        { name: 'package / zstd --patch-from', values: rs.map((r) => r.ratios.zstdPatchFrom) },
        { name: 'package / floor', values: rs.map((r) => r.ratios.floor) },
      ],
    };
  });
}

/** The section's result from the pairs' analyses. */
export function sizeSectionResult(analyses: readonly PairAnalysis[]): SectionResult {
  const rows = analyses.map(sizeRowOf);
  const means = { samples: summarizeGroup(rows.filter((r) => r.group === 'samples')), real: summarizeGroup(rows.filter((r) => r.group === 'real')) };
  return { markdown: sizeMarkdown(rows, means), data: { rows, geomeans: means }, charts: sizeCharts(rows) };
}

const section: BenchSection = {
  id: 'size',
  title: 'Package size vs bsdiff, xdelta3, zstd and the floor',
  async run(ctx: BenchContext): Promise<SectionResult> {
    return sizeSectionResult(await analysePairs(benchPairs(ctx.root, { quick: ctx.quick }), { quick: ctx.quick }, (l) => ctx.log(`size: ${l}`)));
  },
};

export default section;
