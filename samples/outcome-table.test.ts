/**
 * samples/README.md's per-compiler outcome table is the one samples/outcome-table.ts
 * generates from scenarios.json (UPDATE_GOLDEN=1 rewrites it), so it changes with every
 * miss fixed or added.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { renderOutcomeTable, replaceOutcomeTable } from './outcome-table.ts';
import { readScenarios, SAMPLES_DIR } from './scenarios.ts';

const README = join(SAMPLES_DIR, 'README.md');

test('samples/README.md holds the outcome table generated from scenarios.json', () => {
  const readme = readFileSync(README, 'utf8');
  const block = renderOutcomeTable(readScenarios());
  const next = replaceOutcomeTable(readme, block);
  expect(next, 'README.md has the outcome-table markers').not.toBeNull();
  if (process.env['UPDATE_GOLDEN'] === '1' && next !== readme) writeFileSync(README, next!);
  else expect(readme).toBe(next);
});

test('the table names every scenario once per build and every miss class with its reason', () => {
  const scenarios = readScenarios();
  const block = renderOutcomeTable(scenarios);
  for (const s of scenarios) expect(block.split('\n').filter((l) => l.startsWith(`| \`${s.name}\` |`))).toHaveLength(1);
  for (const s of scenarios) for (const m of s.misses ?? []) expect(block).toContain(`miss \`${m.class}\` ("${m.reason}")`);
  // A scenario with a miss for one build says so in that build's column only.
  const row = (name: string): string[] => block.split('\n').find((l) => l.startsWith(`| \`${name}\` |`))!.split(' | ');
  const withMiss = scenarios.find((s) => (s.misses ?? []).some((m) => m.toolchain === 'gcc' && m.stripped === true && m.to === undefined));
  if (withMiss !== undefined) {
    const cells = row(withMiss.name);
    expect(cells[3]).toMatch(/refused \(miss/); // GCC, stripped
  }
});
