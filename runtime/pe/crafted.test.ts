/**
 * The crafted corpus (testdata/crafted-cases.ts): odd and malformed PE files, each with the
 * outcome the parser must reach. testdata/known-failures.json lists the cases it still gets
 * wrong; the list can only shrink: a listed case that starts passing fails this test until
 * it is removed from the list. The well-formed crafted files are also compared with
 * python3-pefile.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { asRva } from '../../common/types.ts';
import { missingTools } from '../../test/support/tools.ts';
import { mapImage } from './map-image.ts';
import { parsePe, readAtRva, sectionOfRva } from './parse-pe.ts';
import { compareAll } from './testing/pefile-reference.ts';
import { CASES, fullFile } from './testdata/crafted-cases.ts';
import type { PeFile } from './types.ts';

const KNOWN_FAILURES = JSON.parse(readFileSync(new URL('./testdata/known-failures.json', import.meta.url), 'utf8')) as string[];

function parsed(bytes: Uint8Array): PeFile {
  const r = parsePe(bytes);
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

function expectFull(pe32: boolean, bytes: Uint8Array): void {
  const c = fullFile(pe32);
  const pe = parsed(bytes);
  const ps = pe32 ? 4 : 8;
  const d = (o: number): number => c.rva(2, o);
  const t = (o: number): number => c.rva(0, o);
  expect(pe.format).toBe(pe32 ? 'PE32' : 'PE32+');
  expect(pe.diagnostics).toEqual([]);
  const imports = pe.imports.map((i) => ({ dll: i.dll, delayed: i.delayed, symbols: i.symbols.map((s) => [s.name, s.ordinal, s.iatRva]) }));
  expect(imports).toEqual([
    { dll: 'KERNEL32.dll', delayed: false, symbols: [['FuncA', null, d(0x100)], [null, 5, d(0x100 + ps)]] },
    { dll: 'USER32.dll', delayed: false, symbols: [['FuncB', null, d(0x180)]] },
    { dll: 'DELAYED.dll', delayed: true, symbols: [['LateFunc', null, d(0x60)], [null, 7, d(0x60 + ps)]] },
  ]);
  expect(pe.exports?.dllName).toBe('crafted.dll');
  expect(pe.exports?.entries).toEqual([
    { name: 'alpha', ordinal: 10, rva: t(0x10), forwarder: null },
    { name: 'fwd', ordinal: 12, rva: c.rva(1, 0x280), forwarder: 'KERNEL32.GetTickCount' },
    { name: null, ordinal: 11, rva: t(0x20), forwarder: null },
  ]);
  expect(pe.codeView).toEqual({ guid: '12345678-9ABC-DEF0-0102-030405060708', age: 3, path: 'C:\\build\\crafted.pdb' });
  expect(pe.tls?.callbacks).toEqual([c.va(t(0x30)), c.va(t(0x40))]);
  expect(pe.loadConfig).toMatchObject({
    securityCookie: c.va(d(0x20)),
    guardCfFunctionCount: 3n,
    guardFlags: 0x100,
    guardCfFunctions: [t(0x10), t(0x20), t(0x30)],
  });
  expect(pe.relocations).toEqual({ blocks: 1, entries: [{ rva: t(0x50), type: pe32 ? 3 : 10 }, { rva: t(0x60), type: pe32 ? 3 : 10 }] });
  const delta = 0x10_0000n;
  const m = mapImage(bytes, c.imageBase + delta);
  if (!m.ok) throw new Error(m.error.message);
  const dv = new DataView(m.value.buffer);
  const slot = pe32 ? BigInt(dv.getUint32(t(0x50), true)) : dv.getBigUint64(t(0x50), true);
  expect(slot).toBe(c.va(t(0x10)) + delta);
}

const CHECKS: Record<string, (bytes: Uint8Array) => void> = {
  'pe32-full': (b) => expectFull(true, b),
  'pe32plus-full': (b) => expectFull(false, b),
  'unwind-chain-cycle': (b) => {
    const pe = parsed(b);
    expect(pe.exceptions).toHaveLength(1);
    let depth = 0;
    for (let u = pe.exceptions[0]?.unwind ?? null; u?.chained != null; u = u.chained.unwind) depth++;
    expect(depth).toBe(32);
    expect(pe.diagnostics.some((x) => x.includes('chain deeper than 32'))).toBe(true);
  },
  'no-directories': (b) => {
    const pe = parsed(b);
    expect([pe.imports, pe.exports, pe.tls, pe.loadConfig, pe.relocations.entries]).toEqual([[], null, null, null, []]);
    expect(pe.dataDirectories.every((d) => d.virtualAddress === 0)).toBe(true);
  },
  'rva-and-sizes-huge': (b) => {
    const pe = parsed(b);
    expect(pe.imports).toHaveLength(3);
    expect(pe.diagnostics).toEqual(['NumberOfRvaAndSizes is 4096; only the first 16 directories are read']);
  },
  'zero-sections': (b) => {
    const pe = parsed(b);
    expect(pe.sections).toEqual([]);
    const m = mapImage(b, pe.optionalHeader.imageBase);
    expect(m.ok && m.value.length).toBe(0x1000);
  },
  'vsize-zero': (b) => {
    const pe = parsed(b);
    const r = readAtRva(pe, b, asRva(0x11ff), 1);
    expect(r.ok && r.value[0]).toBe(0xcc);
    expect(sectionOfRva(pe, asRva(0x1200))).toBeNull();
  },
  'import-unterminated': (b) => {
    const pe = parsed(b);
    expect(pe.imports.map((i) => i.dll)).toEqual(Array<string>(12).fill('X.dll'));
    expect(pe.diagnostics).toContain('import directory: no terminating null descriptor');
  },
  'reloc-highadj': (b) => {
    const pe = parsed(b);
    expect(pe.relocations.entries).toEqual([{ rva: 0x1010, type: 4 }]);
    expect(mapImage(b, pe.optionalHeader.imageBase).ok).toBe(true);
    const m = mapImage(b, pe.optionalHeader.imageBase + 0x10000n);
    expect(m.ok ? null : m.error.code).toBe('PE_BAD_RELOCATION');
  },
  'load-config-size-huge': (b) => {
    const pe = parsed(b);
    expect(pe.loadConfig?.size).toBe(0xffff_ffff);
    expect(pe.loadConfig?.guardCfFunctions).toHaveLength(3);
    expect(pe.diagnostics.some((x) => x.startsWith('load config directory: Size 4294967295 but'))).toBe(true);
  },
  'tls-callbacks-unterminated': (b) => {
    const pe = parsed(b);
    expect(pe.tls?.callbacks).toHaveLength(32);
    expect(pe.diagnostics).toContain('TLS callback array has no terminating zero');
  },
  'symbols-count-huge': (b) => {
    const pe = parsed(b);
    expect(pe.symbols.map((s) => s.name)).toEqual(['_main', '', '']);
    expect(pe.diagnostics).toContain('COFF symbol table: 2147483647 symbols declared, 3 readable');
  },
  'long-section-name': (b) => {
    expect(parsed(b).sections.map((s) => s.name)).toEqual(['.text$very_long_name', '/99999']);
  },
  'export-count-huge': (b) => {
    const pe = parsed(b);
    expect(pe.exports?.entries.length ?? 0).toBeLessThan(b.length / 4);
    expect(pe.diagnostics.some((x) => x.startsWith('export function table: 4294967295 entries declared'))).toBe(true);
  },
  'many-sections': (b) => {
    const pe = parsed(b);
    expect(pe.sections).toHaveLength(20_001);
    expect(pe.exceptions).toHaveLength(100_000);
    expect(pe.exceptions.every((e) => e.unwind !== null && e.unwind.countOfCodes === 0)).toBe(true);
    expect(pe.diagnostics).toEqual([]);
  },
  'raw-pointer-unaligned': (b) => {
    const pe = parsed(b);
    const m = mapImage(b, pe.optionalHeader.imageBase);
    expect(m.ok && m.value[0x1000]).toBe(0xcc);
    const r = readAtRva(pe, b, asRva(0x1000), 2);
    expect(r.ok && [...r.value]).toEqual([0xcc, 0x90]);
  },
};

describe('crafted corpus', () => {
  it('every case has a check and every known failure names a case', () => {
    expect(CASES.map((c) => c.name).sort()).toEqual(Object.keys(CHECKS).sort());
    for (const k of KNOWN_FAILURES) expect(CHECKS[k], k).toBeDefined();
  });

  for (const c of CASES) {
    const known = KNOWN_FAILURES.includes(c.name);
    it(`${c.name}: ${c.why}${known ? ' (known failure)' : ''}`, () => {
      const bytes = c.build();
      const check = CHECKS[c.name];
      if (check === undefined) throw new Error(`no check for ${c.name}`);
      if (!known) {
        check(bytes);
        return;
      }
      let passed = true;
      try {
        check(bytes);
      } catch {
        passed = false;
      }
      if (passed) throw new Error(`${c.name} passes now: remove it from testdata/known-failures.json`);
    });
  }
});

const skipTools = missingTools(['pefile']);
describe.skipIf(skipTools !== undefined)('crafted corpus vs python3-pefile', () => {
  it('the well-formed crafted files read the same in pefile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotpatch-crafted-'));
    const paths = CASES.filter((c) => c.pefile === true).map((c) => {
      const p = join(dir, `${c.name}.dll`);
      writeFileSync(p, c.build());
      return p;
    });
    expect(paths.length).toBeGreaterThanOrEqual(2);
    compareAll(paths);
  });
});
