/**
 * The Go runtime's own tables of a stripped Go image (Go 1.20+, pclntab magic 0xfffffff1):
 * the pclntab header, `runtime.firstmoduledata`, and what they give the compiler for
 * DIFFING (never for patching: Go images are refused, image/runtime-tables.ts):
 *
 * - every function's entry and name (pclntab's function table): names survive stripping,
 *   so they anchor the match and name the diff's functions;
 * - the bounds the runtime resolves its 32-bit offsets against: `types` (nameOff, typeOff)
 *   and `text` (textOff), and the type roots (`typelinks`, `itablinks`).
 *
 * Layouts (Go source: runtime/symtab.go `pcHeader`, `moduledata`, `_func`; debug/gosym):
 *
 *   pcHeader  magic u32, pad u8 u8, minLC u8, ptrSize u8, nfunc @8, nfiles @16,
 *             textStart @24, funcnameOffset @32, cuOffset @40, filetabOffset @48,
 *             pctabOffset @56, pclnOffset @64 (offsets from the header)
 *   ftab      at pclnOffset: nfunc+1 x { entryOff u32, funcOff u32 } (funcOff from pclnOffset)
 *   _func     entryOff u32, nameOff i32 (into funcnametab: a C string), ...
 *   moduledata pcHeader @0, funcnametab []byte @8, cutab @32, filetab @56, pctab @80,
 *             pclntable @104, ftab @128, findfunctab @152, minpc @160, maxpc @168, text @176,
 *             etext @184, noptrdata..enoptrbss @192..248, covctrs @256, ecovctrs @264,
 *             end @272, gcdata @280, gcbss @288, types @296, etypes @304, rodata @312,
 *             gofunc @320, textsectmap []textsect @328, typelinks []int32 @352,
 *             itablinks []*itab @376
 *
 * Everything read is validated against the rest (the moduledata's pcHeader pointer, its
 * funcnametab equal to the header's, text equal to the header's textStart, types..etypes
 * inside one section, typelinks inside it): an image that fails any check gets no Go
 * tables, and the diff then keys Go metadata by raw bytes (more "changed", never less).
 */
import type { MappedImage } from './map-image.ts';
import { dataSections, findRuntimeTables, pclntabAt } from './runtime-tables.ts';

/** One function as pclntab lists it. */
export interface GoFunction {
  readonly entry: number;
  readonly name: string;
}

/** The Go tables of one image (RVAs). */
export interface GoTables {
  /** `go1.23.12` when go.buildinfo says (type layouts that changed across versions need it). */
  readonly version: string | null;
  readonly pcHeader: number;
  readonly moduledata: number;
  readonly text: number;
  readonly etext: number;
  /** [types, etypes): where nameOff and typeOff point (offsets from `types`). */
  readonly types: number;
  readonly etypes: number;
  readonly functions: readonly GoFunction[];
  /** Type descriptors `typelinks` lists. */
  readonly typelinks: readonly number[];
  /** itabs `itablinks` lists. */
  readonly itabs: readonly number[];
}

const MAGIC_GO120 = 0xfffffff1;
/** Ceiling on the function count we read (esbuild has ~8k; the header says). */
const MAX_FUNCS = 2_000_000;

