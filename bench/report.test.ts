/**
 * The benchmark report is complete and consistent: every pair present, ratios equal to their
 * sizes' quotient, geometric means and the headline recomputable from the rows, medians
 * within min..max, report.html self-contained with one SVG per chart, and the README's
 * headline block equal to the published report's. Checked on a report made from a small real
 * run (two sample scenarios through the compiler and Debian's tools) and on the published
 * report in bench/results/. No speed is asserted here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { corpusPairs, measurePair, samplePairs, type PairAnalysis } from './pairs.ts';
import { checkReport, computeHeadline, type Report, type ReportSection } from './report.ts';
import { externalReferences, renderHtml } from './report-html.ts';
import { HEADLINE_END, HEADLINE_START, headlineDates, headlineMarkdown, renderMarkdown, replaceHeadline } from './report-md.ts';
import { applyTimeSectionResult } from './sections/apply-time.ts';
import { compileSectionResult } from './sections/compile.ts';
import { sizeSectionResult, type SizeRow } from './sections/size.ts';
import type { SectionResult } from './section.ts';
import { machineInfo, toolVersions } from './tools.ts';
import { hasTool, REQUIRE_TOOLS } from '../test/support/tools.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const LABELS = ['logic-fix v1->v2', 'grow v1->v2'];

function sectionOf(title: string, r: SectionResult): ReportSection {
  return { title, markdown: r.markdown, data: r.data, ...(r.charts === undefined ? {} : { charts: r.charts }), generatedAt: new Date().toISOString() };
}

function chartCount(r: Report): number {
  return Object.values(r.sections).reduce((n, s) => n + (s.charts?.length ?? 0), 0);
}

/** The baselines are Debian's bsdiff, xdelta3 and zstd (bsdiff has no --version, so ask the shell). */
function missingBaselines(): string | undefined {
  if (hasTool('sh', ['-c', 'command -v bsdiff && command -v bspatch && command -v xdelta3 && command -v zstd'])) return undefined;
  const reason = 'needs bsdiff, xdelta3 and zstd (apt: bsdiff xdelta3 zstd)';
  if (REQUIRE_TOOLS) throw new Error(`HOTPATCH_REQUIRE_WINE=1 but ${reason}`);
  return reason;
}
const skipSmallRun = missingBaselines();

