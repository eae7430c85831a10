/**
 * COFF symbol table against binutils (`x86_64-w64-mingw32-objdump -t`), which python3-pefile
 * does not read: index, section number, type, storage class, aux count, value and name of
 * every symbol of every mingw-built DLL under samples/ that keeps its symbols.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { missingTools } from '../../test/support/tools.ts';
import { parsePe } from './parse-pe.ts';
import { samplePeFiles } from './test-files.ts';

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
