/**
 * mapImage against python3-pefile's mapped and relocated image (section by section), and
 * sha256 against node:crypto.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingTools, PEFILE_PYTHON } from '../../test/support/tools.ts';
import { mapImage, mapImageLenient } from './map-image.ts';
import { parsePe } from './parse-pe.ts';
import { sha256, toHex } from './sha256.ts';
import { realCorpusFiles, samplePeFiles } from '../../test/support/test-files.ts';
import { PeCraft, SCN_CODE } from './testdata/craft-pe.ts';

const MAP_PY = fileURLToPath(new URL('./pefile-map.py', import.meta.url));
const skipTools = missingTools(['pefile']);
const tmp = mkdtempSync(join(tmpdir(), 'hotpatch-map-'));

function pefileMap(file: string, base: bigint): Uint8Array {
  const out = join(tmp, `ref-${Math.random().toString(36).slice(2)}.bin`);
  const r = spawnSync(PEFILE_PYTHON, [MAP_PY, file, `0x${base.toString(16)}`, out], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`pefile-map.py: ${r.stderr}`);
  return new Uint8Array(readFileSync(out));
}

describe.skipIf(skipTools !== undefined)('mapImage vs python3-pefile', () => {
  const corpus = skipTools === undefined ? realCorpusFiles() : { files: [], missing: 'pefile missing' };
  const files = [
    ...samplePeFiles().filter((p) => !p.includes('stripped')).slice(0, 2),
    ...corpus.files.filter((f) => /bufferutil@4\.0\.9|crc32-win32-x64-msvc@1\.10\.4|7zip-bin@5\.2\.0/.test(f.path)).map((f) => f.path),
  ];

  it.each(files)('maps %s like the loader, at its ImageBase and rebased', (file) => {
    const bytes = new Uint8Array(readFileSync(file));
    const pe = parsePe(bytes);
    if (!pe.ok) throw new Error(pe.error.message);
    const { imageBase, sizeOfImage, sizeOfHeaders } = pe.value.optionalHeader;
    for (const base of [imageBase, 0x7ff6_1234_0000n]) {
      const m = mapImage(bytes, base);
      if (!m.ok) throw new Error(`${m.error.code}: ${m.error.message}`);
      const img = m.value;
      const ref = pefileMap(file, base);
      expect(img.length).toBe(sizeOfImage);
      for (const s of pe.value.sections) {
        const size = s.virtualSize === 0 ? s.sizeOfRawData : s.virtualSize;
        const want = ref.subarray(s.virtualAddress, s.virtualAddress + size);
        const got = img.subarray(s.virtualAddress, s.virtualAddress + size);
        // pefile stops at the last byte it has; the rest of the section is zero in both.
        expect(Buffer.from(got.subarray(0, want.length)).equals(Buffer.from(want)), `${s.name} at ${base.toString(16)}`).toBe(true);
        expect(got.subarray(want.length).every((b) => b === 0)).toBe(true);
      }
      // Headers are the file's, except OptionalHeader.ImageBase, which names the new base.
      const dv = new DataView(img.buffer, img.byteOffset);
      const lfanew = dv.getUint32(0x3c, true);
      expect(dv.getBigUint64(lfanew + 24 + 24, true)).toBe(base);
      const hdr = img.slice(0, sizeOfHeaders);
      new DataView(hdr.buffer).setBigUint64(lfanew + 24 + 24, imageBase, true);
      expect(Buffer.from(hdr).equals(Buffer.from(bytes.subarray(0, sizeOfHeaders)))).toBe(true);
      if (base !== imageBase) {
        // The rebase really changed every DIR64 slot by the delta.
        const at = mapImage(bytes, imageBase);
        if (!at.ok) throw new Error(at.error.message);
        const a = new DataView(at.value.buffer);
        const delta = base - imageBase;
        const dir64 = pe.value.relocations.entries.filter((e) => e.type === 10);
        expect(dir64.length).toBeGreaterThan(0);
        for (const e of dir64) expect(dv.getBigUint64(e.rva, true)).toBe(BigInt.asUintN(64, a.getBigUint64(e.rva, true) + delta));
      }
    }
  }, 120_000);

  it('refuses what cannot be mapped with PE_ errors', () => {
    const file = files[0];
    if (file === undefined) throw new Error('no PE file to test with');
    const bytes = new Uint8Array(readFileSync(file));
    const pe = parsePe(bytes);
    if (!pe.ok) throw new Error(pe.error.message);
    const lfanew = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0x3c, true);
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(lfanew + 24 + 56, 0x8000_0000, true); // SizeOfImage 2 GiB
    const r1 = mapImage(huge, pe.value.optionalHeader.imageBase);
    // The sections justify far less: refused before the 1 GiB mapping limit is even reached.
    expect(r1.ok ? null : r1.error.code).toBe('PE_SIZE_OF_IMAGE');
    const small = bytes.slice();
    new DataView(small.buffer).setUint32(lfanew + 24 + 56, 0x1000, true); // sections beyond SizeOfImage
    const r2 = mapImage(small, pe.value.optionalHeader.imageBase);
    expect(r2.ok ? null : r2.error.code).toBe('PE_BAD_SECTION');
    const r3 = mapImage(new Uint8Array(10), 0n);
    expect(r3.ok ? null : r3.error.code).toBe('PE_TRUNCATED');
  });
});

describe('sha256', () => {
  it('equals node:crypto on edge lengths, random data and a real file', () => {
    const inputs: Uint8Array[] = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000].map((n) => new Uint8Array(randomBytes(n)));
    inputs.push(new Uint8Array(randomBytes(1 << 20)));
    const some = samplePeFiles()[0];
    if (some !== undefined) inputs.push(new Uint8Array(readFileSync(some)));
    for (const b of inputs) expect(toHex(sha256(b)), `length ${b.length}`).toBe(createHash('sha256').update(b).digest('hex'));
    expect(toHex(sha256(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('mapImage refuses overlapping sections', () => {
  it('two sections at the same RVA: PE_BAD_SECTION at the section table', () => {
    const c = new PeCraft({ pe32: false, sections: [{ name: '.a', characteristics: SCN_CODE }, { name: '.b', characteristics: SCN_CODE }] });
    const b = c.build();
    const secTable = 0x40 + 4 + 20 + 240;
    new DataView(b.buffer).setUint32(secTable + 40 + 12, 0x1000, true); // .b at .a's RVA
    new DataView(b.buffer).setUint32(0x40 + 4 + 20 + 56, 0x2000, true); // SizeOfImage as the sections now need
    const pe = parsePe(b);
    expect(pe.ok).toBe(true); // parsing still works (first match wins for lookups)
    const m = mapImage(b, 0x1_8000_0000n);
    expect(m.ok ? null : m.error).toEqual({ code: 'PE_BAD_SECTION', message: 'sections overlap in memory', offset: secTable });
  });
});

describe('mapImageLenient (the compiler\'s mapping)', () => {
  it('equals mapImage at the file\'s own ImageBase on the samples and real files', () => {
    const corpus = realCorpusFiles();
    const files = [...samplePeFiles().slice(0, 6), ...corpus.files.slice(0, 4).map((f) => f.path)];
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(file));
      const pe = parsePe(bytes);
      if (!pe.ok) throw new Error(pe.error.message);
      const strict = mapImage(bytes, pe.value.optionalHeader.imageBase);
      const lenient = mapImageLenient(bytes);
      if (!strict.ok || !lenient.ok) throw new Error(`${file}: ${strict.ok ? '' : strict.error.code} ${lenient.ok ? '' : lenient.error.code}`);
      expect(Buffer.from(lenient.value).equals(Buffer.from(strict.value)), file).toBe(true);
    }
  });

  it('lays overlapping sections in section-table order (the later one wins) where mapImage refuses', () => {
    const c = new PeCraft({ pe32: false, sections: [{ name: '.a', characteristics: SCN_CODE }, { name: '.b', characteristics: SCN_CODE }] });
    c.sections[0]!.data.fill(0xaa);
    c.sections[1]!.data.fill(0xbb, 0, 0x800);
    const b = c.build();
    const secTable = 0x40 + 4 + 20 + 240;
    new DataView(b.buffer).setUint32(secTable + 40 + 12, 0x1000, true); // .b at .a's RVA
    new DataView(b.buffer).setUint32(0x40 + 4 + 20 + 56, 0x2000, true);
    expect(mapImage(b, 0x1_8000_0000n).ok).toBe(false);
    const m = mapImageLenient(b);
    if (!m.ok) throw new Error(m.error.message);
    expect(m.value.length).toBe(0x2000);
    expect([m.value[0x1000], m.value[0x17ff], m.value[0x1800], m.value[0x1fff]]).toEqual([0xbb, 0xbb, 0, 0]);
  });

  it('never reads base relocations: a damaged directory refuses a rebase, not the lenient map', () => {
    const c = new PeCraft({ pe32: false, sections: [{ name: '.text', characteristics: SCN_CODE }] });
    c.dirs[5] = [0x1000, 12];
    c.sections[0]!.data.set([0x00, 0x10, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00], 0); // a block claiming 3 bytes
    const b = c.build();
    const rebased = mapImage(b, c.imageBase + 0x10000n);
    expect(rebased.ok ? 'ok' : rebased.error.code).toBe('PE_BAD_RELOCATION');
    const m = mapImageLenient(b);
    if (!m.ok) throw new Error(m.error.message);
    expect(m.value.length).toBe(0x2000);
    expect([...m.value.subarray(0x1000, 0x1008)]).toEqual([0x00, 0x10, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]);
  });

  it('keeps the strict refusals of a section past SizeOfImage and of a header error', () => {
    const c = new PeCraft({ pe32: false, sections: [{ name: '.text', characteristics: SCN_CODE, pages: 2 }] });
    const b = c.build();
    new DataView(b.buffer).setUint32(0x40 + 4 + 20 + 56, 0x2000, true); // SizeOfImage one page short
    const m = mapImageLenient(b);
    expect(m.ok ? 'ok' : m.error.code).toBe('PE_BAD_SECTION');
    const t = mapImageLenient(new Uint8Array(10));
    expect(t.ok ? 'ok' : t.error.code).toBe('PE_TRUNCATED');
  });
});
