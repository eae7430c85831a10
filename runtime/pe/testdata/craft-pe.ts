/**
 * A tiny PE writer for tests: lays out headers and sections, and lets a test write the
 * structures it wants (import descriptors, delay-load descriptors, unwind chains, ...) at
 * chosen RVAs. It writes exactly what it is told, so it can build odd and broken files that
 * no linker produces (PE32 with VA-based delay imports, cyclic unwind chains, ...).
 *
 * Layout: DOS header with e_lfanew 0x40, NT headers, section table, SizeOfHeaders 0x400;
 * section i at RVA 0x1000 * (i + 1) (one page each unless `pages` says more), raw data
 * 0x200-aligned right after the headers.
 */

/** One section of a crafted file. */
export interface CraftSectionSpec {
  readonly name: string;
  readonly characteristics: number;
  /** Pages of memory (default 1). */
  readonly pages?: number;
  /** Raw bytes in the file (default: the whole memory size). */
  readonly rawSize?: number;
  /** VirtualSize (default: the memory size). */
  readonly virtualSize?: number;
}

/** What a crafted file is. */
export interface CraftOptions {
  readonly pe32: boolean;
  readonly machine?: number;
  readonly imageBase?: bigint;
  readonly sections: readonly CraftSectionSpec[];
  /** FileHeader.Characteristics (default DLL | executable | large address aware). */
  readonly characteristics?: number;
}

/** Section characteristics used by the cases. */
export const SCN_CODE = 0x6000_0020; // code | execute | read
export const SCN_RDATA = 0x4000_0040; // initialized data | read
export const SCN_DATA = 0xc000_0040; // initialized data | read | write

/** A PE being crafted; see the module comment for the layout. */
export class PeCraft {
  readonly pe32: boolean;
  readonly imageBase: bigint;
  readonly machine: number;
  readonly characteristics: number;
  readonly sections: Array<{ spec: CraftSectionSpec; rva: number; memSize: number; data: Uint8Array }>;
  readonly dirs: Array<[number, number]> = Array.from({ length: 16 }, (): [number, number] => [0, 0]);
  numberOfRvaAndSizes = 16;
  pointerToSymbolTable = 0;
  numberOfSymbols = 0;
  /** Bytes appended after the last section (COFF symbols, string table, overlay). */
  tail: Uint8Array = new Uint8Array(0);
  entryPoint = 0;

  constructor(o: CraftOptions) {
    this.pe32 = o.pe32;
    this.imageBase = o.imageBase ?? (o.pe32 ? 0x1000_0000n : 0x1_8000_0000n);
    this.machine = o.machine ?? (o.pe32 ? 0x14c : 0x8664);
    this.characteristics = o.characteristics ?? 0x2022 | (o.pe32 ? 0x100 : 0);
    let rva = 0x1000;
    this.sections = o.sections.map((spec) => {
      const memSize = (spec.pages ?? 1) * 0x1000;
      const s = { spec, rva, memSize, data: new Uint8Array(memSize) };
      rva += memSize;
      return s;
    });
  }

  /** SizeOfImage: the end of the last section. */
  get sizeOfImage(): number {
    const last = this.sections[this.sections.length - 1];
    return last === undefined ? 0x1000 : last.rva + last.memSize;
  }

  /** RVA of `offset` inside section `i`. */
  rva(i: number, offset = 0): number {
    const s = this.sections[i];
    if (s === undefined) throw new Error(`no section ${i}`);
    return s.rva + offset;
  }

  /** VA for the preferred ImageBase. */
  va(rva: number): bigint {
    return this.imageBase + BigInt(rva);
  }

  private at(rva: number, len: number): DataView {
    for (const s of this.sections) {
      if (rva >= s.rva && rva + len <= s.rva + s.memSize) return new DataView(s.data.buffer, rva - s.rva, len);
    }
    throw new Error(`RVA 0x${rva.toString(16)} is in no section`);
  }

