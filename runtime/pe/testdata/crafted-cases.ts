/**
 * The malformed/odd-input corpus: PE files built by craft-pe.ts, each with the outcome the
 * parser must reach. Cases listed in known-failures.json are ones the parser still gets
 * wrong; that list may only shrink (crafted.test.ts fails when a listed case starts to pass).
 */
import { PeCraft, SCN_CODE, SCN_DATA, SCN_RDATA } from './craft-pe.ts';

/** One crafted file and why it exists. */
export interface CraftedCase {
  readonly name: string;
  readonly why: string;
  readonly build: () => Uint8Array;
  /** Also compared with python3-pefile by the differential test (a well-formed file). */
  readonly pefile?: boolean;
}

const TEXT = 0;
const RDATA = 1;
const DATA = 2;
const RELOC = 3;

/** The standard four-section layout every case starts from. */
function base(pe32: boolean): PeCraft {
  const c = new PeCraft({
    pe32,
    sections: [
      { name: '.text', characteristics: SCN_CODE },
      { name: '.rdata', characteristics: SCN_RDATA, pages: 2 },
      { name: '.data', characteristics: SCN_DATA },
      { name: '.reloc', characteristics: 0x4200_0040 },
    ],
  });
  c.entryPoint = c.rva(TEXT);
  c.u8(c.rva(TEXT), 0xc3);
  return c;
}

/** A complete, valid file: imports by name and ordinal, exports (named, ordinal-only,
 * forwarder), delay imports, relocations, CodeView, TLS callbacks, load config with a
 * Guard CF table. PE32 uses the old VA-based delay-load descriptor. */
