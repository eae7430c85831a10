/**
 * Bench section `compile`: how long building a package takes next to how long bsdiff takes
 * to create its patch from the same pair.
 * - compile: what `hotpatch build --key` does after reading the two files: parse both PEs,
 *   discover, disassemble and match functions, diff, emit, verify the package against both
 *   images, encode and sign (for a pair with refused changes: the --skip-refused build).
 *   In process, timed with tinybench.
 * - bsdiff: `bsdiff OLD NEW PATCH` as a process (its start-up included), repeated.
 * Real pairs: compile 3 times below 1 MB, once above; bsdiff 3 times below 2 MB, once above.
 */
import { analysePairs, benchPairs, type PairAnalysis } from '../pairs.ts';
import { formatRatio, formatTiming, ratioOf, type Timing } from '../stats.ts';
import { markdownTable, type BenchContext, type BenchSection, type Chart, type SectionResult } from '../section.ts';

/** One pair's compile and bsdiff-create timings. */
export interface CompileRow {
  readonly group: 'samples' | 'real';
  readonly label: string;
  readonly newSize: number;
  readonly error: string | null;
  readonly compile: Timing | null;
  readonly bsdiffCreate: Timing | null;
  /** compile median / bsdiff median. */
  readonly compileOverBsdiff: number | null;
}

/** A compile row from a pair's analysis. */
export function compileRowOf(a: PairAnalysis): CompileRow {
  const bs = a.tools?.bsdiffCreate ?? null;
  return {
    group: a.group,
    label: a.label,
    newSize: a.newSize,
    error: a.error,
    compile: a.compile,
    bsdiffCreate: bs,
    compileOverBsdiff: ratioOf(a.compile?.medianMs ?? null, bs?.medianMs ?? null),
  };
}

/** The section's result from the pairs' analyses. */
export function compileSectionResult(analyses: readonly PairAnalysis[]): SectionResult {
  const rows = analyses.map(compileRowOf);
  const t = (x: Timing | null): string => (x === null ? '-' : formatTiming(x));
  const markdown = [
    'Median (min..max, n) of each. **compile**: parse both PE files, find, disassemble and match functions, diff, emit, verify the package against both images, encode and sign; in process (tinybench), what `hotpatch build --key` does after reading the files (for pairs with refused changes, the `--skip-refused` build). **bsdiff**: `bsdiff OLD NEW PATCH` run as a process, start-up included. To keep `npm run bench` short on real pairs, compile runs 3 times below 1 MB and once above, bsdiff 3 times below 2 MB and once above (n says which).',
    '',
    markdownTable(
      ['pair', 'group', 'compile', 'bsdiff create', 'compile / bsdiff'],
      rows.map((r) => [r.label, r.group, r.error !== null && r.compile === null ? `error: ${r.error}` : t(r.compile), t(r.bsdiffCreate), formatRatio(r.compileOverBsdiff)]),
    ),
  ].join('\n');
  const charts: Chart[] = (['samples', 'real'] as const).map((g) => {
    const rs = rows.filter((r) => r.group === g);
    return {
      id: `compile-${g}`,
      title: `Compile vs bsdiff create, ${g === 'samples' ? 'sample scenarios' : 'real pairs'} (median ms, log scale)`,
      unit: 'ms' as const,
      log: true,
      categories: rs.map((r) => r.label),
      series: [
        { name: 'hotpatch compile', values: rs.map((r) => r.compile?.medianMs ?? null) },
        { name: 'bsdiff create', values: rs.map((r) => r.bsdiffCreate?.medianMs ?? null) },
      ],
    };
  });
  return { markdown, data: { rows }, charts };
}

const section: BenchSection = {
  id: 'compile',
  title: 'Compile time vs bsdiff create time',
  async run(ctx: BenchContext): Promise<SectionResult> {
    return compileSectionResult(await analysePairs(benchPairs(ctx.root, { quick: ctx.quick }), { quick: ctx.quick }, (l) => ctx.log(`compile: ${l}`)));
  },
};

export default section;
