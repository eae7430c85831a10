/**
 * The report model that report.json holds and report.md, report.html and the README's
 * headline table are rendered from, plus `checkReport`: the completeness and consistency
 * rules a published report must satisfy (every pair present, ratios equal size/size,
 * geometric means recomputed from the rows, medians between min and max).
 */
import type { Chart } from './section.ts';
import { geometricMean, medianOf, type Timing } from './stats.ts';
import type { MachineInfo, ToolVersions } from './tools.ts';
import { RATIO_KEYS, rowsOfKind, summarizeGroup, type GroupSummary, type SizeRow } from './sections/size.ts';
import type { CompileRow } from './sections/compile.ts';
import type { ApplyTimeRow } from './sections/apply-time.ts';

/** One section as report.json stores it. */
export interface ReportSection {
  readonly title: string;
  readonly markdown: string;
  readonly data: unknown;
  readonly charts?: readonly Chart[];
  readonly generatedAt: string;
  /** Whether this section was measured with --quick (sections of a report can come from different runs). */
  readonly quick?: boolean;
}

/** One headline row: a group's complete or partial packages. */
export interface HeadlineRow {
  readonly group: 'samples' | 'real';
  /** Complete packages carry every change; partial ones (--skip-refused) leave the refused changes out. */
  readonly kind: 'complete' | 'partial';
  /** Pairs of this kind, and pairs in the group. */
  readonly pairs: number;
  readonly groupPairs: number;
  readonly vsBsdiff: number | null;
  readonly vsXdelta3: number | null;
  readonly vsZstdPatchFrom: number | null;
  readonly vsFloor: number | null;
  /** floor / bsdiff over every pair of the group (what a function-level patch could weigh). */
  readonly floorOverBsdiff: number | null;
  /** Geometric mean of (cold apply median / bspatch median) over these pairs. */
  readonly applyOverBspatch: number | null;
  /** Median over these pairs of the cold apply median, and of the bspatch median, in ms. */
  readonly applyColdMs: number | null;
  readonly bspatchMs: number | null;
}

/** The headline figures (README table). */
export interface Headline {
  /** Rows with at least one pair: samples complete, real complete, real partial (and samples partial if any). */
  readonly rows: readonly HeadlineRow[];
  /** From the live section, when it ran: medians over its scenarios. */
  readonly live: { readonly scenarios: number; readonly pauseMs: number; readonly restartMs: number } | null;
}

/** report.json. */
export interface Report {
  readonly generatedAt: string;
  /** True when any section in it was measured with --quick. */
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly tools: ToolVersions;
  readonly sections: Readonly<Record<string, ReportSection>>;
  readonly headline: Headline;
}

/** Section ids in report order; sections not listed follow in file-name order. */
export const SECTION_ORDER = ['size', 'compile', 'apply-time', 'live', 'apply', 'parser'] as const;

function rowsOf<T>(r: Pick<Report, 'sections'>, id: string): T[] | null {
  const d = r.sections[id]?.data as { rows?: T[] } | undefined;
  return Array.isArray(d?.rows) ? d.rows : null;
}

/** The size section's rows, when present. */
export function sizeRows(r: Pick<Report, 'sections'>): SizeRow[] | null {
  return rowsOf<SizeRow>(r, 'size');
}

interface LiveRow {
  readonly scenario?: string;
  readonly pauseMedianMs: number;
  readonly restartMedianMs: number;
  readonly applyMedianMs?: number;
}

/**
 * A chart for the live section (it returns tables only): pause and live apply vs restart per
 * scenario. Null when the section has not run or has charts of its own.
 */
export function liveCharts(live: ReportSection | undefined): Chart[] | null {
  if (live === undefined || (live.charts?.length ?? 0) > 0) return null;
  const rows = rowsOf<LiveRow>({ sections: { live } }, 'live');
  if (rows === null || rows.length === 0) return null;
  const num = (x: number | undefined): number | null => (x !== undefined && Number.isFinite(x) && x > 0 ? x : null);
  return [
    {
      id: 'live-pause-restart',
      title: 'Live patch under Wine: thread pause and whole live apply vs restarting the process (median ms, log scale)',
      unit: 'ms',
      log: true,
      categories: rows.map((r, i) => r.scenario ?? `scenario ${i + 1}`),
      series: [
        { name: 'pause (threads suspended)', values: rows.map((r) => num(r.pauseMedianMs)) },
        { name: 'live apply (total)', values: rows.map((r) => num(r.applyMedianMs)) },
        { name: 'restart', values: rows.map((r) => num(r.restartMedianMs)) },
      ],
    },
  ];
}

