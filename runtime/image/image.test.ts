/**
 * The process image model on real sample DLLs: the mapping matches the file section by
 * section, base relocations are applied for the chosen base, imports are bound to
 * deterministic stubs, protections follow the sections, and the address space behaves as
 * Win32 does (64K allocations, ±2 GB first fit, no write without a writable page).
 */
import { describe, expect, it } from 'vitest';
import { asVa } from '../../common/types.ts';
import { parsePe } from '../pe/parse-pe.ts';
import { IMAGE_REL_BASED_DIR64 } from '../pe/types.ts';
import {
  PAGE_EXECUTE_READ,
  PAGE_EXECUTE_READWRITE,
  PAGE_NOACCESS,
  PAGE_READONLY,
  PAGE_READWRITE,
  PAGE_WRITECOPY,
} from '../plan/write-plan.ts';
import { loadSample, sampleBytes } from '../apply/testing/fixtures.ts';
import { AddressSpace } from './address-space.ts';
import { parseModuleView, preferredView } from './module-view.ts';
import { importAtStub, sectionProtection, stubKey } from './process-image.ts';

const bytes = sampleBytes('new-import', 'v1.dll');
const pe = (() => {
  const r = parsePe(bytes);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
})();

describe('process image', () => {
  it('maps each section at its RVA with its raw bytes and a zero-filled tail', () => {
    const { image } = loadSample('new-import', 'v1.dll');
    const mapped = image.space.regionAt(image.base)!;
    expect(mapped.size).toBe(pe.optionalHeader.sizeOfImage);
    const relocated = new Set(pe.relocations.entries.map((e) => e.rva as number));
    const iat = new Set(pe.imports.flatMap((d) => d.symbols.map((s) => s.iatRva as number)));
    for (const s of pe.sections) {
      const raw = Math.min(s.sizeOfRawData, s.virtualSize === 0 ? s.sizeOfRawData : s.virtualSize);
      for (let i = 0; i < raw; i++) {
        const rva = s.virtualAddress + i;
        // Bytes under a relocation or an IAT slot are rewritten by loading; compare the rest.
        let touched = false;
        for (let k = 0; k < 8 && !touched; k++) touched = relocated.has(rva - k) || iat.has(rva - k);
        if (!touched && mapped.bytes[rva] !== bytes[s.pointerToRawData + i]) throw new Error(`${s.name}+${i.toString(16)} differs`);
      }
      for (let i = raw; i < s.virtualSize; i++) expect(mapped.bytes[s.virtualAddress + i]).toBe(0);
    }
  });

  it('applies base relocations for the chosen base: rebased images differ by the delta at each DIR64 site', () => {
    const preferred = loadSample('new-import', 'v1.dll').image;
    const delta = 0x4000_0000n;
    const moved = loadSample('new-import', 'v1.dll', asVa(preferred.base + delta)).image;
    const a = preferred.space.regionAt(preferred.base)!.bytes;
    const b = moved.space.regionAt(moved.base)!.bytes;
    const da = new DataView(a.buffer);
    const db = new DataView(b.buffer);
    const dir64 = pe.relocations.entries.filter((e) => e.type === IMAGE_REL_BASED_DIR64);
    expect(dir64.length).toBeGreaterThan(0);
    for (const e of dir64) expect(db.getBigUint64(e.rva, true) - da.getBigUint64(e.rva, true)).toBe(delta);
    // And un-relocating the moved image gives back the preferred one (what identity hashes use).
    const va = parseModuleView(preferred.base, a);
    const vb = parseModuleView(moved.base, b);
    if (!va.ok || !vb.ok) throw new Error('view');
    expect(Buffer.compare(preferredView(vb.value, preferred.base), preferredView(va.value, preferred.base))).toBe(0);
  });

  it('binds every import to a deterministic stub, IAT slots holding the stub addresses', () => {
    const one = loadSample('new-import', 'v1.dll').image;
    const two = loadSample('new-import', 'v1.dll').image;
    const dv = new DataView(one.space.regionAt(one.base)!.bytes.buffer);
    const seen = new Set<bigint>();
    for (const d of pe.imports) {
      for (const s of d.symbols) {
        const slot = dv.getBigUint64(s.iatRva, true);
        expect(slot).toBe(one.stubs.get(stubKey(d.dll, s.name, s.ordinal)));
        expect(importAtStub(one, asVa(slot))).toBe(stubKey(d.dll, s.name, s.ordinal));
        seen.add(slot);
      }
    }
    expect(seen.size).toBe(one.stubs.size);
    expect([...two.stubs.entries()]).toEqual([...one.stubs.entries()]);
    // Stubs are int3 and not writable; the stub region is within rel32 reach of the image.
    const stub = [...seen][0]!;
    expect(one.space.read(asVa(stub), 1)).toEqual({ ok: true, value: new Uint8Array([0xcc]) });
    expect(one.stubRegion - one.base).toBeLessThan(0x8000_0000n);
  });

  it('protects pages from section characteristics and refuses writes to code until protection changes', () => {
    const { image } = loadSample('new-import', 'v1.dll');
    const text = pe.sections.find((s) => s.name === '.text')!;
    const data = pe.sections.find((s) => s.name === '.data')!;
    const rdata = pe.sections.find((s) => s.name === '.rdata')!;
    const at = (rva: number) => asVa(image.base + BigInt(rva));
    expect(image.space.query(image.base, 1)).toMatchObject({ value: [{ protection: PAGE_READONLY }] });
    expect(image.space.query(at(text.virtualAddress), 1)).toMatchObject({ value: [{ protection: PAGE_EXECUTE_READ }] });
    expect(image.space.query(at(data.virtualAddress), 1)).toMatchObject({ value: [{ protection: PAGE_WRITECOPY }] });
    expect(image.space.query(at(rdata.virtualAddress), 1)).toMatchObject({ value: [{ protection: PAGE_READONLY }] });
    expect(sectionProtection(text.characteristics)).toBe(PAGE_EXECUTE_READ);

    const w = image.space.write(at(text.virtualAddress), new Uint8Array([0x90]));
    expect(w.ok).toBe(false);
    if (!w.ok) expect(w.error.code).toBe('APPLY_ACCESS');
    const old = image.space.protect(at(text.virtualAddress), 1, PAGE_EXECUTE_READWRITE);
    expect(old).toMatchObject({ ok: true, value: [{ protection: PAGE_EXECUTE_READ, size: 0x1000 }] });
    expect(image.space.write(at(text.virtualAddress), new Uint8Array([0x90])).ok).toBe(true);
    // A copy-on-write data page becomes a private read-write page on its first write, as on Windows.
    expect(image.space.write(at(data.virtualAddress), new Uint8Array([1])).ok).toBe(true);
    expect(image.space.query(at(data.virtualAddress), 1)).toMatchObject({ value: [{ protection: PAGE_READWRITE }] });
  });
});