export function fullFile(pe32: boolean): PeCraft {
  const c = base(pe32);
  const ps = pe32 ? 4 : 8;
  const r = (o: number): number => c.rva(RDATA, o);
  const d = (o: number): number => c.rva(DATA, o);
  const t = (o: number): number => c.rva(TEXT, o);
  const ordFlag = pe32 ? 0x8000_0000n : 0x8000_0000_0000_0000n;
  // Imports: KERNEL32.dll (FuncA by name, ordinal 5), USER32.dll (FuncB).
  c.u32(r(0x00), r(0x40)).u32(r(0x0c), r(0x120)).u32(r(0x10), d(0x100));
  c.u32(r(0x14), r(0x80)).u32(r(0x20), r(0x130)).u32(r(0x24), d(0x180));
  c.ptr(r(0x40), BigInt(r(0x100))).ptr(r(0x40 + ps), ordFlag | 5n);
  c.ptr(d(0x100), BigInt(r(0x100))).ptr(d(0x100 + ps), ordFlag | 5n);
  c.ptr(r(0x80), BigInt(r(0x110)));
  c.ptr(d(0x180), BigInt(r(0x110)));
  c.u16(r(0x100), 1).str(r(0x102), 'FuncA');
  c.u16(r(0x110), 2).str(r(0x112), 'FuncB');
  c.str(r(0x120), 'KERNEL32.dll').str(r(0x130), 'USER32.dll');
  c.dir(1, r(0), 60).dir(12, d(0x100), 0x100);
  // Exports: base 10; alpha -> ordinal 10, ordinal 11 unnamed, fwd -> ordinal 12 (forwarder), 13 unused.
  c.u32(r(0x20c), r(0x300)).u32(r(0x210), 10).u32(r(0x214), 4).u32(r(0x218), 2);
  c.u32(r(0x21c), r(0x240)).u32(r(0x220), r(0x260)).u32(r(0x224), r(0x270));
  c.u32(r(0x240), t(0x10)).u32(r(0x244), t(0x20)).u32(r(0x248), r(0x280)).u32(r(0x24c), 0);
  c.u32(r(0x260), r(0x2a0)).u32(r(0x264), r(0x2b0));
  c.u16(r(0x270), 0).u16(r(0x272), 2);
  c.str(r(0x280), 'KERNEL32.GetTickCount').str(r(0x2a0), 'alpha').str(r(0x2b0), 'fwd').str(r(0x300), 'crafted.dll');
  c.dir(0, r(0x200), 0xc0);
  // CodeView RSDS (file offset of .rdata + 0x440 in the built file: headers 0x400 + .text 0x1000).
  const cvOff = 0x400 + 0x1000 + 0x440;
  const path = 'C:\\build\\crafted.pdb';
  c.u32(r(0x40c), 2).u32(r(0x410), 24 + path.length + 1).u32(r(0x414), r(0x440)).u32(r(0x418), cvOff);
  c.str(r(0x440), 'RSDS');
  [0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8].forEach((b, i) => c.u8(r(0x444 + i), b));
  c.u32(r(0x454), 3).str(r(0x458), path);
  c.dir(6, r(0x400), 28);
  // TLS with two callbacks.
  c.ptr(r(0x500), c.va(d(0x0))).ptr(r(0x500 + ps), c.va(d(0x8))).ptr(r(0x500 + 2 * ps), c.va(d(0x10))).ptr(r(0x500 + 3 * ps), c.va(r(0x540)));
  c.ptr(r(0x540), c.va(t(0x30))).ptr(r(0x540 + ps), c.va(t(0x40))).ptr(r(0x540 + 2 * ps), 0n);
  c.dir(9, r(0x500), pe32 ? 24 : 40);
  // Load config: SecurityCookie, Guard CF table of 3 functions, GuardFlags (CF instrumented).
  const lc = r(0x600);
  const [cookie, cfTable, cfCount, flags, size] = pe32 ? [60, 80, 84, 88, 92] : [88, 128, 136, 144, 148];
  c.u32(lc, size).ptr(lc + cookie, c.va(d(0x20))).ptr(lc + cfTable, c.va(r(0x700))).ptr(lc + cfCount, 3n).u32(lc + flags, 0x100);
  c.u32(r(0x700), t(0x10)).u32(r(0x704), t(0x20)).u32(r(0x708), t(0x30));
  c.dir(10, lc, size);
  // Delay import of DELAYED.dll: LateFunc by name, ordinal 7.
  const dd = r(0x800);
  const vaBased = pe32;
  const at = (rva: number): number => (vaBased ? Number(c.va(rva)) : rva);
  c.u32(dd, vaBased ? 0 : 1).u32(dd + 4, at(r(0x880))).u32(dd + 8, at(d(0x40))).u32(dd + 12, at(d(0x60))).u32(dd + 16, at(r(0x8a0)));
  c.str(r(0x880), 'DELAYED.dll');
  c.ptr(r(0x8a0), BigInt(at(r(0x8c0)))).ptr(r(0x8a0 + ps), ordFlag | 7n);
  c.u16(r(0x8c0), 0).str(r(0x8c2), 'LateFunc');
  c.dir(13, dd, 64);
  // Relocations: two absolute pointers in .text, plus ABSOLUTE padding.
  const type = pe32 ? 3 : 10;
  c.ptr(t(0x50), c.va(t(0x10))).ptr(t(0x60), c.va(t(0x20)));
  c.u32(c.rva(RELOC), t(0)).u32(c.rva(RELOC, 4), 16).u16(c.rva(RELOC, 8), (type << 12) | 0x50).u16(c.rva(RELOC, 10), (type << 12) | 0x60);
  c.dir(5, c.rva(RELOC), 16);
  return c;
}

