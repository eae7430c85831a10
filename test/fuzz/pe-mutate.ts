/**
 * Structure-aware mutation of a PE file for the fuzz surfaces: instead of flipping bytes
 * anywhere, each edit aims at one field that a later stage trusts (a header size, a section
 * table entry, a .pdata range, an unwind record, a base-relocation block, an import or export
 * directory field, a COFF symbol, or the code bytes at and inside functions) and writes a
 * value chosen to hurt: a boundary of the image (section starts and ends, SizeOfImage, the
 * functions' starts and ends, off by one), a small shift, or an extreme. A few edits stay
 * blind (a random byte, a truncation, an append), so the layout map is no blind spot itself.
 */
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { DirectoryIndex } from '../../runtime/pe/types.ts';

type Rng = () => number;

/** Where the fields of one PE file are, and the values worth writing into them. */
export interface PeLayout {
  /** File offsets of the 32-bit header fields (optional header sizes, entry point, data directories...). */
  readonly header32: readonly number[];
  /** File offsets of the 16-bit header fields (machine, section count, optional header size, magic). */
  readonly header16: readonly number[];
  /** File offsets of section table entries (40 bytes each). */
  readonly sections: readonly number[];
  /** File offsets of .pdata entries (12 bytes each: begin, end, unwind). */
  readonly pdata: readonly number[];
  /** File offsets of unwind records (UNWIND_INFO). */
  readonly unwind: readonly number[];
  /** File ranges [start, end) of the base-relocation, import and export directories. */
  readonly relocs: readonly (readonly [number, number])[];
  readonly directories: readonly (readonly [number, number])[];
  /** File offsets of COFF symbols (18 bytes each), at most 256. */
  readonly symbols: readonly number[];
  /** File ranges of executable sections, and file offsets of function starts. */
  readonly code: readonly (readonly [number, number])[];
  readonly entries: readonly number[];
  /** RVAs at the edges of things: sections, functions, the image. */
  readonly rvas: readonly number[];
}

const EXTREMES = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x1_0000, 0x10_0000, 0x1000_0000, 0x3fff_ffff, 0x4000_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_fff0, 0xffff_ffff];
const IMAGE_SCN_CODE_EXEC_WRITE = 0x20 | 0x2000_0000 | 0x8000_0000;
/** Code fragments that steer the decoder: calls and jumps (patched with a target), indirect jumps, traps, returns. */
const CODE = [[0xe8], [0xe9], [0xeb], [0x0f, 0x84], [0xff, 0x25], [0xff, 0x24, 0xc5], [0xff, 0xe0], [0xc3], [0xcc], [0x0f, 0x0b], [0x48, 0x8d, 0x05], [0x66, 0x90], [0xf3, 0x0f, 0x1e, 0xfa]];

const pick = <T>(xs: readonly T[], r: Rng): T => xs[Math.floor(r() * xs.length)]!;