function u32(img: MappedImage, at: number): number {
  const b = img.image;
  if (at < 0 || at + 4 > b.length) return 0;
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** A u64 as a number (exact below 2^53; larger values are out of every range we check). */
function u64(img: MappedImage, at: number): number {
  return u32(img, at) + u32(img, at + 4) * 0x1_0000_0000;
}

/** An absolute pointer field as an RVA (-1 when it is not one). */
export function goPointer(img: MappedImage, at: number): number {
  const v = u64(img, at);
  const base = Number(img.imageBase);
  return v < base || v - base >= img.image.length ? -1 : v - base;
}

function cString(img: MappedImage, at: number, max = 4096): string | null {
  const b = img.image;
  let k = at;
  while (k < b.length && k - at < max && b[k] !== 0) k++;
  if (k >= b.length || b[k] !== 0) return null;
  return String.fromCharCode(...b.subarray(at, k));
}

function findPcHeader(img: MappedImage): number {
  const dv = new DataView(img.image.buffer, img.image.byteOffset, img.image.byteLength);
  for (const s of dataSections(img)) {
    for (let at = (s.rva + 7) & ~7; at + 72 <= s.end; at += 8) {
      if (u32(img, at) !== MAGIC_GO120) continue;
      if (pclntabAt(img, dv, at) !== null) return at;
    }
  }
  return -1;
}

/** The moduledata: the writable word that points at the pcHeader, with a consistent funcnametab. */
function findModuledata(img: MappedImage, pcHeader: number): number {
  const want = Number(img.imageBase) + pcHeader;
  const funcnametab = pcHeader + u64(img, pcHeader + 32);
  for (const s of img.sections) {
    if (!s.writable || s.executable) continue;
    const end = s.rva + Math.min(s.rawSize, s.size);
    for (let at = (s.rva + 7) & ~7; at + 400 <= end; at += 8) {
      if (u64(img, at) !== want) continue;
      if (goPointer(img, at + 8) === funcnametab) return at;
    }
  }
  return -1;
}

const memo = new WeakMap<MappedImage, GoTables | null>();

/**
 * The Go tables of `img`, or null when it is not a Go 1.20+ image these checks accept.
 * Memoised per image (function discovery and data analysis both ask).
 */
export function readGoTables(img: MappedImage): GoTables | null {
  let t = memo.get(img);
  if (t === undefined) {
    t = readUncached(img);
    memo.set(img, t);
  }
  return t;
}

function readUncached(img: MappedImage): GoTables | null {
  const pcHeader = findPcHeader(img);
  if (pcHeader < 0 || img.image[pcHeader + 7] !== 8) return null;
  const md = findModuledata(img, pcHeader);
  if (md < 0) return null;
  const base = Number(img.imageBase);
  const nfunc = u64(img, pcHeader + 8);
  const textStart = u64(img, pcHeader + 24) - base;
  const text = goPointer(img, md + 176);
  const etext = goPointer(img, md + 184);
  const types = goPointer(img, md + 296);
  const etypes = goPointer(img, md + 304);
  if (nfunc <= 0 || nfunc > MAX_FUNCS || text !== textStart || etext <= text || types < 0 || etypes <= types) return null;
  const typesSec = img.sections.find((s) => types >= s.rva && etypes <= s.rva + s.size);
  if (typesSec === undefined || typesSec.executable || typesSec.writable) return null;

  const funcnametab = pcHeader + u64(img, pcHeader + 32);
  const pclntable = pcHeader + u64(img, pcHeader + 64);
  const functions: GoFunction[] = [];
  for (let i = 0; i < nfunc; i++) {
    const entryOff = u32(img, pclntable + 8 * i);
    const funcOff = u32(img, pclntable + 8 * i + 4);
    const fn = pclntable + funcOff;
    // The _func repeats its entry offset: a cross-check on every row.
    if (u32(img, fn) !== entryOff) return null;
    const name = cString(img, funcnametab + (u32(img, fn + 4) | 0));
    if (name === null) return null;
    functions.push({ entry: text + entryOff, name });
  }

  const slice = (at: number): { ptr: number; len: number } | null => {
    const ptr = goPointer(img, at);
    const len = u64(img, at + 8);
    if (len === 0) return { ptr, len };
    return ptr < 0 || len > 10_000_000 || ptr + len * 4 > img.image.length ? null : { ptr, len };
  };
  const tl = slice(md + 352);
  const il = slice(md + 376);
  if (tl === null || il === null) return null;
  const typelinks: number[] = [];
  for (let i = 0; i < tl.len; i++) {
    const t = types + (u32(img, tl.ptr + 4 * i) | 0);
    if (t < types || t >= etypes) return null;
    typelinks.push(t);
  }
  const itabs: number[] = [];
  for (let i = 0; i < il.len; i++) {
    const t = goPointer(img, il.ptr + 8 * i);
    if (t < 0) return null;
    itabs.push(t);
  }
  const version = findRuntimeTables(img).find((r) => r.runtime === 'Go')?.version ?? null;
  return { version, pcHeader, moduledata: md, text, etext, types, etypes, functions, typelinks, itabs };
}
