/**
 * Golden dumps: the full PeFile of the crafted PE32/PE32+ files, and `hotpatch pe --json`
 * (the CLI contract) of a real DLL, compared byte for byte with testdata/golden/. Catches
 * any change in fields the pefile differential test does not cover (unwind codes, handler
 * data, symbols, diagnostics...). Regenerate with UPDATE_GOLDEN=1 and review the diff.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePe } from './parse-pe.ts';
import { fullFile } from './testdata/crafted-cases.ts';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';
import { runHotpatch } from '../../test/support/cli.ts';

const GOLDEN = fileURLToPath(new URL('./testdata/golden/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

function toJson(v: unknown): string {
  return `${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x), 1)}\n`;
}

function compareGolden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (UPDATE || !existsSync(path)) {
    if (!UPDATE) throw new Error(`${name} has no golden file; run with UPDATE_GOLDEN=1 and commit it`);
    writeFileSync(path, text);
    return;
  }
  expect(text === readFileSync(path, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 to accept)`).toBe(true);
}

describe('golden dumps', () => {
  for (const pe32 of [true, false]) {
    it(`crafted ${pe32 ? 'PE32' : 'PE32+'} file: the whole PeFile`, () => {
      const r = parsePe(fullFile(pe32).build());
      if (!r.ok) throw new Error(r.error.message);
      compareGolden(`crafted-${pe32 ? 'pe32' : 'pe32plus'}-full.json`, toJson(r.value));
    });
  }

  const pair = realPairs().find((p) => p.label.startsWith('bufferutil'));
  const file = pair === undefined ? undefined : fetchRealFile(pair.new);
  it.skipIf(!file?.ok)('hotpatch pe --json of bufferutil.node (real MSVC DLL)', () => {
    if (!file?.ok) return;
    const r = runHotpatch(['pe', '--json', file.value], { timeoutMs: 60_000 });
    expect(r.status).toBe(0);
    compareGolden('bufferutil-4.0.9.pe.json', r.stdout);
  });

  it.skipIf(!file?.ok)('bufferutil.node .pdata: the first entries and every chained or handler entry, unwind codes included', () => {
    if (!file?.ok) return;
    const r = parsePe(readFileSync(file.value));
    if (!r.ok) throw new Error(r.error.message);
    const ex = r.value.exceptions;
    const picked = ex.filter((e, i) => i < 20 || e.unwind?.chained != null || e.unwind?.handler != null);
    expect(picked.some((e) => e.unwind?.chained != null)).toBe(true);
    expect(picked.some((e) => e.unwind?.handler != null)).toBe(true);
    compareGolden('bufferutil-4.0.9.pdata.json', toJson(picked));
  });
});