describe.skipIf(skipSmallRun !== undefined)(`a report from a small real run (two sample scenarios)${skipSmallRun === undefined ? '' : ` [skipped: ${skipSmallRun}]`}`, () => {
  let report: Report;
  let analyses: PairAnalysis[];
  const expected = { samples: LABELS, real: [] as string[] };

  beforeAll(async () => {
    const pairs = samplePairs(root).filter((p) => LABELS.includes(p.label));
    expect(pairs.map((p) => p.label)).toEqual(LABELS);
    analyses = [];
    for (const p of pairs) analyses.push(await measurePair(p, { quick: true }, () => {}));
    const sections: Record<string, ReportSection> = {
      size: sectionOf('size', sizeSectionResult(analyses)),
      compile: sectionOf('compile', compileSectionResult(analyses)),
      'apply-time': sectionOf('apply-time', await applyTimeSectionResult(pairs, analyses, { quick: true, log: () => {} })),
    };
    report = { generatedAt: new Date().toISOString(), quick: true, machine: machineInfo(), tools: toolVersions(), sections, headline: computeHeadline(sections) };
  }, 120_000);

  it('measured both pairs: a package, every baseline and the floor', () => {
    for (const a of analyses) {
      expect(a.error).toBeNull();
      expect(a.hotpatchable).toBe(true);
      expect(a.package?.bytes ?? 0).toBeGreaterThan(0);
      expect(a.floor?.bytes ?? 0).toBeGreaterThan(0);
      expect(Object.values(a.baselines ?? {}).every((n) => n > 0)).toBe(true);
    }
  });

  it('is complete and consistent', () => {
    expect(checkReport(report, expected)).toEqual([]);
    expect(report.headline.rows.map((g) => [g.group, g.kind, g.pairs])).toEqual([['samples', 'complete', 2]]);
  });

  it('names a pair the report lacks', () => {
    const problems = checkReport(report, { samples: [...LABELS, 'series v1->v2'], real: ['rollup-4.64.8-4.64.9'] });
    expect(problems).toContain('size: samples pair series v1->v2 is missing');
    expect(problems).toContain('size: real pair rollup-4.64.8-4.64.9 is missing');
    expect(problems).toContain('apply-time: real pair rollup-4.64.8-4.64.9 is missing');
  });

  it('catches a ratio that is not the quotient of its sizes, and a stale geometric mean', () => {
    const bad = structuredClone(report) as Report & { sections: Record<string, ReportSection> };
    const rows = (bad.sections['size']!.data as { rows: SizeRow[] }).rows;
    const r0 = rows[0]! as { ratios: { bsdiff: number | null } } & SizeRow;
    (r0.ratios as { bsdiff: number | null }).bsdiff = (r0.ratios.bsdiff ?? 1) * 1.01;
    const problems = checkReport(bad, expected);
    expect(problems.some((p) => p.startsWith(`size ${LABELS[0]}: ratio bsdiff`))).toBe(true);
    expect(problems.some((p) => p.startsWith('size: geometric mean samples.complete.bsdiff'))).toBe(true);
  });

  it('catches a median outside min..max and a headline that does not follow from the rows', () => {
    const bad = structuredClone(report) as { sections: Record<string, ReportSection>; headline: Report['headline'] };
    const row = (bad.sections['compile']!.data as { rows: { compile: { medianMs: number; maxMs: number } }[] }).rows[0]!;
    row.compile.medianMs = row.compile.maxMs * 2;
    const problems = checkReport(bad, expected);
    expect(problems.some((p) => p.includes('compile') && p.includes('is not within min'))).toBe(true);
    const bad2 = structuredClone(report) as Report;
    (bad2.headline.rows[0] as { vsBsdiff: number | null }).vsBsdiff = 0.5;
    expect(checkReport(bad2, expected)).toContain('the headline differs from the one recomputed from the sections');
  });

  it('renders HTML with one inline SVG per chart and nothing external', () => {
    const html = renderHtml(report);
    expect(chartCount(report)).toBeGreaterThan(0);
    expect((html.match(/<svg\b/g) ?? []).length).toBe(chartCount(report));
    expect(externalReferences(html)).toEqual([]);
    expect(externalReferences('<img src="https://example.org/x.png">').length).toBeGreaterThan(0);
    for (const l of LABELS) expect(html).toContain(l.replace('>', '&gt;'));
  });

  it('renders markdown naming every pair, and rewrites only the headline block of a README', () => {
    const md = renderMarkdown(report);
    for (const l of LABELS) expect(md).toContain(l);
    const readme = `# x\n\nintro\n\n## Figures\n${HEADLINE_START}\nold\n${HEADLINE_END}\n\nafter\n`;
    const r = replaceHeadline(readme, headlineMarkdown(report.headline, report));
    expect(r.ok && r.value.startsWith('# x\n\nintro\n\n## Figures\n') && r.value.endsWith(`${HEADLINE_END}\n\nafter\n`) && !r.value.includes('\nold\n')).toBe(true);
    const missing = replaceHeadline('# no markers\n', 'x');
    expect(missing.ok ? null : missing.error.code).toBe('BENCH_README_MARKERS');
  });
});

describe('the published report (bench/results/, README headline)', () => {
  const dir = join(root, 'bench/results');
  const published = (): Report => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;

  it('is a full run that covers every hotpatchable scenario step and every manifest pair, consistently', () => {
    expect(existsSync(join(dir, 'report.json'))).toBe(true);
    const r = published();
    expect(r.quick).toBe(false);
    const expected = { samples: samplePairs(root).map((p) => p.label), real: corpusPairs().map((p) => p.label) };
    expect(expected.samples.length).toBeGreaterThan(0);
    expect(expected.real.length).toBeGreaterThan(0);
    expect(checkReport(r, expected)).toEqual([]);
  });

  it('report.html has one SVG per chart and no external reference; report.md has every section', () => {
    const r = published();
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect((html.match(/<svg\b/g) ?? []).length).toBe(chartCount(r));
    expect(externalReferences(html)).toEqual([]);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const s of Object.values(r.sections)) expect(md).toContain(`## ${s.title}`);
  });

  it("the README's headline block is the published report's headline", () => {
    const r = published();
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = readme.slice(readme.indexOf(HEADLINE_START) + HEADLINE_START.length, readme.indexOf(HEADLINE_END)).trim();
    expect(block).toBe(headlineMarkdown(r.headline, r).trim());
  });
});

describe('headline dates', () => {
  const section = (generatedAt: string): ReportSection => ({ title: 't', markdown: '', data: {}, generatedAt });
  it('are the days of the sections the headline comes from, not the date of the last full run', () => {
    expect(headlineDates({ generatedAt: '2026-11-29T10:00:00Z', sections: { size: section('2026-12-03T09:00:00Z'), 'apply-time': section('2026-12-03T10:00:00Z'), parser: section('2026-12-01T00:00:00Z') } })).toBe('2026-12-03');
    expect(headlineDates({ generatedAt: '2026-11-29T10:00:00Z', sections: { size: section('2026-12-03T09:00:00Z'), live: section('2026-11-30T10:00:00Z') } })).toBe('2026-11-30 to 2026-12-03 (per section: see the report)');
    expect(headlineDates({ generatedAt: '2026-11-29T10:00:00Z', sections: {} })).toBe('2026-11-29');
  });
});
