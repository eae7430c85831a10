/**
 * `npm run fuzz -- [--cases N] [--surface a,b] [--seed S] [--minutes M] [--time-scale X] [--memory-mb MB] [--resume] [--render]`:
 * the fuzz surfaces of test/fuzz/surfaces.ts under the harness's watchdog (test/fuzz/harness.ts),
 * 100,000 cases each by default. Each surface's figures (cases, cases/s, slowest case, peak
 * memory, crashes, hangs, over budget) go to bench/results/fuzz/<surface>.json, rewritten
 * every 30 s while it runs (a checkpoint), and bench/results/fuzz.md is regenerated from all
 * of them. `--resume` continues a stopped run from its checkpoint under the same rules
 * (test/fuzz/checkpoint.ts); a run is complete only when all its cases ran.
 * Exits 1 when any case failed that test/fuzz/known-failures.json does not list.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeRun, resumeFrom, type SavedRun } from './checkpoint.ts';
import { runSurface, type FuzzReport } from './harness.ts';
import { isKnown, readKnownFailures } from './known-failures.ts';
import { ALL_SURFACES, SURFACES } from './surfaces.ts';

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

const env = { machine: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`, node: process.version };

function savedPath(surface: string): string {
  return join(OUT, `${surface}.json`);
}

function save(prev: SavedRun | null, r: FuzzReport, segStarted: Date): void {
  mkdirSync(OUT, { recursive: true });
  const merged = mergeRun(prev, r, segStarted, env);
  const doc = { ...merged, failures: merged.failures.slice(0, 100) };
  const path = savedPath(r.surface);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  renderMarkdown();
}

function renderMarkdown(): void {
  const rows = readdirSync(OUT)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(OUT, f), 'utf8')) as Partial<SavedRun> & FuzzReport & { started: string; updated: string; machine: string; node: string });
  const n = (x: number): string => x.toLocaleString('en-US');
  const wall = (r: (typeof rows)[number]): number => r.wallSeconds ?? (Date.parse(r.updated) - Date.parse(r.started)) / 1000;
  const lines = [
    '# Fuzz runs',
    '',
    'Written by `npm run fuzz` (test/fuzz/main.ts); one row per surface, its latest run. A run of N cases runs cases 0..N-1 of its seed (each case is a pure function of seed and number); it may stop and continue from its checkpoint (`--resume`, test/fuzz/checkpoint.ts) under the same seed, count, time limit and memory budget, and its figures are then the sum of its segments. "Complete" is yes only when every one of the N cases ran. Cases/s (case time) counts only the elapsed time inside the cases; cases/s (CPU) counts the process\'s CPU time inside them (all threads: the case, its GC, the harness), the rate an idle core would give; cases/s (wall) is cases over the segments\' elapsed time, which on a shared machine includes the time the process was not scheduled (the full runs run at `nice -n 19`). Time limit per case = the surface\'s limit (a case that misses it is run once more alone; hangs are cases that missed it twice); memory budget per case = heap + array buffers (incl. wasm) after the case, and peak-RSS growth during it.',
    '',
    '| surface | cases run (of N) | complete | segments | cases/s (case time) | cases/s (CPU) | cases/s (wall) | slowest case (ms) | peak heap+buffers MB | peak RSS growth MB | crashes | hangs | over budget | slow once, passed on retry | limits | updated |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.surface} | ${n(r.cases)} (${n(r.requested)}) | ${r.complete && r.cases === r.requested ? 'yes' : 'no'} | ${r.segments ?? 1} | ${r.casesPerSecond.toFixed(1)} | ${(r.casesPerCpuSecond ?? 0) > 0 ? r.casesPerCpuSecond.toFixed(1) : '-'} | ${wall(r) > 0 ? (r.cases / wall(r)).toFixed(1) : '-'} | ${r.slowest === null ? '-' : `#${r.slowest.case}: ${r.slowest.ms}`} | ${r.peakMemoryMb} | ${r.peakRssGrowthMb} | ${r.crashes} | ${r.hangs} | ${r.overBudget} | ${(r.retried ?? []).length} | ${r.timeoutMs} ms, ${r.memoryMb} MB | ${r.updated.slice(0, 16)}Z, ${r.machine}, Node ${r.node} |`,
    ),
    '',
    'What a case is, per surface (test/fuzz/surfaces.ts):',
    '',
    ...SURFACES.map((x) => `- ${x.name}: ${x.describe}; time limit ${x.timeoutMs} ms (times --time-scale).`),
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
  const surface = ALL_SURFACES.find((x) => x.name === name);
  if (surface === undefined) throw new Error(`no fuzz surface ${name}`);
  let prev: SavedRun | null = null;
  if (process.argv.includes('--resume')) {
    const path = savedPath(name);
    try {
      prev = resumeFrom(existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as SavedRun) : null, { seed, cases, timeoutMs: surface.timeoutMs * timeScale, memoryMb });
    } catch (e) {
      process.stderr.write(`hotpatch fuzz: ${(e as Error).message}\n`);
      process.exitCode = 2;
      continue;
    }
    if (prev !== null) process.stdout.write(`${name}: resuming at case ${prev.next} of ${cases} (${prev.segments} segment(s) so far)\n`);
  }
  const segStarted = new Date();
  const r = await runSurface(name, { cases, seed, timeScale, memoryMb, from: prev?.next ?? 0, ...(stopAt === undefined ? {} : { stopAt }), onProgress: (p) => save(prev, p, segStarted) });
  save(prev, r, segStarted);
  const total = mergeRun(prev, r, segStarted, env);
  const fresh = r.failures.filter((f) => !isKnown(known, f));
  unknown += fresh.length;
  process.stdout.write(
    `${name}: ${total.cases}/${total.requested} cases, ${total.casesPerSecond.toFixed(1)}/s, slowest ${total.slowest?.ms ?? 0} ms (#${total.slowest?.case ?? '-'}), peak ${total.peakMemoryMb} MB, crashes ${total.crashes}, hangs ${total.hangs}, over budget ${total.overBudget}, retried ${total.retried.length}${total.complete ? '' : ` (incomplete: next case ${total.next})`}\n`,
  );
  for (const f of fresh.slice(0, 20)) process.stdout.write(`  NEW ${f.kind} surface=${f.surface} seed=${f.seed} case=${f.case}: ${f.detail}\n`);
  if (stopAt !== undefined && Date.now() >= stopAt) break;
}
if (unknown > 0) process.exitCode = 1;