/** The headline figures from the sections' data (missing sections give nulls). */
export function computeHeadline(sections: Readonly<Record<string, ReportSection>>): Headline {
  const r = { sections };
  const size = sizeRows(r) ?? [];
  const apply = rowsOf<ApplyTimeRow>(r, 'apply-time') ?? [];
  const rows: HeadlineRow[] = [];
  for (const group of ['samples', 'real'] as const) {
    const inGroup = size.filter((x) => x.group === group);
    const summary = summarizeGroup(inGroup);
    for (const kind of ['complete', 'partial'] as const) {
      const labels = new Set(rowsOfKind(inGroup, kind).map((x) => x.label));
      if (labels.size === 0) continue;
      const m = summary[kind];
      const ap = apply.filter((x) => x.group === group && labels.has(x.label) && x.coldOverBspatch !== null);
      const coldMs = ap.map((x) => x.cold?.medianMs).filter((x): x is number => x !== undefined);
      const bsMs = ap.map((x) => x.bspatch?.medianMs).filter((x): x is number => x !== undefined);
      rows.push({
        group,
        kind,
        pairs: labels.size,
        groupPairs: inGroup.length,
        vsBsdiff: m.bsdiff.mean,
        vsXdelta3: m.xdelta3.mean,
        vsZstdPatchFrom: m.zstdPatchFrom.mean,
        vsFloor: m.floor.mean,
        floorOverBsdiff: summary.all.floorOverBsdiff.mean,
        applyOverBspatch: geometricMean(ap.map((x) => x.coldOverBspatch as number)),
        applyColdMs: coldMs.length > 0 ? medianOf(coldMs) : null,
        bspatchMs: bsMs.length > 0 ? medianOf(bsMs) : null,
      });
    }
  }
  const live = rowsOf<LiveRow>(r, 'live')?.filter((x) => Number.isFinite(x.pauseMedianMs) && Number.isFinite(x.restartMedianMs)) ?? [];
  return {
    rows,
    live: live.length === 0 ? null : { scenarios: live.length, pauseMs: medianOf(live.map((x) => x.pauseMedianMs)), restartMs: medianOf(live.map((x) => x.restartMedianMs)) },
  };
}

