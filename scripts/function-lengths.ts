// The house-style rule "functions under ~150 lines", as functions: the length of every
// function in a set of files, and the check of those lengths against an allow-list of the
// functions that were already over the limit when the rule came in (scripts/long-functions.ts
// is the command; scripts/long-functions-allowed.txt the list).
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

/** An allow-list entry: `file` `name` may be `lines` long, and no longer. */
export interface AllowedLength {
  readonly file: string;
  readonly name: string;
  readonly lines: number;
}

/** The `.ts` sources under `dir` (or `dir` itself if it is a file), tests and generated code excluded. */
export function sourceFiles(dir: string): string[] {
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

/**
 * Every function with a body in `files` (declarations, methods, arrow functions, function
 * expressions; a nested function counts inside its parent too), paths relative to `root`,
 * longest first.
 */
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

/** Parses an allow-list: one `LINES FILE NAME` a line (as the check prints them); `#` starts a comment. */
export function parseAllowList(text: string): { entries: AllowedLength[]; errors: string[] } {
  const entries: AllowedLength[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const m = /^(\d+)\s+(\S+)\s+(\S+)$/.exec(line);
    if (m === null) errors.push(`line ${i + 1}: expected "LINES FILE NAME", got "${line}"`);
    else entries.push({ lines: Number(m[1]), file: m[2]!, name: m[3]! });
  });
  return { entries, errors };
}

/**
 * What is wrong with `all` under the limit `max` and the allow-list `allowed` (empty when all
 * is well): a function over the limit that is not listed (NEW), or longer than its entry
 * (GREW); an entry above its function's length (LOWER), or whose function is no longer over
 * the limit (REMOVE). The list only ever shrinks: an entry left above the real length would
 * let its function grow back unseen. `where` names the list in the messages.
 */
export function checkFunctionLengths(all: readonly FunctionLength[], allowed: readonly AllowedLength[], max: number, where: string): string[] {
  const key = (f: { readonly file: string; readonly name: string }): string => `${f.file} ${f.name}`;
  const entry = new Map(allowed.map((a) => [key(a), a]));
  const longest = new Map<string, FunctionLength>();
  for (const f of all) if ((longest.get(key(f))?.lines ?? -1) < f.lines) longest.set(key(f), f);
  const problems: string[] = [];
  for (const f of all) {
    if (f.lines <= max) continue;
    const a = entry.get(key(f));
    if (a === undefined) problems.push(`NEW: ${f.file}:${f.line} ${f.name} is ${f.lines} lines, over ${max}: split it at its seams`);
    else if (f.lines > a.lines) problems.push(`GREW: ${f.file}:${f.line} ${f.name} is ${f.lines} lines, ${where} holds it at ${a.lines}: split it, never raise the entry`);
  }
  for (const a of allowed) {
    const f = longest.get(key(a));
    if (f === undefined || f.lines <= max) problems.push(`REMOVE: ${key(a)} is ${f === undefined ? 'gone' : `${f.lines} lines, not over ${max}`}: remove its entry from ${where}`);
    else if (f.lines < a.lines) problems.push(`LOWER: ${key(a)} is ${f.lines} lines: lower its entry in ${where} from ${a.lines} to ${f.lines}`);
  }
  return problems;
}
