// `npm run check:functions` = `node bin/run-ts.js scripts/long-functions.ts [--max N]
// [--allow FILE | --no-allow] [DIR or FILE...]`: the functions longer than the limit (default
// 150 lines, the house style), longest first, checked against the allow-list
// scripts/long-functions-allowed.txt (the functions that were over the limit when the rule
// came in, each at most its listed length; the list only shrinks). Default folders: every
// one with TypeScript sources (DEFAULT_DIRS); `*.test.ts` excluded, test helpers included. Exits 1 when a function over the limit is not
// listed or grew, or an entry is stale (scripts/function-lengths.ts says which and what to
// do). With DIRs, only entries for files under them count; `--no-allow` lists every function
// over the limit and exits 1 if there is any. CI runs it (.ci/check-functions.sh).
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { checkFunctionLengths, functionLengths, parseAllowList, sourceFiles, type AllowedLength } from './function-lengths.ts';

/** Every folder of TypeScript sources: library, CLI, bench, scripts, samples' tooling and test helpers. */
const DEFAULT_DIRS = ['common', 'runtime', 'compiler', 'formats', 'bundle', 'cli', 'bench', 'scripts', 'samples', 'test'];
const DEFAULT_ALLOW = 'scripts/long-functions-allowed.txt';

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};
const max = Number(valueOf('--max') ?? 150);
const noAllow = args.includes('--no-allow');
const allowPath = valueOf('--allow') ?? DEFAULT_ALLOW;
const dirs = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--max' && args[i - 1] !== '--allow');
if (!Number.isInteger(max) || max < 1) {
  console.error(`long-functions: --max must be a positive integer, not ${valueOf('--max')}`);
  process.exit(2);
}
const root = process.cwd();
const files = (dirs.length > 0 ? dirs : DEFAULT_DIRS).flatMap((d) => sourceFiles(join(root, d)));
const all = functionLengths(files, root);
const scanned = new Set(files.map((f) => relative(root, f)));

let allowed: AllowedLength[] = [];
if (!noAllow) {
  const parsed = parseAllowList(readFileSync(join(root, allowPath), 'utf8'));
  if (parsed.errors.length > 0) {
    for (const e of parsed.errors) console.error(`${allowPath}: ${e}`);
    process.exit(2);
  }
  allowed = parsed.entries.filter((a) => scanned.has(a.file));
}

const listed = new Map(allowed.map((a) => [`${a.file} ${a.name}`, a.lines]));
const over = all.filter((f) => f.lines > max);
for (const f of over) {
  const a = listed.get(`${f.file} ${f.name}`);
  console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}${a === undefined ? '' : `  (allowed up to ${a}: ${allowPath})`}`);
}
console.log(`${over.length} of ${all.length} functions over ${max} lines; longest: ${all[0] === undefined ? 'none' : `${all[0].name} (${all[0].file}, ${all[0].lines} lines)`}`);
const problems = noAllow ? over.map((f) => `over ${max} lines: ${f.file}:${f.line} ${f.name}`) : checkFunctionLengths(all, allowed, max, allowPath);
for (const p of problems) console.log(p);
if (!noAllow) console.log(problems.length === 0 ? `ok: no function over ${max} lines beyond the ${allowed.length} listed in ${allowPath}` : `FAILED: ${problems.length} problem(s) with function lengths (house style: functions under ~${max} lines)`);
process.exitCode = problems.length > 0 ? 1 : 0;