/** The corpus; crafted.test.ts holds the expected outcome of each case by name. */
export const CASES: readonly CraftedCase[] = [
  { name: 'pe32-full', why: 'PE32 (i386) with every directory, VA-based delay imports', build: () => fullFile(true).build(), pefile: true },
  { name: 'pe32plus-full', why: 'PE32+ with every directory, RVA-based delay imports', build: () => fullFile(false).build(), pefile: true },
  {
    name: 'unwind-chain-cycle',
    why: 'an UNWIND_INFO whose chained entry points back at itself must stop at the depth limit',
    build: () => {
      const c = base(false);
      const ui = c.rva(RDATA, 0x100);
      c.u8(ui, 1 | (4 << 3)).u8(ui + 1, 0).u8(ui + 2, 0).u8(ui + 3, 0); // version 1, CHAININFO, no codes
      c.u32(ui + 4, c.rva(TEXT)).u32(ui + 8, c.rva(TEXT, 0x10)).u32(ui + 12, ui); // chain -> itself
      c.u32(c.rva(RDATA), c.rva(TEXT)).u32(c.rva(RDATA, 4), c.rva(TEXT, 0x10)).u32(c.rva(RDATA, 8), ui);
      c.dir(3, c.rva(RDATA), 12);
      return c.build();
    },
  },
  {
    name: 'no-directories',
    why: 'NumberOfRvaAndSizes 0: no directory is read, the file is still valid',
    build: () => {
      const c = fullFile(false);
      c.numberOfRvaAndSizes = 0;
      return c.build();
    },
  },
  {
    name: 'rva-and-sizes-huge',
    why: 'NumberOfRvaAndSizes 0x1000: only 16 are read, with a diagnostic',
    build: () => {
      const c = fullFile(false);
      c.numberOfRvaAndSizes = 0x1000;
      return c.build();
    },
  },
  {
    name: 'zero-sections',
    why: 'a file with no sections at all is valid (everything lives in the headers)',
    build: () => new PeCraft({ pe32: false, sections: [] }).build(),
  },
  {
    name: 'vsize-zero',
    why: 'VirtualSize 0 means SizeOfRawData (old linkers)',
    build: () => {
      const c = new PeCraft({ pe32: false, sections: [{ name: '.text', characteristics: SCN_CODE, virtualSize: 0, rawSize: 0x200 }] });
      c.u8(c.rva(0, 0x1ff), 0xcc);
      return c.build();
    },
  },
  {
    name: 'import-unterminated',
    why: 'import descriptors that run to the end of their section without a null entry',
    build: () => {
      const c = base(false);
      const end = c.rva(RDATA, 0x2000);
      for (let o = c.rva(RDATA, 0x1f00); o + 20 <= end; o += 20) c.u32(o + 12, c.rva(RDATA, 0x10)).u32(o + 16, c.rva(DATA, 0));
      c.str(c.rva(RDATA, 0x10), 'X.dll');
      c.dir(1, c.rva(RDATA, 0x1f00), 0x100);
      return c.build();
    },
  },
  {
    name: 'reloc-highadj',
    why: 'a HIGHADJ relocation (type 4) parses, but rebasing refuses it',
    build: () => {
      const c = base(false);
      c.u32(c.rva(RELOC), c.rva(TEXT)).u32(c.rva(RELOC, 4), 12).u16(c.rva(RELOC, 8), (4 << 12) | 0x10).u16(c.rva(RELOC, 10), 0);
      c.dir(5, c.rva(RELOC), 12);
      return c.build();
    },
  },
  {
    name: 'load-config-size-huge',
    why: 'load config Size 0xffffffff is capped at what the section holds',
    build: () => {
      const c = fullFile(false);
      c.u32(c.rva(RDATA, 0x600), 0xffff_ffff);
      return c.build();
    },
  },
  {
    name: 'tls-callbacks-unterminated',
    why: 'a TLS callback array with no terminating zero ends at its section with a diagnostic',
    build: () => {
      const c = fullFile(false);
      for (let o = 0x1f00; o < 0x2000; o += 8) c.u64(c.rva(RDATA, o), c.va(c.rva(TEXT, 0x30)));
      c.u64(c.rva(RDATA, 0x500 + 24), c.va(c.rva(RDATA, 0x1f00)));
      return c.build();
    },
  },
  {
    name: 'symbols-count-huge',
    why: 'NumberOfSymbols 0x7fffffff is capped by the file size',
    build: () => {
      const c = base(false);
      c.pointerToSymbolTable = -1; // right after the sections
      c.numberOfSymbols = 0x7fff_ffff;
      c.tail = new Uint8Array(18 * 3);
      c.tail.set([0x5f, 0x6d, 0x61, 0x69, 0x6e], 0); // "_main"
      return c.build();
    },
  },
  {
    name: 'long-section-name',
    why: 'a /4 section name resolves through the COFF string table',
    build: () => {
      const c = new PeCraft({ pe32: false, sections: [{ name: '/4', characteristics: SCN_CODE }, { name: '/99999', characteristics: SCN_RDATA }] });
      c.pointerToSymbolTable = -1;
      c.numberOfSymbols = 0;
      const name = '.text$very_long_name';
      const st = new Uint8Array(4 + name.length + 1);
      new DataView(st.buffer).setUint32(0, st.length, true);
      for (let i = 0; i < name.length; i++) st[4 + i] = name.charCodeAt(i);
      c.tail = st;
      return c.build();
    },
  },
  {
    name: 'export-count-huge',
    why: 'NumberOfFunctions/NumberOfNames 0xffffffff are capped by the bytes behind them',
    build: () => {
      const c = fullFile(false);
      c.u32(c.rva(RDATA, 0x214), 0xffff_ffff).u32(c.rva(RDATA, 0x218), 0xffff_ffff);
      return c.build();
    },
  },
  {
    name: 'many-sections',
    why: '20,000 sections and 100,000 .pdata entries: RVA lookups must not scan every section (quadratic before)',
    build: manySections,
  },
  {
    name: 'raw-pointer-unaligned',
    why: 'the loader rounds PointerToRawData down to 0x200; mapImage must read the section from there',
    build: () => {
      const c = new PeCraft({ pe32: false, sections: [{ name: '.text', characteristics: SCN_CODE, rawSize: 0x200, virtualSize: 0x100 }] });
      const b = c.build();
      const dv = new DataView(b.buffer);
      const sec = 0x40 + 4 + 20 + 240;
      dv.setUint32(sec + 20, 0x401, true); // PointerToRawData 0x401; the loader reads from 0x400
      dv.setUint32(sec + 16, 0x1ff, true);
      b[0x400] = 0xcc;
      b[0x401] = 0x90;
      return b;
    },
    pefile: true,
  },
];

