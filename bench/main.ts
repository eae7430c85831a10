/**
 * `npm run bench [-- [--quick] [--no-readme] [SECTION...]]`: runs every section in
 * bench/sections/ (or the ones named) and writes bench/results/report.json, report.md and
 * report.html, then rewrites the README's headline table (between the bench:headline
 * markers). See section.ts for how to add a section.
 *
 * --quick: fewer pairs and repetitions, for development; it writes to bench/results/quick/ and
 * never touches the README.
 * Naming sections keeps the other sections' last results in the report. --render runs no
 * section: it re-renders report.md, report.html and the README block from report.json (after
 * a change to the rendering only).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatError } from '../common/errors.ts';
import type { ProgressEvent } from '../common/progress.ts';
import { startProgress } from '../cli/progress.ts';
import { benchPairs } from './pairs.ts';
import { checkReport, computeHeadline, liveCharts, type Report, type ReportSection } from './report.ts';
import { renderHtml } from './report-html.ts';
import { headlineMarkdown, renderMarkdown, replaceHeadline } from './report-md.ts';
import type { BenchContext, BenchSection, SectionResult } from './section.ts';
import { machineInfo, toolVersions } from './tools.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const render = args.includes('--render');
const noReadme = args.includes('--no-readme');
const wanted = args.filter((a) => !a.startsWith('--'));

const sectionsDir = join(root, 'bench', 'sections');
const files = readdirSync(sectionsDir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .sort();
const ids = files.map((f) => f.slice(0, -3));
const unknown = wanted.filter((w) => !ids.includes(w));
if (unknown.length > 0) {
  process.stderr.write(`bench: BENCH_UNKNOWN_SECTION: ${unknown.join(', ')} (have: ${ids.join(', ')})\n`);
  process.exit(70);
}

const machine = machineInfo();
const tools = toolVersions();
const started = performance.now();

// --quick runs are for development: they go to bench/results/quick/ (ignored by git), so they
// never overwrite the published figures in bench/results/.
const resultsDir = join(root, 'bench', 'results', ...(args.includes('--quick') ? ['quick'] : []));
mkdirSync(resultsDir, { recursive: true });
const jsonPath = join(resultsDir, 'report.json');
// Running a subset keeps the other sections' last results in the report.
const previous = existsSync(jsonPath) && (wanted.length > 0 || render) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { sections?: Record<string, ReportSection>; quick?: boolean; machine?: Report['machine']; generatedAt?: string }) : {};
if (render && previous.sections === undefined) {
  process.stderr.write('bench: BENCH_NO_REPORT: --render needs bench/results/report.json from an earlier run\n');
  process.exit(70);
}
const quick = args.includes('--quick');
const sections: Record<string, ReportSection> = { ...(previous.sections ?? {}) };
// On a TTY, a status line under the log names the section running (cli/progress.ts); the log
// lines stay as they are for pipes and CI logs. `hotpatch bench --json` passes --no-progress.
const progress = startProgress('hotpatch bench', { json: args.includes('--no-progress'), expectLong: true });
let status: ProgressEvent | null = null;
const ctx: BenchContext = {
  root,
  quick,
  log: (line) => {
    progress.end();
    process.stderr.write(`bench: ${line}\n`);
    if (status !== null) progress.report(status);
  },
};
const toRun = files.filter((_f, i) => !render && (wanted.length === 0 || wanted.includes(ids[i]!))).length;
let sectionsStarted = 0;

let failed = 0;
for (const [i, file] of files.entries()) {
  const id = ids[i] as string;
  if (render || (wanted.length > 0 && !wanted.includes(id))) continue;
  // A section that does not even load (another engineer's work in progress) must not cost
  // the other sections' results.
  let section: BenchSection | undefined;
  try {
    section = ((await import(pathToFileURL(join(sectionsDir, file)).href)) as { default?: BenchSection }).default;
  } catch (e) {
    process.stderr.write(`bench: section ${id} does not load: ${(e as Error).message.split('\n')[0] ?? ''}\n`);
    failed++;
    continue;
  }
  if (section === undefined) {
    process.stderr.write(`bench: ${file} has no default export (a BenchSection); skipped\n`);
    failed++;
    continue;
  }
  status = { stage: `section ${section.id}`, done: sectionsStarted++, total: toRun, unit: 'sections' };
  ctx.log(`section ${section.id}: ${section.title}`);
  const t = performance.now();
  let r: SectionResult;
  try {
    r = await section.run(ctx);
  } catch (e) {
    process.stderr.write(`bench: section ${section.id} failed: ${(e as Error).message}\n`);
    failed++;
    continue;
  }
  ctx.log(`section ${section.id} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  sections[section.id] = { title: section.title, markdown: r.markdown, data: r.data, ...(r.charts === undefined ? {} : { charts: r.charts }), generatedAt: new Date().toISOString(), quick };
}

status = null;
progress.end();

// The live section reports tables only; the HTML report draws its chart.
const live = liveCharts(sections['live']);
if (live !== null && sections['live'] !== undefined) sections['live'] = { ...sections['live'], charts: live };

// Sections kept from earlier runs keep their own --quick flag (a section without one predates it: counted as quick
// when the whole earlier report was).
const sectionQuick = (s: ReportSection): boolean => s.quick ?? previous.quick === true;
const reportQuick = Object.values(sections).some(sectionQuick);
const pairsQuick = sections['size'] !== undefined ? sectionQuick(sections['size']) : quick;
const report: Report = {
  // --render keeps the measured run's own description (time, machine); so does a run of named
  // sections: the report's date is the headline's (each section carries its own generatedAt).
  generatedAt: render || wanted.length > 0 ? (previous.generatedAt ?? new Date().toISOString()) : new Date().toISOString(),
  quick: reportQuick,
  machine: render || wanted.length > 0 ? (previous.machine ?? machine) : machine,
  tools,
  sections,
  headline: computeHeadline(sections),
};

// A report is published only when it is complete: every pair the run measures is in it.
const measured = benchPairs(root, { quick: pairsQuick });
const expected = { samples: measured.filter((p) => p.group === 'samples').map((p) => p.label), real: measured.filter((p) => p.group === 'real').map((p) => p.label) };
const problems = checkReport(report, expected);
for (const p of problems) process.stderr.write(`bench: BENCH_REPORT_INCONSISTENT: ${p}\n`);

writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(resultsDir, 'report.md'), renderMarkdown(report));
writeFileSync(join(resultsDir, 'report.html'), renderHtml(report));
ctx.log(`wrote ${resultsDir.slice(root.length)}/report.md, report.json and report.html`);

// The headline comes from the size, apply-time and live sections; checkReport vouches for them.
if (!reportQuick && !noReadme && problems.length === 0) {
  const readmePath = join(root, 'README.md');
  const updated = replaceHeadline(readFileSync(readmePath, 'utf8'), headlineMarkdown(report.headline, report));
  if (updated.ok) {
    writeFileSync(readmePath, updated.value);
    ctx.log('rewrote the README headline table');
  } else {
    process.stderr.write(`bench: ${formatError(updated.error)}\n`);
    failed++;
  }
}
ctx.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed === 0 && problems.length === 0 ? 0 : 70);
