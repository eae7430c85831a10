/**
 * The "per compiler: patched / refused / expected" table of samples/README.md, generated
 * from scenarios.json: each scenario's expectation and its known misses (`misses`), which
 * test/compiler-samples.test.ts pins build by build (a miss must still be refused with its
 * reason; everything else must do what the scenario expects), test/apply-scenarios.test.ts
 * applies in memory and test/live-e2e.test.ts live under Wine. So the table says what the
 * tests prove, and samples/outcome-table.test.ts keeps the README block equal to it
 * (UPDATE_GOLDEN=1 rewrites the block).
 */
import { expectationOf, TOOLCHAINS, type KnownMiss, type Scenario, type Toolchain } from './scenarios.ts';

/** Markers around the generated block in samples/README.md. */
export const TABLE_BEGIN = '<!-- outcome-table:begin (generated from scenarios.json by samples/outcome-table.ts) -->';
export const TABLE_END = '<!-- outcome-table:end -->';

const COMPILER: Readonly<Record<Toolchain, string>> = { gcc: 'GCC', clang: 'clang-22 + lld' };

/** One build of a scenario: what the compiler does with all its steps. */
type Outcome = { readonly kind: 'patched' | 'refused' } | { readonly kind: 'miss'; readonly miss: KnownMiss };

function outcomeOf(s: Scenario, tc: Toolchain, stripped: boolean): Outcome {
  for (const st of s.steps) {
    const e = expectationOf(s, st, tc, stripped);
    if (e.miss !== undefined) return { kind: 'miss', miss: e.miss };
  }
  return { kind: s.expect === 'hotpatchable' || s.safeWith?.some((x) => x.toolchain === tc) === true ? 'patched' : 'refused' };
}

/** Whether `tc`'s build of `s` must be patched: a hotpatchable scenario, or one of its `safeWith` builds. */
const mustPatch = (s: Scenario, tc: Toolchain): boolean => s.expect === 'hotpatchable' || s.safeWith?.some((x) => x.toolchain === tc) === true;

const cell = (o: Outcome): string => (o.kind === 'miss' ? `refused (miss \`${o.miss.class}\`)` : o.kind);

/** The README block: the table, per-compiler totals and the reasons of every refusal. */
export function renderOutcomeTable(scenarios: readonly Scenario[]): string {
  const variants = TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => ({ tc, stripped })));
  const lines = [
    TABLE_BEGIN,
    '',
    `| scenario | expected | ${variants.map((v) => `${COMPILER[v.tc]}, ${v.stripped ? 'stripped' : 'symbols'}`).join(' | ')} |`,
    `| --- | --- | ${variants.map(() => '---').join(' | ')} |`,
  ];
  for (const s of scenarios) {
    const safe = (s.safeWith ?? []).map((x) => `${COMPILER[x.toolchain]}: patched`);
    const expected = s.expect === 'hotpatchable' ? 'patched' : safe.length > 0 ? `refused (${safe.join(', ')})` : 'refused';
    lines.push(`| \`${s.name}\` | ${expected} | ${variants.map((v) => cell(outcomeOf(s, v.tc, v.stripped))).join(' | ')} |`);
  }
  lines.push('');
  for (const tc of TOOLCHAINS) {
    const hotpatchable = scenarios.filter((s) => mustPatch(s, tc)).length;
    const mustRefuse = scenarios.length - hotpatchable;
    const parts = [false, true].map((stripped) => {
      const o = scenarios.map((s) => outcomeOf(s, tc, stripped));
      const patched = o.filter((x) => x.kind === 'patched').length;
      const refused = o.filter((x) => x.kind === 'refused').length;
      const missed = o.filter((x) => x.kind === 'miss').length;
      return `${stripped ? 'stripped' : 'with symbols'} ${patched} of ${hotpatchable} patched, ${refused} of ${mustRefuse} refused as expected, ${missed} refused though hotpatchable`;
    });
    lines.push(`- ${COMPILER[tc]}: ${parts.join('; ')}.`);
  }
  lines.push('', 'Reasons:');
  for (const s of scenarios.filter((x) => x.expect === 'refused')) lines.push(`- \`${s.name}\` must be refused: ${s.refusedReason ?? ''}.`);
  for (const s of scenarios) for (const x of s.safeWith ?? []) lines.push(`- \`${s.name}\` built by ${COMPILER[x.toolchain]} must be patched: ${x.why}.`);
  for (const s of scenarios) for (const x of s.changesWith ?? []) lines.push(`- \`${s.name}\` built by ${COMPILER[x.toolchain]} changes ${x.functions.join(', ')}: ${x.why}.`);
  const classes = new Map<string, { readonly reason: string; readonly where: string[] }>();
  for (const s of scenarios) {
    for (const m of s.misses ?? []) {
      const where = `\`${s.name}\` (${COMPILER[m.toolchain]}${m.stripped === undefined ? '' : m.stripped ? ', stripped' : ', symbols'}${m.to === undefined ? '' : `, step to ${m.to}`})`;
      const c = classes.get(m.class);
      if (c === undefined) classes.set(m.class, { reason: m.reason, where: [where] });
      else c.where.push(where);
    }
  }
  for (const [name, c] of classes) lines.push(`- miss \`${name}\` ("${c.reason}"): ${c.where.join(', ')}.`);
  if (classes.size === 0) lines.push('- no known misses.');
  lines.push('', TABLE_END);
  return lines.join('\n');
}

/** `readme` with its generated block replaced by `block`; null when the markers are missing. */
export function replaceOutcomeTable(readme: string, block: string): string | null {
  const a = readme.indexOf(TABLE_BEGIN);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) return null;
  return readme.slice(0, a) + block + readme.slice(b + TABLE_END.length);
}
