/**
 * parsePe on deliberately broken headers (each fatal error code with its offset), damaged
 * optional directories (diagnostics, not errors), and the RVA helpers checked against the
 * mapped image.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { asFileOffset, asRva } from '../../common/types.ts';
import { mapImage } from './map-image.ts';
import { fileOffsetToRva, parsePe, parsePeOverview, parsePeParts, readAtRva, rvaToFileOffset, sectionOfRva } from './parse-pe.ts';
import { expectedOverview } from './testing/overview-of.ts';
import { realCorpusFiles, samplePeFiles } from '../../test/support/test-files.ts';

/** A real mingw-w64 DLL (COFF symbols, TLS, .pdata), or a real corpus DLL when samples are absent. */
function someDll(): Uint8Array {
  const p = samplePeFiles().find((f) => !f.includes('stripped')) ?? realCorpusFiles().files[0]?.path;
  if (p === undefined) throw new Error('no PE file available');
  return new Uint8Array(readFileSync(p));
}

const base = someDll();
const dv0 = new DataView(base.buffer, base.byteOffset);
const lfanew = dv0.getUint32(0x3c, true);
const fileHeader = lfanew + 4;
const optional = fileHeader + 20;

function edit(f: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = base.slice();
  f(new DataView(b.buffer), b);
  return b;
}

function errorOf(bytes: Uint8Array): { code: string; offset: number | undefined; message: string } {
  const r = parsePe(bytes);
  if (r.ok) throw new Error('expected an error');
  return { code: r.error.code, offset: r.error.offset, message: r.error.message };
}

describe('parsePe: fatal header errors carry a PE_ code and the file offset', () => {
  it('empty and tiny files are PE_TRUNCATED at 0', () => {
    expect(errorOf(new Uint8Array(0))).toMatchObject({ code: 'PE_TRUNCATED', offset: 0 });
    expect(errorOf(base.slice(0, 63))).toMatchObject({ code: 'PE_TRUNCATED', offset: 0 });
  });
  it('no MZ: PE_BAD_DOS_MAGIC', () => {
    expect(errorOf(edit((dv) => dv.setUint16(0, 0x4d5a, true)))).toMatchObject({ code: 'PE_BAD_DOS_MAGIC', offset: 0 });
  });
  it('e_lfanew past the end: PE_TRUNCATED at 0x3c', () => {
    expect(errorOf(edit((dv) => dv.setUint32(0x3c, 0xffff_fff0, true)))).toMatchObject({ code: 'PE_TRUNCATED', offset: 0x3c });
  });
  it('no PE\\0\\0: PE_BAD_NT_SIGNATURE at e_lfanew', () => {
    expect(errorOf(edit((dv) => dv.setUint8(lfanew + 2, 1)))).toMatchObject({ code: 'PE_BAD_NT_SIGNATURE', offset: lfanew });
  });
  it('unknown optional header magic: PE_BAD_OPTIONAL_MAGIC at the optional header', () => {
    const e = errorOf(edit((dv) => dv.setUint16(optional, 0x999, true)));
    expect(e).toMatchObject({ code: 'PE_BAD_OPTIONAL_MAGIC', offset: optional });
    expect(e.message).toContain('0x999');
  });
  it('SizeOfOptionalHeader too small: PE_BAD_OPTIONAL_HEADER', () => {
    expect(errorOf(edit((dv) => dv.setUint16(fileHeader + 16, 50, true)))).toMatchObject({ code: 'PE_BAD_OPTIONAL_HEADER', offset: fileHeader + 16 });
  });
  it('a section table longer than the file: PE_TRUNCATED', () => {
    expect(errorOf(edit((dv) => dv.setUint16(fileHeader + 2, 0xffff, true))).code).toBe('PE_TRUNCATED');
  });
  it('section raw data past the end of the file: PE_BAD_SECTION at that section header', () => {
    const soh = dv0.getUint16(fileHeader + 16, true);
    const sec2 = optional + soh + 40; // second section header
    const e = errorOf(edit((dv) => dv.setUint32(sec2 + 20, 0x7fff_0000, true)));
    expect(e).toMatchObject({ code: 'PE_BAD_SECTION', offset: sec2 });
    expect(e.message).toMatch(/section 2 raw data .* extends past the end of the file/);
  });
});