describe('address space', () => {
  it('allocates at 64K granularity, page-rounded, refusing overlaps and unaligned bases', () => {
    const s = new AddressSpace();
    expect(s.allocate(asVa(0x1_0000_0000n), 10, PAGE_READWRITE)).toMatchObject({ ok: true, value: { size: 0x1000 } });
    expect(s.allocate(asVa(0x1_0000_0000n), 10, PAGE_READWRITE)).toMatchObject({ ok: false, error: { code: 'APPLY_ALLOCATE' } });
    expect(s.allocate(asVa(0x1_0000_1000n), 10, PAGE_READWRITE)).toMatchObject({ ok: false, error: { code: 'APPLY_ALLOCATE' } });
    expect(s.free(asVa(0x1_0000_0000n)).ok).toBe(true);
    expect(s.list()).toHaveLength(0);
  });

  it('finds the first free 64K-aligned range above, then below, within rel32 reach of the whole image', () => {
    const s = new AddressSpace();
    const base = asVa(0x1_8000_0000n);
    s.allocate(base, 0x3_0000, PAGE_READONLY, 'image');
    s.allocate(asVa(base + 0x3_0000n), 0x1_0000, PAGE_READONLY);
    expect(s.findFree({ start: base, size: 0x3_0000 }, 0x2000)).toEqual({ ok: true, value: base + 0x4_0000n });
    // Fill everything above within reach: the search goes below.
    s.allocate(asVa(base + 0x4_0000n), 0x8000_0000 - 0x4_0000, PAGE_NOACCESS);
    const below = s.findFree({ start: base, size: 0x3_0000 }, 0x2000);
    expect(below).toEqual({ ok: true, value: base - 0x1_0000n });
    // A region too large to sit within ±2 GB of the image is refused.
    expect(s.findFree({ start: base, size: 0x3_0000 }, 0x8000_0000)).toMatchObject({ ok: false, error: { code: 'PLAN_NO_REGION' } });
  });

  it('reads need readable pages; no-access pages refuse', () => {
    const s = new AddressSpace();
    s.allocate(asVa(0x2_0000_0000n), 0x2000, PAGE_NOACCESS);
    expect(s.read(asVa(0x2_0000_0000n), 4)).toMatchObject({ ok: false, error: { code: 'APPLY_ACCESS' } });
    expect(s.read(asVa(0x2_0001_0000n), 4)).toMatchObject({ ok: false, error: { code: 'APPLY_UNMAPPED' } });
  });
});

describe('module view of a damaged mapped image', () => {
  it('never throws: every damaged header or directory is a PLAN_IMAGE error or a partial view (seeded, 2,000 cases)', () => {
    const { image } = loadSample('new-import', 'v1.dll');
    const pristine = image.space.regionAt(image.base)!.bytes;
    let a = 0x1234_5678;
    const rand = (): number => {
      a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return a / 2 ** 32;
    };
    // Bytes the parser reads: headers, the import, relocation and debug directories.
    const hot = [0x3c, 0x80, 0xa0, 0x100, 0x180, ...pe.dataDirectories.flatMap((d) => [d.virtualAddress as number, (d.virtualAddress as number) + 12, (d.virtualAddress as number) + 16])].filter((x) => x > 0 && x < pristine.length);
    const codes = new Map<string, number>();
    for (let n = 0; n < 2000; n++) {
      const bytes = pristine.slice();
      for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) {
        const at = rand() < 0.7 ? hot[Math.floor(rand() * hot.length)]! + Math.floor(rand() * 24) : Math.floor(rand() * bytes.length);
        bytes[at] = rand() < 0.5 ? 0xff : Math.floor(rand() * 256);
      }
      let r;
      try {
        r = parseModuleView(image.base, bytes);
      } catch (e) {
        throw new Error(`case ${n} threw: ${String(e)}`);
      }
      const key = r.ok ? 'ok' : r.error.code;
      if (!r.ok) expect(r.error.message.includes('\n')).toBe(false);
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    expect([...codes.keys()].sort()).toEqual(['PLAN_IMAGE', 'ok']);
  });
});
