/**
 * report.md and the README's headline table, rendered from the report model.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { markdownTable } from './section.ts';
import { SECTION_ORDER, type Headline, type Report, type ReportSection } from './report.ts';
import { formatMs, formatRatio } from './stats.ts';

/** Section ids in report order (SECTION_ORDER first, then the rest by id). */
export function orderedSections(sections: Readonly<Record<string, ReportSection>>): [string, ReportSection][] {
  const rank = (id: string): number => {
    const i = (SECTION_ORDER as readonly string[]).indexOf(id);
    return i < 0 ? SECTION_ORDER.length : i;
  };
  return Object.entries(sections).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The one-paragraph description of the machine and tools every report starts with. */
export function machineLine(r: Pick<Report, 'machine' | 'tools' | 'generatedAt' | 'quick'>): string {
  const m = r.machine;
  return `Generated ${r.generatedAt} by \`npm run bench\`${r.quick ? ' (--quick: fewer pairs and repetitions)' : ''}. Machine: ${m.cores} x ${m.cpu}, ${m.memoryGiB} GiB, ${m.platform}, load average ${m.loadAverage} at the start (a shared machine: timings include other work). Node ${m.node}. Tools: ${r.tools.bsdiff}, ${r.tools.xdelta3}, ${r.tools.zstd}.`;
}

/** The sections the headline is computed from (bench/report.ts computeHeadline). */
const HEADLINE_SECTIONS = ['size', 'apply-time', 'live'];

/**
 * When the headline's figures were measured: the days of the sections they come from (a run
 * of named sections re-measures some and keeps the others), else the report's own date.
 */
export function headlineDates(r: Pick<Report, 'generatedAt'> & Partial<Pick<Report, 'sections'>>): string {
  const days = [...new Set(HEADLINE_SECTIONS.map((id) => r.sections?.[id]?.generatedAt.slice(0, 10)).filter((d): d is string => d !== undefined))].sort();
  if (days.length === 0) return r.generatedAt.slice(0, 10);
  return days.length === 1 ? days[0]! : `${days[0]} to ${days[days.length - 1]} (per section: see the report)`;
}

/** The headline table (markdown): per group geometric means, apply vs bspatch, live pause vs restart. */
export function headlineMarkdown(h: Headline, r: Pick<Report, 'machine' | 'generatedAt' | 'quick'> & Partial<Pick<Report, 'sections'>>): string {
  const x = (v: number | null): string => (v === null ? '-' : `${formatRatio(v)}x`);
  const ms = (v: number | null): string => (v === null ? '-' : formatMs(v));
  const rows = h.rows.map((g) => [
    `${g.group === 'samples' ? 'samples' : 'real pairs'}, ${g.kind} packages (${g.pairs} of ${g.groupPairs})`,
    x(g.vsBsdiff),
    x(g.vsXdelta3),
    x(g.vsZstdPatchFrom),
    x(g.vsFloor),
    x(g.floorOverBsdiff),
    g.applyColdMs === null ? '-' : `${ms(g.applyColdMs)} vs ${ms(g.bspatchMs)} (${x(g.applyOverBspatch)})`,
  ]);
  const live = h.live === null ? 'Live pause vs restart: the live section has not run.' : `Live patch of a running process under Wine (median over ${h.live.scenarios} scenario${h.live.scenarios === 1 ? '' : 's'}): threads paused ${formatMs(h.live.pauseMs)}, vs ${formatMs(h.live.restartMs)} to restart the process.`;
  return [
    markdownTable(['pairs', 'package / bsdiff', 'package / xdelta3', 'package / zstd --patch-from', 'package / floor', 'floor / bsdiff (all pairs)', 'apply (cold, in memory) vs bspatch'], rows),
    '',
    live,
    '',
    `Geometric means of per-pair ratios (below 1: the package is smaller). Complete packages carry every change; partial packages are --skip-refused builds of pairs the compiler refuses in part, and leave the refused changes out (so they are smaller than the update they stand for). The floor is the new bytes of just the changed and added functions and data, zstd --patch-from the old file. Apply times are medians over the pairs of each row's per-pair medians. ${r.quick ? 'A --quick run. ' : ''}Measured ${headlineDates(r)} on ${r.machine.cores} x ${r.machine.cpu}, Node ${r.machine.node}; details in [bench/results/report.md](bench/results/report.md).`,
  ].join('\n');
}

/** report.md. */
export function renderMarkdown(r: Report): string {
  return [
    '# hotpatch benchmark report',
    '',
    machineLine(r),
    '',
    '## Headline',
    '',
    headlineMarkdown(r.headline, r),
    '',
    ...orderedSections(r.sections).flatMap(([id, s]) => [`## ${s.title}`, '', `<!-- section ${id}, ${s.generatedAt} -->`, '', s.markdown.trim(), '']),
  ].join('\n');
}

export const HEADLINE_START = '<!-- bench:headline:start -->';
export const HEADLINE_END = '<!-- bench:headline:end -->';

/** README text with the block between the headline markers replaced; an error when the markers are missing or out of order. */
export function replaceHeadline(readme: string, block: string): Result<string> {
  const a = readme.indexOf(HEADLINE_START);
  const b = readme.indexOf(HEADLINE_END);
  if (a < 0 || b < 0 || b < a || readme.indexOf(HEADLINE_START, a + 1) >= 0) return err('BENCH_README_MARKERS', `README.md needs exactly one ${HEADLINE_START} ... ${HEADLINE_END} block`);
  return ok(`${readme.slice(0, a + HEADLINE_START.length)}\n${block.trim()}\n${readme.slice(b)}`);
}
