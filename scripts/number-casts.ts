// `npm run check:casts` = `node bin/run-ts.js scripts/number-casts.ts [DIR...]`: fails on any
// `x as number` in compiler/ (its tests included), naming file and line. Addresses in the
// compiler are typed `Rva`/`Va`/`FileOffset` (common/types.ts) and an Rva is a number wherever
// a number is read, so a cast to number only hides a type: a null (UnwindInfo.handlerData), or
// a brand a structure should carry. compiler/README.md ("Address types") says where a number
// becomes an Rva instead. Issue #13 took the count from 107 to 0; CI keeps it there
// (.ci/check-number-casts.sh).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = process.cwd();

/** Every `.ts` file under `dir`, tests included. */
function tsFiles(dir: string): string[] {
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (e === 'node_modules') return [];
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Lines of the `as number` expressions in one source (comments and strings do not count). */
function numberCasts(text: string, file: string): number[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lines: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isAsExpression(node) && node.type.kind === ts.SyntaxKind.NumberKeyword) lines.push(sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return lines;
}

const dirs = process.argv.slice(2);
const found: string[] = [];
for (const f of (dirs.length > 0 ? dirs : ['compiler']).flatMap((d) => tsFiles(join(root, d)))) {
  for (const line of numberCasts(readFileSync(f, 'utf8'), f)) found.push(`${relative(root, f)}:${line}`);
}
for (const at of found) console.log(`${at}: 'as number' cast: type the value (Rva, Va, FileOffset; compiler/README.md "Address types") instead`);
console.log(found.length === 0 ? "ok: no 'as number' cast in compiler/" : `FAILED: ${found.length} 'as number' cast(s)`);
process.exitCode = found.length > 0 ? 1 : 0;