describe('parsePe: damaged optional directories are diagnostics (permissive)', () => {
  const pe = parsePe(base);
  if (!pe.ok) throw new Error(pe.error.message);
  const dirs = optional + (pe.value.format === 'PE32+' ? 112 : 96);

  it('an export directory pointing nowhere: exports null, one diagnostic, the rest parsed', () => {
    const r = parsePe(edit((dv) => dv.setUint32(dirs + 0 * 8, 0x7fff_0000, true)));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.exports).toBeNull();
    expect(r.value.diagnostics).toContain('export directory at RVA 0x7fff0000 is not readable');
    expect(r.value.imports).toEqual(pe.value.imports);
    expect(r.value.exceptions.length).toBe(pe.value.exceptions.length);
  });

  it('a broken relocation block: partial relocations, a diagnostic, and mapImage refuses to rebase', () => {
    const reloc = pe.value.dataDirectories[5];
    if (reloc === undefined || reloc.virtualAddress === 0) throw new Error('test DLL has no relocations');
    const off = rvaToFileOffset(pe.value, reloc.virtualAddress);
    if (off === null) throw new Error('relocations not file-backed');
    const broken = edit((dv) => dv.setUint32(off + 4, 3, true)); // SizeOfBlock 3 (< 8)
    const r = parsePe(broken);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.relocations.entries.length).toBe(0);
    expect(r.value.diagnostics.some((d) => d.includes('bad SizeOfBlock 3'))).toBe(true);
    const m = mapImage(broken, r.value.optionalHeader.imageBase + 0x10000n);
    expect(m.ok ? null : m.error.code).toBe('PE_BAD_RELOCATION');
    // At its preferred base nothing needs relocating, so it still maps.
    expect(mapImage(broken, r.value.optionalHeader.imageBase).ok).toBe(true);
  });

  it('an import descriptor with an unreadable DLL name stops the import list with a diagnostic', () => {
    const imp = pe.value.dataDirectories[1];
    if (imp === undefined || imp.virtualAddress === 0) throw new Error('test DLL has no imports');
    const off = rvaToFileOffset(pe.value, imp.virtualAddress);
    if (off === null) throw new Error('imports not file-backed');
    const r = parsePe(edit((dv) => dv.setUint32(off + 12, 0x7fff_0000, true)));
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.imports.filter((d) => !d.delayed)).toEqual([]);
    expect(r.value.diagnostics.some((d) => d.includes('DLL name at RVA 0x7fff0000 is not readable'))).toBe(true);
  });
});

describe('RVA helpers', () => {
  const pe = parsePe(base);
  if (!pe.ok) throw new Error(pe.error.message);
  const v = pe.value;
  const img = mapImage(base, v.optionalHeader.imageBase);
  if (!img.ok) throw new Error(img.error.message);

  it('sectionOfRva and rvaToFileOffset follow the section table', () => {
    for (const s of v.sections) {
      expect(sectionOfRva(v, s.virtualAddress)).toBe(s);
      if (s.sizeOfRawData > 5) expect(rvaToFileOffset(v, asRva(s.virtualAddress + 5))).toBe(s.pointerToRawData + 5);
    }
    expect(rvaToFileOffset(v, asRva(0x3c))).toBe(0x3c);
    // The two directions invert each other on every mapped byte of the file.
    let mapped = 0;
    for (let off = 0; off < base.length; off += 7) {
      const rva = fileOffsetToRva(v, asFileOffset(off));
      if (rva === null) continue;
      mapped++;
      expect(rvaToFileOffset(v, rva)).toBe(off);
    }
    expect(mapped).toBeGreaterThan(base.length / 7 / 4); // a quarter at least: symbols and padding are not mapped
    expect(sectionOfRva(v, asRva(v.optionalHeader.sizeOfImage + 0x1000))).toBeNull();
    expect(rvaToFileOffset(v, asRva(v.optionalHeader.sizeOfImage + 0x1000))).toBeNull();
  });

  it('readAtRva returns exactly the mapped image bytes, zero past raw data, and PE_BAD_RVA outside', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    let read = 0;
    for (let i = 0; i < 2000; i++) {
      const rva = rnd(v.optionalHeader.sizeOfImage);
      const len = rnd(64);
      const r = readAtRva(v, base, asRva(rva), len);
      if (!r.ok) {
        expect(r.error.code).toBe('PE_BAD_RVA');
        continue;
      }
      read++;
      expect(Buffer.from(r.value).equals(Buffer.from(img.value.subarray(rva, rva + len))), `rva 0x${rva.toString(16)}+${len}`).toBe(true);
    }
    expect(read).toBeGreaterThan(300); // mingw sections fill about a third of their pages
    const outside = readAtRva(v, base, asRva(v.optionalHeader.sizeOfImage + 16), 4);
    expect(outside.ok ? null : outside.error.code).toBe('PE_BAD_RVA');
  });
});

describe('parsePeParts', () => {
  it('reads only the parts asked for, and those exactly as parsePe does', () => {
    const full = parsePe(base);
    const some = parsePeParts(base, ['imports', 'exports']);
    if (!full.ok || !some.ok) throw new Error('parse failed');
    expect(some.value.imports).toEqual(full.value.imports);
    expect(some.value.exports).toEqual(full.value.exports);
    expect(some.value.sections).toEqual(full.value.sections);
    expect(some.value.optionalHeader).toEqual(full.value.optionalHeader);
    expect(full.value.exceptions.length).toBeGreaterThan(0);
    expect([some.value.exceptions, some.value.relocations.entries, some.value.symbols, some.value.tls, some.value.codeView]).toEqual([[], [], [], null, null]);
    const none = parsePeParts(base, []);
    expect(none.ok && none.value.imports).toEqual([]);
  });
});

describe('parsePeOverview', () => {
  it('is parsePe with the big tables as counts, on every sample and real corpus file, and on broken ones', () => {
    const paths = [...samplePeFiles(), ...realCorpusFiles().files.map((f) => f.path)];
    expect(paths.length).toBeGreaterThan(20);
    let tables = 0;
    for (const p of paths) {
      const b = new Uint8Array(readFileSync(p));
      const full = parsePe(b);
      expect(parsePeOverview(b), p).toEqual(expectedOverview(full));
      if (full.ok && full.value.symbols.length > 0 && full.value.exceptions.length > 0 && full.value.relocations.entries.length > 0) tables++;
      // Cut inside the section data and inside the headers: the same error or diagnostics.
      for (const cut of [b.length >> 1, 0x100]) expect(parsePeOverview(b.subarray(0, cut)), `${p} cut at ${cut}`).toEqual(expectedOverview(parsePe(b.subarray(0, cut))));
    }
    expect(tables).toBeGreaterThan(0);
  });
});
