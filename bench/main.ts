/**
 * `npm run bench [-- [--quick] [SECTION...]]`: runs every section in bench/sections/ (or
 * the ones named) and writes bench/results/report.md and report.json. See section.ts for
 * how to add a section.
 */
import { readdirSync, writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpus, totalmem } from 'node:os';
import type { BenchContext, BenchSection, SectionResult } from './section.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
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

const ctx: BenchContext = { root, quick, log: (line) => process.stderr.write(`bench: ${line}\n`) };
const machine = {
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
};

const resultsDir = join(root, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const jsonPath = join(resultsDir, 'report.json');
// Running a subset keeps the other sections' last results in the report.
const previous = existsSync(jsonPath) && wanted.length > 0 ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { sections?: Record<string, { title: string; markdown: string; data: unknown; generatedAt: string }> }) : {};
const out: Record<string, { title: string; markdown: string; data: unknown; generatedAt: string }> = { ...(previous.sections ?? {}) };

let failed = 0;
for (const [i, file] of files.entries()) {
  const id = ids[i] as string;
  if (wanted.length > 0 && !wanted.includes(id)) continue;
  const mod = (await import(pathToFileURL(join(sectionsDir, file)).href)) as { default?: BenchSection };
  const section = mod.default;
  if (section === undefined) {
    process.stderr.write(`bench: ${file} has no default export (a BenchSection); skipped\n`);
    failed++;
    continue;
  }
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
  out[section.id] = { title: section.title, markdown: r.markdown, data: r.data, generatedAt: new Date().toISOString() };
}

const generatedAt = new Date().toISOString();
writeFileSync(jsonPath, `${JSON.stringify({ generatedAt, machine, quick, sections: out }, null, 2)}\n`);
const md = [
  '# hotpatch benchmark report',
  '',
  `Generated ${generatedAt} by \`npm run bench\`${quick ? ' (--quick)' : ''}. Node ${machine.node}, ${machine.platform}, ${machine.cores} x ${machine.cpu}, ${machine.memoryGiB} GiB.`,
  '',
  ...Object.entries(out).flatMap(([id, s]) => [`## ${s.title}`, '', `<!-- section ${id}, ${s.generatedAt} -->`, '', s.markdown.trim(), '']),
].join('\n');
writeFileSync(join(resultsDir, 'report.md'), md);
ctx.log(`wrote bench/results/report.md and report.json`);
process.exit(failed === 0 ? 0 : 70);
