/**
 * What the code blocks of a package are made of, before sealing: how each is stored (literal
 * or delta, and for a delta its copy / literal / add ops), and why each fixup it still lists
 * is explicit (its target kind; for an old-image target, whether a copy brings its field and
 * where the old field points), and the copy and add ops' offset gaps.
 * `node bin/run-ts.js bench/delta-anatomy.ts [LABEL...]` (default: sharp A/B and watcher D),
 * packages built as bench/size-breakdown.ts builds them.
 */
import { copySource } from '../formats/delta-index.ts';
import type { CodeBlock, Fixup, StoredOp } from '../formats/package.ts';
import { benchKeys, corpusPairs } from './pairs.ts';
import { pairPackage } from './complete-package.ts';

const wanted = process.argv.slice(2);
const defaults = ['sharp-0.34.4-0.34.5', 'sharp-0.34.3-0.34.4', 'watcher-2.5.0-2.5.1'];
const pairs = corpusPairs().filter((p) => p.missing === null && (wanted.length === 0 ? defaults.includes(p.label) : wanted.some((w) => p.label.startsWith(w))));
const key = (await benchKeys()).signingKey;

const count = (m: Map<string, number>, k: string, n = 1): void => void m.set(k, (m.get(k) ?? 0) + n);
const show = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');

for (const pair of pairs) {
  const built = await pairPackage(pair, key, false);
  if (typeof built === 'string') { console.log(pair.label, built); continue; }
  const pkg = built.pkg;
  const old = built.diff.match.old;
  const fnOf = (rva: number): string => {
    const f = old.fns.containing(rva);
    return f === undefined ? 'data' : f.entry === rva ? 'fn-entry' : 'fn-inside';
  };
  const records = new Map<number, { oldRva: number | null }>();
  for (const r of pkg.functions) records.set(r.blockId, { oldRva: r.oldRva });
  const entryBlocks = new Set(pkg.functions.filter((r) => r.blockOffset === 0).map((r) => r.blockId));
  const storage = new Map<string, number>();
  const opsStat = new Map<string, number>();
  const why = new Map<string, number>();
  const gaps = new Map<string, number>();
  const literalWhy = new Map<string, number>();
  for (const b of pkg.codeBlocks) {
    const rec = records.get(b.id);
    const what = rec === undefined ? 'unrecorded' : rec.oldRva === null ? 'added' : 'changed';
    const size = b.bytes.kind === 'literal' ? b.bytes.bytes.length : b.bytes.kind === 'delta' ? b.bytes.size : b.bytes.length;
    count(storage, `${b.bytes.kind} ${what} blocks`);
    count(storage, `${b.bytes.kind} ${what} bytes`, size);
    if (b.bytes.kind === 'literal') count(literalWhy, `${what} fixups`, b.fixups.length);
    const ops: readonly StoredOp[] = b.bytes.kind === 'delta' ? b.bytes.ops : [];
    // Offset gaps as the op columns write them (formats/op-columns.ts): 0 where a copy or add
    // resumes the previous op's alignment; far ones cost 2-3 varint bytes zstd cannot predict.
    let next = 0;
    for (const op of ops) {
      const len = op.kind === 'literal' || op.kind === 'add' ? op.bytes.length : op.length;
      if (op.kind === 'literal' || op.kind === 'sealed-literal') { next += len; continue; }
      const gap = Math.abs(op.offset - next);
      count(gaps, gap === 0 ? 'gap 0' : gap < 64 ? 'gap 1-63' : gap < 8192 ? 'gap 64-8191' : 'gap 8192+');
      next = op.offset + len;
    }
    for (const op of ops) {
      if (op.kind === 'copy') { count(opsStat, 'copy ops'); count(opsStat, 'copy bytes', op.length); }
      else if (op.kind === 'literal') { count(opsStat, 'literal ops'); count(opsStat, 'literal bytes', op.bytes.length); }
      else if (op.kind === 'add') {
        count(opsStat, 'add ops');
        count(opsStat, 'add bytes', op.bytes.length);
        count(opsStat, 'add non-zero', op.bytes.filter((x) => x !== 0).length);
      }
    }
    if (b.bytes.kind !== 'delta') continue;
    for (const f of b.fixups) count(why, classify(f, b, ops, fnOf, entryBlocks));
  }
  console.log(`${pair.label}:`);
  console.log(`  storage: ${show(storage)}`);
  console.log(`  literal blocks' fixups: ${show(literalWhy)}`);
  console.log(`  delta ops: ${show(opsStat)}`);
  console.log(`  copy and add offset gaps: ${show(gaps)}`);
  console.log(`  explicit fixups of delta blocks: ${show(why)}`);
}

/** Why fixup `f` of delta block `b` is listed. */
function classify(f: Fixup, b: CodeBlock, ops: readonly StoredOp[], fnOf: (rva: number) => string, entryBlocks: ReadonlySet<number>): string {
  const w = f.kind === 'abs64' ? 8 : f.kind === 'rel8' ? 1 : 4;
  const src = copySource(ops, f.offset, w);
  const where = src === null ? 'not-copied' : 'copied';
  const t = f.target;
  if (t.kind === 'image') return `${f.kind} image ${fnOf(t.rva)} ${where}`;
  if (t.kind === 'block') {
    const self = t.blockId === b.id ? 'self' : entryBlocks.has(t.blockId) && t.offset === 0 ? 'other-entry' : 'other-inside';
    return `${f.kind} block ${self} ${where}`;
  }
  return `${f.kind} ${t.kind} ${where}`;
}