/** Maps the fields of `bytes` (which must parse; the seeds do). */
export function peLayout(bytes: Uint8Array): PeLayout {
  const p = parsePe(bytes);
  if (!p.ok) throw new Error(`fuzz seed does not parse: ${p.error.message}`);
  const pe = p.value;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nt = dv.getUint32(0x3c, true);
  const opt = nt + 24;
  const secTable = opt + pe.fileHeader.sizeOfOptionalHeader;
  const fileOf = (rva: number): number | null => {
    for (const s of pe.sections) {
      const va = s.virtualAddress as number;
      if (rva >= va && rva < va + s.sizeOfRawData) return (s.pointerToRawData as number) + rva - va;
    }
    return null;
  };
  const dirRange = (i: number): Array<readonly [number, number]> => {
    const d = pe.dataDirectories[i];
    const at = d === undefined || d.size === 0 ? null : fileOf(d.virtualAddress as number);
    return at === null ? [] : [[at, Math.min(bytes.length, at + d!.size)]];
  };
  const pdataAt = dirRange(DirectoryIndex.Exception)[0];
  const pdata: number[] = [];
  if (pdataAt !== undefined) for (let o = pdataAt[0]; o + 12 <= pdataAt[1]; o += 12) pdata.push(o);
  const sections = pe.sections.map((_, i) => secTable + 40 * i);
  const code = pe.sections.filter((s) => (s.characteristics & 0x2000_0000) !== 0).map((s) => [s.pointerToRawData as number, (s.pointerToRawData as number) + s.sizeOfRawData] as const);
  const rvas = new Set<number>([0, pe.optionalHeader.sizeOfImage, pe.optionalHeader.sizeOfImage - 1]);
  for (const s of pe.sections) for (const x of [s.virtualAddress as number, (s.virtualAddress as number) + s.virtualSize, (s.virtualAddress as number) + s.sizeOfRawData]) [x - 1, x, x + 1].forEach((v) => rvas.add(v));
  for (const rf of pe.exceptions) [rf.beginAddress as number, rf.endAddress as number, (rf.endAddress as number) - 1, rf.unwindInfoAddress as number].forEach((v) => rvas.add(v));
  const symTable = pe.fileHeader.pointerToSymbolTable as number;
  const symbols: number[] = [];
  for (let i = 0; symTable !== 0 && i < Math.min(pe.fileHeader.numberOfSymbols, 256) && symTable + 18 * (i + 1) <= bytes.length; i++) symbols.push(symTable + 18 * i);
  return {
    header32: [opt + 16, opt + 32, opt + 36, opt + 56, opt + 60, opt + 108, nt + 12, nt + 16, ...Array.from({ length: 32 }, (_, k) => opt + 112 + 4 * k)],
    header16: [nt + 4, nt + 6, nt + 20, opt, opt + 70],
    sections,
    pdata,
    unwind: pe.exceptions.map((rf) => fileOf(rf.unwindInfoAddress as number)).filter((o): o is number => o !== null),
    relocs: dirRange(DirectoryIndex.BaseReloc),
    directories: [...dirRange(DirectoryIndex.Import), ...dirRange(DirectoryIndex.Export), ...dirRange(DirectoryIndex.Iat)],
    symbols,
    code,
    entries: pe.exceptions.map((rf) => fileOf(rf.beginAddress as number)).filter((o): o is number => o !== null),
    rvas: [...rvas].filter((v) => v >= 0).map((v) => v >>> 0),
  };
}

/** A 32-bit value worth writing into a field that held `old`. */
function value32(old: number, l: PeLayout, r: Rng): number {
  const k = r();
  if (k < 0.4) return pick(l.rvas, r);
  if (k < 0.7) return (old + pick([-16, -8, -4, -2, -1, 1, 2, 4, 8, 16, 0x1000, -0x1000], r)) >>> 0;
  if (k < 0.9) return pick(EXTREMES, r);
  return Math.floor(r() * 0x1_0000_0000) >>> 0;
}

