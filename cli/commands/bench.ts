/**
 * `hotpatch bench [SECTION...] [--quick] [--render] [--no-readme]`: runs the benchmarks
 * (`npm run bench`, bench/main.ts) from a checkout and prints the headline figures. Progress
 * goes to stderr; the reports land in bench/results/ (report.md, report.json, report.html).
 * The bench runs as its own process: it measures processes and long in-process timings,
 * and exits with its own code (70 when a section failed or the report is inconsistent).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from '../../common/errors.ts';
import { defineCommand, type CommandOutput } from '../command.ts';


/** The checkout: the first folder up from this module (cli/commands/, or the bundle's dist/cli/) with a package.json. */
let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);

export default defineCommand({
  args: {
    positionals: {
      sections: { array: true, describe: 'only these sections (size, compile, apply-time, apply, live, parser, startup); the others keep their last results' },
    },
    options: {
      quick: { type: 'boolean', default: false, describe: 'fewer pairs and repetitions (development); writes bench/results/quick/, leaves the README alone' },
      render: { type: 'boolean', default: false, describe: 'measure nothing: re-render report.md/.html and the README block from report.json' },
      readme: { type: 'boolean', default: true, describe: "rewrite the README's headline table after a full run (--no-readme: leave it)" },
    },
  },
  run: (argv): Result<CommandOutput> => {
    const main = join(root, 'bench', 'main.ts');
    if (!existsSync(main) || !existsSync(join(root, 'samples', 'scenarios.json'))) return err('BENCH_NO_CHECKOUT', 'hotpatch bench runs from a source checkout (bench/ and samples/ are not here)');
    const have = readdirSync(join(root, 'bench', 'sections')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => f.slice(0, -3));
    const unknown = (argv.sections ?? []).filter((s) => !have.includes(s));
    if (unknown.length > 0) return err('USAGE_UNKNOWN_SECTION', `no bench section ${unknown.join(', ')} (have: ${have.sort().join(', ')})`);
    const args = [join(root, 'bin', 'run-ts.js'), main, ...(argv.sections ?? []), ...(argv.quick ? ['--quick'] : []), ...(argv.render ? ['--render'] : []), ...(argv.readme ? [] : ['--no-readme']), ...(argv.json ? ['--no-progress'] : [])];
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.error !== undefined) return err('BENCH_FAILED', `could not start the bench: ${r.error.message}`);
    if (r.status !== 0 && r.status !== 70) return err('BENCH_FAILED', `the bench stopped (exit ${r.status ?? r.signal})`);
    const dir = join(root, 'bench', 'results', ...(argv.quick ? ['quick'] : []));
    const jsonPath = join(dir, 'report.json');
    let headline: unknown = null;
    try {
      headline = (JSON.parse(readFileSync(jsonPath, 'utf8')) as { headline?: unknown }).headline ?? null;
    } catch {
      return err('BENCH_FAILED', 'the bench wrote no readable bench/results/report.json');
    }
    const md = join(dir, 'report.md');
    const text = readFileSync(md, 'utf8');
    const head = /## Headline\n\n([\s\S]*?)\n## /.exec(text)?.[1]?.trim() ?? '';
    return ok({
      json: { report: { json: jsonPath, markdown: md, html: join(dir, 'report.html') }, headline, complete: r.status === 0 },
      text: `${head}\n\nreports: ${md}, report.json, report.html${r.status === 0 ? '' : '\nbench: a section failed or the report is incomplete (see above)'}`,
      exitCode: r.status === 0 ? 0 : 70,
    });
  },
});
