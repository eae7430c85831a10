/**
 * Differential test against a second reference parser: LIEF (PyPI `lief`, lief-dump.py)
 * on every PE file under samples/ and every file of the real corpus, the same fields as the
 * python3-pefile test (pefile-diff.test.ts). Where the two references disagree we follow
 * pefile and the PE specification; pefile-diff.test.ts proves we equal pefile, so a field
 * where we and LIEF differ is one where pefile and LIEF differ. Those fields must be exactly
 * the list below, each explained in runtime/pe-parser/README.md ("Reference parsers"): a
 * new disagreement (a LIEF or pefile upgrade, a parser change) fails here until it is
 * understood and written down.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingTools, pipPackagePath } from '../../test/support/tools.ts';
import { eachWithReference, referenceDump, type Ref } from './testing/pefile-reference.ts';
import { realCorpusFiles, samplePeFiles } from '../../test/support/test-files.ts';

const DUMP = fileURLToPath(new URL('./lief-dump.py', import.meta.url));

/** Fields where LIEF 1.0 and pefile (so we) disagree; README "Reference parsers" says why. */
const KNOWN_DISAGREEMENTS = ['exceptions.frameOffset'];

/** Names of the positional .pdata row columns of Ref.exceptions. */
const EXCEPTION_COLUMNS = ['beginAddress', 'endAddress', 'unwindInfoAddress', 'version', 'flags', 'sizeOfProlog', 'countOfCodes', 'frameRegister', 'frameOffset', 'handler'];

/** Field paths where `a` and `b` differ, with how many values differ in each. */
function fieldDiffs(a: Ref, b: Ref, into: Map<string, number>): void {
  const add = (k: string): void => void into.set(k, (into.get(k) ?? 0) + 1);
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  for (const k of Object.keys(a) as Array<keyof Ref>) {
    if (k === 'exceptions') {
      if (a.exceptions.length !== b.exceptions.length) add('exceptions.length');
      a.exceptions.forEach((row, i) => {
        const other = b.exceptions[i] ?? [];
        for (let c = 0; c < Math.max(row.length, other.length); c++) if (row[c] !== other[c]) add(`exceptions.${EXCEPTION_COLUMNS[c] ?? c}`);
      });
    } else if (k === 'sections') {
      if (a.sections.length !== b.sections.length) add('sections.length');
      a.sections.forEach((s, i) => {
        for (const f of Object.keys(s) as Array<keyof typeof s>) if (s[f] !== b.sections[i]?.[f]) add(`sections.${f}`);
      });
    } else if (k === 'loadConfig' || k === 'tls' || k === 'codeView') {
      const x = a[k] as Record<string, unknown> | null;
      const y = b[k] as Record<string, unknown> | null;
      if (x === null || y === null) {
        if (x !== y) add(k);
      } else for (const f of Object.keys(x)) if (!same(x[f], y[f])) add(`${k}.${f}`);
    } else if (!same(a[k], b[k])) add(k);
  }
}

/** `ref` without the .pdata columns in `drop` (the fields we do not follow LIEF on). */
function withoutColumns(ref: Ref, drop: readonly string[]): Ref {
  const idx = new Set(drop.filter((d) => d.startsWith('exceptions.')).map((d) => EXCEPTION_COLUMNS.indexOf(d.slice('exceptions.'.length))));
  return { ...ref, exceptions: ref.exceptions.map((row) => row.filter((_, c) => !idx.has(c))) };
}

function compareWithLief(paths: readonly string[]): Map<string, number> {
  const refs = referenceDump(DUMP, paths, pipPackagePath('lief'));
  const diffs = new Map<string, number>();
  eachWithReference(paths, refs, (p, mine, theirs) => {
    fieldDiffs(mine, theirs, diffs);
    // Every field but the known disagreements is equal, value for value.
    expect(withoutColumns(mine, KNOWN_DISAGREEMENTS), p).toEqual(withoutColumns(theirs, KNOWN_DISAGREEMENTS));
  });
  return diffs;
}

const skipTools = missingTools(['pefile', 'lief']);

describe.skipIf(skipTools !== undefined)('parsePe vs LIEF (second reference)', () => {
  it('agrees on every PE file committed under samples/ but for the known disagreements', () => {
    const files = samplePeFiles();
    expect(files.length).toBeGreaterThan(0);
    const diffs = compareWithLief(files);
    expect([...diffs.keys()].filter((k) => !KNOWN_DISAGREEMENTS.includes(k))).toEqual([]);
  });

  const corpus = skipTools === undefined ? realCorpusFiles() : { files: [], missing: 'LIEF missing' };
  it.skipIf(corpus.missing !== undefined)(`agrees on the real corpus (${corpus.files.length} files); disagrees exactly where README says`, () => {
    expect(corpus.files.length).toBeGreaterThanOrEqual(20);
    const diffs = compareWithLief(corpus.files.map((f) => f.path));
    // Each known disagreement really occurs on the corpus (the list is not stale).
    expect([...diffs.keys()].sort()).toEqual([...KNOWN_DISAGREEMENTS].sort());
  }, 300_000);
});