/** One to three aimed edits of `seed` (see the module comment). */
export function mutatePe(seed: Uint8Array, l: PeLayout, r: Rng): Uint8Array {
  let b = seed.slice();
  const edits = 1 + Math.floor(r() * 3);
  for (let e = 0; e < edits; e++) {
    const dv = new DataView(b.buffer);
    const set32 = (o: number, f: (old: number) => number): void => {
      if (o >= 0 && o + 4 <= b.length) dv.setUint32(o, f(dv.getUint32(o, true)) >>> 0, true);
    };
    const set16 = (o: number, v: number): void => {
      if (o >= 0 && o + 2 <= b.length) dv.setUint16(o, v & 0xffff, true);
    };
    const inRange = ([lo, hi]: readonly [number, number]): number => lo + Math.floor(r() * Math.max(1, hi - lo));
    const k = Math.floor(r() * 100);
    if (k < 12) set32(pick(l.header32, r), (old) => value32(old, l, r));
    else if (k < 16) set16(pick(l.header16, r), pick([0, 1, 0x14c, 0xaa64, 0x8664, 0x10b, 0x20b, 0xffff, Math.floor(r() * 0x10000)], r));
    else if (k < 28 && l.sections.length > 0) {
      const s = pick(l.sections, r);
      const field = pick([8, 12, 16, 20, 36], r);
      if (field === 36) set32(s + 36, (old) => old ^ pick([IMAGE_SCN_CODE_EXEC_WRITE, 0x2000_0000, 0x8000_0000, 0x4000_0000, 0x20, 0x40], r));
      else set32(s + field, (old) => value32(old, l, r));
    } else if (k < 46 && l.pdata.length > 0) {
      const p = pick(l.pdata, r);
      const q = pick(l.pdata, r);
      const m = r();
      if (m < 0.7) set32(p + 4 * Math.floor(r() * 3), (old) => value32(old, l, r));
      else if (m < 0.85 && q + 12 <= b.length && p + 12 <= b.length) b.copyWithin(p, q, q + 12); // a duplicate entry
      else if (q + 12 <= b.length && p + 12 <= b.length) {
        const t = b.slice(p, p + 12); // entries out of order
        b.copyWithin(p, q, q + 12);
        b.set(t, q);
      }
    } else if (k < 56 && l.unwind.length > 0) {
      const u = pick(l.unwind, r);
      const m = r();
      if (m < 0.3 && u < b.length) b[u] = (b[u]! & 0x07) | (pick([1, 2, 3, 4, 7, 0x1f], r) << 3); // flags: EH, UH, chained
      else if (m < 0.5 && u + 2 < b.length) b[u + 2] = pick([0, 1, 0x7f, 0xff], r); // count of codes
      else if (m < 0.6 && u + 1 < b.length) b[u + 1] = pick([0, 0xff, Math.floor(r() * 256)], r); // prolog size
      else set32(u + 4 + 2 * Math.floor(r() * 4), (old) => value32(old, l, r)); // codes, handler, chained entry
    } else if (k < 64 && l.relocs.length > 0) {
      const rr = pick(l.relocs, r);
      const o = inRange(rr) & ~1;
      if (r() < 0.4) set32(rr[0] + 4 * Math.floor(r() * 2), (old) => value32(old, l, r)); // first block: page RVA, size
      else set16(o, (pick([0, 3, 10, 1, 2, 15], r) << 12) | Math.floor(r() * 0x1000));
    } else if (k < 70 && l.directories.length > 0) set32(inRange(pick(l.directories, r)) & ~3, (old) => value32(old, l, r));
    else if (k < 74 && l.symbols.length > 0) {
      const s = pick(l.symbols, r);
      if (r() < 0.5) set32(s + 8, (old) => value32(old, l, r)); // value
      else set16(s + 12, pick([0, 1, 2, 0xffff, 0xfffe, 99], r)); // section number
    } else if (k < 92 && l.code.length > 0) {
      const at = r() < 0.5 && l.entries.length > 0 ? pick(l.entries, r) + Math.floor(r() * 4) : inRange(pick(l.code, r));
      const op = pick(CODE, r);
      if (r() < 0.25) {
        if (at < b.length) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
      } else {
        for (let i = 0; i < op.length && at + i < b.length; i++) b[at + i] = op[i]!;
        const disp = at + op.length;
        if (op[0] === 0xeb || (op.length === 1 && op[0] !== 0xc3 && op[0] !== 0xcc)) {
          if (op[0] === 0xeb) b[disp] = Math.floor(r() * 256);
          else set32(disp, () => (pick(l.rvas, r) - disp - 4 + pick([0, 0, 1, -1], r)) >>> 0);
        } else if (op.length >= 2 && op[0] !== 0x66 && op[0] !== 0xf3 && op[1] !== 0xe0 && op[1] !== 0x0b) set32(disp, (old) => value32(old, l, r));
      }
    } else if (k < 96) {
      const at = Math.floor(r() * b.length);
      if (at < b.length) b[at] = Math.floor(r() * 256);
    } else if (k < 98) b = b.slice(0, Math.floor(r() * b.length));
    else b = appendRandom(b, r);
  }
  return b;
}

/** `b` followed by up to 511 random bytes. */
export function appendRandom(b: Uint8Array, r: Rng): Uint8Array<ArrayBuffer> {
  const tail = new Uint8Array(Math.floor(r() * 512)).map(() => Math.floor(r() * 256));
  const n = new Uint8Array(b.length + tail.length);
  n.set(b);
  n.set(tail, b.length);
  return n;
}