/** 20,000 empty one-page sections, then one holding 100,000 RUNTIME_FUNCTIONs (PE32+). */
function manySections(): Uint8Array {
  const n = 20_000;
  const entries = 100_000;
  const secTable = 0x40 + 4 + 20 + 240;
  const headers = Math.ceil((secTable + (n + 1) * 40) / 0x200) * 0x200;
  const firstVa = Math.ceil(headers / 0x1000) * 0x1000;
  const lastVa = firstVa + n * 0x1000;
  const rawSize = Math.ceil((entries * 12 + 0x100) / 0x200) * 0x200;
  const lastSize = Math.ceil(rawSize / 0x1000) * 0x1000;
  const out = new Uint8Array(headers + rawSize);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0x5a4d, true);
  dv.setUint32(0x3c, 0x40, true);
  dv.setUint32(0x40, 0x4550, true);
  dv.setUint16(0x44, 0x8664, true);
  dv.setUint16(0x46, n + 1, true);
  dv.setUint16(0x54, 240, true);
  dv.setUint16(0x56, 0x2022, true);
  const oh = 0x58;
  dv.setUint16(oh, 0x20b, true);
  dv.setBigUint64(oh + 24, 0x1_8000_0000n, true);
  dv.setUint32(oh + 32, 0x1000, true);
  dv.setUint32(oh + 36, 0x200, true);
  dv.setUint32(oh + 56, lastVa + lastSize, true);
  dv.setUint32(oh + 60, headers, true);
  dv.setUint32(oh + 108, 16, true);
  dv.setUint32(oh + 112 + 3 * 8, lastVa, true); // exception directory
  dv.setUint32(oh + 112 + 3 * 8 + 4, entries * 12, true);
  for (let i = 0; i <= n; i++) {
    const h = secTable + i * 40;
    out[h] = 0x2e; // "."
    out[h + 1] = 0x73;
    dv.setUint32(h + 8, i < n ? 0x1000 : lastSize, true);
    dv.setUint32(h + 12, i < n ? firstVa + i * 0x1000 : lastVa, true);
    dv.setUint32(h + 16, i < n ? 0 : rawSize, true);
    dv.setUint32(h + 20, i < n ? 0 : headers, true);
    dv.setUint32(h + 36, i < n ? 0xc000_0080 : 0x4000_0040, true);
  }
  // Each entry names a function in some empty section and a zeroed UNWIND_INFO after the table.
  for (let k = 0; k < entries; k++) {
    const e = headers + k * 12;
    const fn = firstVa + ((k * 7919) % n) * 0x1000;
    dv.setUint32(e, fn, true);
    dv.setUint32(e + 4, fn + 0x10, true);
    dv.setUint32(e + 8, lastVa + entries * 12 + 0x10, true);
  }
  return out;
}
