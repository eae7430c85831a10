/**
 * The bench section interface. A section is one file `bench/sections/<id>.ts` whose default
 * export is a `BenchSection`; `npm run bench` (bench/main.ts) finds it by itself, runs it and
 * puts its output into bench/results/report.md and report.json. To add one: copy the shape
 * of sections/parser.ts; nothing else needs registering.
 *
 * Rules: measure real inputs (samples/, the real corpus), say in `markdown` what each number
 * means and what each side does, and keep timings out of unit tests (they live here).
 */

/** What main.ts hands every section. */
export interface BenchContext {
  /** Absolute path of the repository root. */
  readonly root: string;
  /** `--quick` on the command line: fewer files and shorter time budgets (smoke runs). */
  readonly quick: boolean;
  /** Progress line on stderr (not part of the report). */
  log(line: string): void;
}

/** A bar chart the HTML report draws as inline SVG (grouped horizontal bars, one group per category). */
export interface Chart {
  /** Unique within the report (an HTML id). */
  readonly id: string;
  readonly title: string;
  /** What the values are: a ratio (1 = par, drawn as a line) or milliseconds. */
  readonly unit: 'ratio' | 'ms';
  /** Log scale: ratios and times here span several orders of magnitude. */
  readonly log: boolean;
  /** One bar group per category (a pair or a scenario). */
  readonly categories: readonly string[];
  /** One bar per series in each group; null where the value does not exist (no package, tool failed). */
  readonly series: ReadonlyArray<{ readonly name: string; readonly values: ReadonlyArray<number | null> }>;
}

/** What a section returns. */
export interface SectionResult {
  /** Markdown for report.md, starting at heading level 3 (main.ts writes the `##` title). */
  readonly markdown: string;
  /** Machine-readable numbers for report.json (plain JSON values; bigints are not allowed). */
  readonly data: unknown;
  /** Charts for report.html (optional; report.md carries the same numbers as tables). */
  readonly charts?: readonly Chart[];
}

/** A measurement section of `npm run bench`. */
export interface BenchSection {
  /** Stable id (the file name without .ts), the key in report.json and the CLI filter. */
  readonly id: string;
  /** Heading in report.md. */
  readonly title: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}

/** Markdown table from a header row and body rows. */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const line = (cells: ReadonlyArray<string | number>): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
