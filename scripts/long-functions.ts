// Functions longer than a limit, longest first: the house style keeps functions under ~150
// lines. `node bin/run-ts.js scripts/long-functions.ts [--max N] [DIR or FILE...]` (default
// 150; compiler runtime formats cli common). Counts the lines of every function declaration,
// method, arrow function and function expression with a body, tests excluded; a nested
// function counts inside its parent too. Exits 1 when any is over the limit.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** A function and its length in source lines (first to last line of the whole node). */
export interface FunctionLength {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

function sourceFiles(dir: string): string[] {
  if (!statSync(dir).isDirectory()) return [dir];
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === 'node_modules' || e === 'pkg' || e === 'generated' || e === 'cache') continue;
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function nameOf(n: ts.Node, sf: ts.SourceFile): string {
  if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isFunctionExpression(n)) && n.name !== undefined) return n.name.getText(sf);
  if (ts.isConstructorDeclaration(n)) return 'constructor';
  const p = n.parent;
  if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText(sf);
  return '(anonymous)';
}

/** Every function with a body in `files`, longest first. */
export function functionLengths(files: readonly string[], root: string): FunctionLength[] {
  const out: FunctionLength[] = [];
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (n: ts.Node): void => {
      if (ts.isFunctionLike(n) && 'body' in n && n.body !== undefined) {
        const first = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        out.push({ file: relative(root, file), name: nameOf(n, sf), line: first + 1, lines: last - first + 1 });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out.sort((a, b) => b.lines - a.lines);
}

const args = process.argv.slice(2);
const maxAt = args.indexOf('--max');
const max = maxAt >= 0 ? Number(args[maxAt + 1]) : 150;
const dirs = maxAt >= 0 ? args.filter((_, i) => i !== maxAt && i !== maxAt + 1) : args;
const root = process.cwd();
const files = (dirs.length > 0 ? dirs : ['compiler', 'runtime', 'formats', 'cli', 'common']).flatMap((d) => sourceFiles(join(root, d)));
const all = functionLengths(files, root);
const over = all.filter((f) => f.lines > max);
for (const f of over) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line}  ${f.name}`);
console.log(`${over.length} of ${all.length} functions over ${max} lines; longest: ${all[0] === undefined ? 'none' : `${all[0].name} (${all[0].file}, ${all[0].lines} lines)`}`);
process.exitCode = over.length > 0 ? 1 : 0;