/** What a complete report must contain: the pair labels of each group. */
export interface ExpectedPairs {
  readonly samples: readonly string[];
  readonly real: readonly string[];
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function checkTiming(what: string, t: Timing | null | undefined, problems: string[]): void {
  if (t === null || t === undefined) return;
  if (!(t.n >= 1)) problems.push(`${what}: n=${t.n}`);
  if (!(t.minMs <= t.medianMs && t.medianMs <= t.maxMs)) problems.push(`${what}: median ${t.medianMs} is not within min ${t.minMs} .. max ${t.maxMs}`);
}

function checkPresence(what: string, rows: ReadonlyArray<{ group: string; label: string }>, expected: ExpectedPairs, problems: string[]): void {
  for (const group of ['samples', 'real'] as const) {
    const have = rows.filter((r) => r.group === group).map((r) => r.label);
    for (const l of expected[group]) if (!have.includes(l)) problems.push(`${what}: ${group} pair ${l} is missing`);
    const dup = have.filter((l, i) => have.indexOf(l) !== i);
    if (dup.length > 0) problems.push(`${what}: duplicate rows ${dup.join(', ')}`);
  }
}

/**
 * The problems of a report (empty when it is complete and consistent): every expected pair
 * in the size, compile and apply-time sections; every ratio equal to its sizes' quotient;
 * the stored geometric means and headline equal to those recomputed from the rows; every
 * timing's median within its min and max.
 */
export function checkReport(report: Pick<Report, 'sections' | 'headline'>, expected: ExpectedPairs): string[] {
  const problems: string[] = [];
  const size = sizeRows(report);
  if (size === null) problems.push('the size section is missing');
  else {
    checkPresence('size', size, expected, problems);
    for (const r of size) {
      const pairs: [keyof SizeRow['ratios'], number | null, number | null][] = [
        ['bsdiff', r.package, r.bsdiff],
        ['xdelta3', r.package, r.xdelta3],
        ['zstdPatchFrom', r.package, r.zstdPatchFrom],
        ['zstdWholeNew', r.package, r.zstdWholeNew],
        ['floor', r.package, r.floor],
        ['floorOverBsdiff', r.floor, r.bsdiff],
      ];
      for (const [k, a, b] of pairs) {
        const want = a === null || b === null || b === 0 ? null : a / b;
        const got = r.ratios[k];
        if ((want === null) !== (got === null) || (want !== null && got !== null && !close(want, got))) problems.push(`size ${r.label}: ratio ${k} is ${got}, sizes give ${want}`);
      }
      if (r.status === 'error' && r.error === null) problems.push(`size ${r.label}: error row without an error`);
      if (r.status === 'refused' && r.refusedReasons.length === 0) problems.push(`size ${r.label}: refused without reasons`);
      if (r.status !== 'error' && (r.bsdiff === null || r.xdelta3 === null || r.zstdPatchFrom === null || r.zstdWholeNew === null || r.floor === null)) problems.push(`size ${r.label}: a baseline is missing`);
    }
    const stored = (report.sections['size']?.data as { geomeans?: Record<string, GroupSummary> } | undefined)?.geomeans;
    for (const g of ['samples', 'real'] as const) {
      const again = summarizeGroup(size.filter((r) => r.group === g));
      for (const kind of ['complete', 'partial', 'all'] as const) {
        for (const k of RATIO_KEYS) {
          const s = stored?.[g]?.[kind]?.[k];
          const want = again[kind][k];
          const name = `${g}.${kind}.${k}`;
          if (s === undefined) problems.push(`size: geometric mean ${name} is missing`);
          else if (s.n !== want.n || (s.mean === null) !== (want.mean === null) || (s.mean !== null && want.mean !== null && !close(s.mean, want.mean))) problems.push(`size: geometric mean ${name} is ${s.mean} (n=${s.n}), the rows give ${want.mean} (n=${want.n})`);
        }
      }
    }
  }
  const compile = rowsOf<CompileRow>(report, 'compile');
  if (compile === null) problems.push('the compile section is missing');
  else {
    checkPresence('compile', compile, expected, problems);
    for (const r of compile) {
      checkTiming(`compile ${r.label} compile`, r.compile, problems);
      checkTiming(`compile ${r.label} bsdiff`, r.bsdiffCreate, problems);
      const want = r.compile === null || r.bsdiffCreate === null ? null : r.compile.medianMs / r.bsdiffCreate.medianMs;
      if ((want === null) !== (r.compileOverBsdiff === null) || (want !== null && r.compileOverBsdiff !== null && !close(want, r.compileOverBsdiff))) problems.push(`compile ${r.label}: ratio ${r.compileOverBsdiff}, timings give ${want}`);
    }
  }
  const apply = rowsOf<ApplyTimeRow>(report, 'apply-time');
  if (apply === null) problems.push('the apply-time section is missing');
  else {
    checkPresence('apply-time', apply, expected, problems);
    for (const r of apply) {
      for (const [k, t] of [['cold', r.cold], ['warm', r.warm], ['bspatch', r.bspatch], ['xdelta3 -d', r.xdelta3Decode]] as const) checkTiming(`apply-time ${r.label} ${k}`, t, problems);
      if (r.cold === null && r.error === null) problems.push(`apply-time ${r.label}: no timing and no reason`);
      const want = r.cold === null || r.bspatch === null ? null : r.cold.medianMs / r.bspatch.medianMs;
      if ((want === null) !== (r.coldOverBspatch === null) || (want !== null && r.coldOverBspatch !== null && !close(want, r.coldOverBspatch))) problems.push(`apply-time ${r.label}: cold/bspatch ${r.coldOverBspatch}, timings give ${want}`);
    }
  }
  const again = computeHeadline(report.sections);
  if (JSON.stringify(again) !== JSON.stringify(report.headline)) problems.push('the headline differs from the one recomputed from the sections');
  return problems;
}
