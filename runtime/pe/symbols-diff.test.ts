/**
 * COFF symbol table against binutils (`x86_64-w64-mingw32-objdump -t`), which python3-pefile
 * does not read: index, section number, type, storage class, aux count, value and name of
 * every symbol of every mingw-built DLL under samples/ that keeps its symbols; and the long
 * (`/N`) section names of a DLL built with -g against `objdump -h`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { missingTools } from '../../test/support/tools.ts';
import { parsePe } from './parse-pe.ts';
import { samplePeFiles } from '../../test/support/test-files.ts';

const skip = missingTools(['mingw']);
const LINE = /^\[\s*(\d+)\]\(sec\s+(-?\d+)\)\(fl 0x[0-9a-f]+\)\(ty\s+([0-9a-f]+)\)\(scl\s+(\d+)\) \(nx (\d+)\) 0x([0-9a-f]+) (.*)$/;

function objdumpSymbols(file: string): Array<[number, number, number, number, number, number, string]> {
  const r = spawnSync('x86_64-w64-mingw32-objdump', ['-t', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`objdump -t ${file}: ${r.stderr}`);
  const out: Array<[number, number, number, number, number, number, string]> = [];
  for (const line of r.stdout.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    out.push([Number(m[1]), Number(m[2]), parseInt(m[3] ?? '0', 16), Number(m[4]), Number(m[5]), Number.parseInt(m[6] ?? '0', 16), m[7] ?? '']);
  }
  return out;
}

describe.skipIf(skip !== undefined)('COFF symbols vs objdump -t', () => {
  const files = samplePeFiles().filter((f) => !f.includes('stripped'));
  it.skipIf(files.length === 0)(`agree on the samples' symbol tables (${files.length} files)`, () => {
    let total = 0;
    for (const f of files) {
      const pe = parsePe(readFileSync(f));
      if (!pe.ok) throw new Error(`${f}: ${pe.error.message}`);
      const ours = pe.value.symbols.map((s) => [s.index, s.sectionNumber, s.type, s.storageClass, s.numberOfAuxSymbols, s.value, s.name]);
      const ref = objdumpSymbols(f);
      expect(ours, f).toEqual(ref);
      total += ref.length;
    }
    expect(total).toBeGreaterThan(1000);
  });
});

describe.skipIf(skip !== undefined)('long section names vs objdump -h', () => {
  it('resolves /N names of a -g build through the string table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotpatch-longnames-'));
    writeFileSync(join(dir, 'lib.c'), '__declspec(dllexport) int twice(int x) { return 2 * x; }\n');
    const dll = join(dir, 'lib.dll');
    const cc = spawnSync('x86_64-w64-mingw32-gcc', ['-g', '-O1', '-shared', '-o', dll, join(dir, 'lib.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    const r = spawnSync('x86_64-w64-mingw32-objdump', ['-h', dll], { encoding: 'utf8' });
    const names = r.stdout.split('\n').map((l) => /^\s*\d+ (\S+)/.exec(l)?.[1]).filter((n): n is string => n !== undefined);
    const pe = parsePe(readFileSync(dll));
    if (!pe.ok) throw new Error(pe.error.message);
    expect(names.some((n) => n.length > 8)).toBe(true);
    expect(pe.value.sections.map((s) => s.name)).toEqual(names);
  });
});
