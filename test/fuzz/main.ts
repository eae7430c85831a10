/**
 * `npm run fuzz -- [--cases N] [--surface a,b] [--seed S] [--minutes M] [--time-scale X] [--memory-mb MB] [--render]`:
 * the fuzz surfaces of test/fuzz/surfaces.ts under the harness's watchdog (test/fuzz/harness.ts),
 * 100,000 cases each by default. Each surface's figures (cases, cases/s, slowest case, peak
 * memory, crashes, hangs, over budget) go to bench/results/fuzz/<surface>.json, rewritten
 * every 30 s while it runs, and bench/results/fuzz.md is regenerated from all of them.
 * Exits 1 when any case failed that test/fuzz/known-failures.json does not list.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSurface, type FuzzReport } from './harness.ts';
import { isKnown, readKnownFailures } from './known-failures.ts';
import { SURFACES } from './surfaces.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, 'bench/results/fuzz');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

const cases = Number(arg('cases') ?? 100_000);
const seed = Number(arg('seed') ?? 0x4850_4b31);
const names = (arg('surface') ?? SURFACES.map((s) => s.name).join(',')).split(',');
const minutes = arg('minutes');
const stopAt = minutes === undefined ? undefined : Date.now() + Number(minutes) * 60_000;
const timeScale = Number(arg('time-scale') ?? 1);
const memoryMb = Number(arg('memory-mb') ?? 512);
if (!Number.isInteger(cases) || cases < 1) throw new Error(`--cases must be a positive integer, not ${arg('cases')}`);

function save(r: FuzzReport, started: string): void {
  mkdirSync(OUT, { recursive: true });
  const doc = {
    ...r,
    failures: r.failures.slice(0, 100),
    started,
    updated: new Date().toISOString(),
    machine: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    node: process.version,
  };
  const path = join(OUT, `${r.surface}.json`);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  renderMarkdown();
}

function renderMarkdown(): void {
  const rows = readdirSync(OUT)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(OUT, f), 'utf8')) as FuzzReport & { started: string; updated: string; machine: string; node: string });
  const wallRate = (r: { cases: number; started: string; updated: string }): string => {
    const s = (Date.parse(r.updated) - Date.parse(r.started)) / 1000;
    return s > 0 ? (r.cases / s).toFixed(1) : '-';
  };
  const lines = [
    '# Fuzz runs',
    '',
    'Written by `npm run fuzz` (test/fuzz/main.ts); one row per surface, its latest run. Cases/s (case time) counts only the time inside the cases; cases/s (wall) is cases over the run\'s elapsed time, which on a shared machine includes the time the process was not scheduled. Time limit per case = the surface\'s limit (a case that misses it is run once more alone; hangs are cases that missed it twice); memory budget per case = heap + array buffers (incl. wasm) after the case, and peak-RSS growth during it.',
    '',
    '| surface | cases (requested) | complete | cases/s (case time) | cases/s (wall) | slowest case (ms) | peak heap+buffers MB | peak RSS growth MB | crashes | hangs | over budget | slow once, passed on retry | limits | updated |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.surface} | ${r.cases.toLocaleString('en-US')} (${r.requested.toLocaleString('en-US')}) | ${r.complete ? 'yes' : 'no'} | ${r.casesPerSecond.toFixed(1)} | ${wallRate(r)} | ${r.slowest === null ? '-' : `#${r.slowest.case}: ${r.slowest.ms}`} | ${r.peakMemoryMb} | ${r.peakRssGrowthMb} | ${r.crashes} | ${r.hangs} | ${r.overBudget} | ${(r.retried ?? []).length} | ${r.timeoutMs} ms, ${r.memoryMb} MB | ${r.updated.slice(0, 16)}Z, ${r.machine}, Node ${r.node} |`,
    ),
    '',
  ];
  const md = join(ROOT, 'bench/results/fuzz.md');
  writeFileSync(`${md}.${process.pid}.tmp`, lines.join('\n'));
  renameSync(`${md}.${process.pid}.tmp`, md);
}

if (process.argv.includes('--render')) {
  renderMarkdown();
  process.exit(0);
}

const known = readKnownFailures();
let unknown = 0;
for (const name of names) {
  const started = new Date().toISOString();
  const r = await runSurface(name, { cases, seed, timeScale, memoryMb, ...(stopAt === undefined ? {} : { stopAt }), onProgress: (p) => save(p, started) });
  save(r, started);
  const fresh = r.failures.filter((f) => !isKnown(known, f));
  unknown += fresh.length;
  process.stdout.write(
    `${name}: ${r.cases}/${r.requested} cases, ${r.casesPerSecond.toFixed(1)}/s, slowest ${r.slowest?.ms ?? 0} ms (#${r.slowest?.case ?? '-'}), peak ${r.peakMemoryMb} MB, crashes ${r.crashes}, hangs ${r.hangs}, over budget ${r.overBudget}, retried ${r.retried.length}${r.complete ? '' : ' (stopped early)'}\n`,
  );
  for (const f of fresh.slice(0, 20)) process.stdout.write(`  NEW ${f.kind} surface=${f.surface} seed=${f.seed} case=${f.case}: ${f.detail}\n`);
  if (stopAt !== undefined && Date.now() >= stopAt) break;
}
process.exitCode = unknown === 0 ? 0 : 1;