  /** Writes a u8 at `rva` (likewise u16/u32/u64, little-endian). */
  u8(rva: number, v: number): this {
    this.at(rva, 1).setUint8(0, v);
    return this;
  }
  u16(rva: number, v: number): this {
    this.at(rva, 2).setUint16(0, v, true);
    return this;
  }
  u32(rva: number, v: number): this {
    this.at(rva, 4).setUint32(0, v >>> 0, true);
    return this;
  }
  u64(rva: number, v: bigint): this {
    this.at(rva, 8).setBigUint64(0, v, true);
    return this;
  }
  /** A pointer-sized value (u32 in PE32, u64 in PE32+). */
  ptr(rva: number, v: bigint): this {
    return this.pe32 ? this.u32(rva, Number(v)) : this.u64(rva, v);
  }
  /** NUL-terminated string. */
  str(rva: number, s: string): this {
    for (let i = 0; i < s.length; i++) this.u8(rva + i, s.charCodeAt(i));
    return this.u8(rva + s.length, 0);
  }
  /** Sets data directory `index`. */
  dir(index: number, rva: number, size: number): this {
    this.dirs[index] = [rva, size];
    return this;
  }

  /** The file bytes. */
  build(): Uint8Array {
    const ohSize = this.pe32 ? 96 + 128 : 112 + 128;
    const secTable = 0x40 + 4 + 20 + ohSize;
    const headers = 0x400;
    if (secTable + this.sections.length * 40 > headers) throw new Error('too many sections for 0x400 of headers');
    let raw = headers;
    const rawPtrs = this.sections.map((s) => {
      const size = s.spec.rawSize ?? s.memSize;
      const p = size === 0 ? 0 : raw;
      raw += Math.ceil(size / 0x200) * 0x200;
      return p;
    });
    const tailAt = raw;
    const out = new Uint8Array(raw + this.tail.length);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0x5a4d, true);
    dv.setUint32(0x3c, 0x40, true);
    dv.setUint32(0x40, 0x4550, true);
    const fh = 0x44;
    dv.setUint16(fh, this.machine, true);
    dv.setUint16(fh + 2, this.sections.length, true);
    dv.setUint32(fh + 4, 0x5f00_0000, true);
    dv.setUint32(fh + 8, this.pointerToSymbolTable === -1 ? tailAt : this.pointerToSymbolTable, true);
    dv.setUint32(fh + 12, this.numberOfSymbols, true);
    dv.setUint16(fh + 16, ohSize, true);
    dv.setUint16(fh + 18, this.characteristics, true);
    const oh = fh + 20;
    dv.setUint16(oh, this.pe32 ? 0x10b : 0x20b, true);
    dv.setUint32(oh + 16, this.entryPoint, true);
    if (this.pe32) dv.setUint32(oh + 28, Number(this.imageBase), true);
    else dv.setBigUint64(oh + 24, this.imageBase, true);
    dv.setUint32(oh + 32, 0x1000, true); // SectionAlignment
    dv.setUint32(oh + 36, 0x200, true); // FileAlignment
    dv.setUint16(oh + 40, 6, true); // MajorOperatingSystemVersion
    dv.setUint16(oh + 48, 6, true); // MajorSubsystemVersion
    dv.setUint32(oh + 56, this.sizeOfImage, true);
    dv.setUint32(oh + 60, headers, true);
    dv.setUint16(oh + 68, 3, true); // console
    dv.setUint16(oh + 70, 0x160, true); // high-entropy VA, dynamic base, NX
    const nrs = this.pe32 ? 92 : 108;
    dv.setUint32(oh + nrs, this.numberOfRvaAndSizes, true);
    const dirs = oh + nrs + 4;
    this.dirs.forEach(([rva, size], i) => {
      dv.setUint32(dirs + i * 8, rva, true);
      dv.setUint32(dirs + i * 8 + 4, size, true);
    });
    this.sections.forEach((s, i) => {
      const h = secTable + i * 40;
      for (let k = 0; k < Math.min(8, s.spec.name.length); k++) out[h + k] = s.spec.name.charCodeAt(k);
      const rawSize = s.spec.rawSize ?? s.memSize;
      dv.setUint32(h + 8, s.spec.virtualSize ?? s.memSize, true);
      dv.setUint32(h + 12, s.rva, true);
      dv.setUint32(h + 16, rawSize, true);
      dv.setUint32(h + 20, rawPtrs[i] ?? 0, true);
      dv.setUint32(h + 36, s.spec.characteristics, true);
      out.set(s.data.subarray(0, rawSize), rawPtrs[i] ?? 0);
    });
    out.set(this.tail, tailAt);
    return out;
  }
}
