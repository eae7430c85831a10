/**
 * Normalisation: a function's instructions with every reference field zeroed and replaced
 * by what it refers to (an offset inside the function, the matched function, the import
 * name, the data item's content or match), so layout shifts alone change nothing.
 *
 * Two modes. `shape` names no match: every function reference is just "a function" and
 * writable data just "a global"; it is what candidate matching hashes. `exact` names
 * matches, and an unmatched target gets a token unique to its side, so it can never compare
 * equal: that is what decides unchanged vs changed.
 */
import type { Reference } from '../disasm/decode-function.ts';
import type { FunctionInfo } from '../image/types.ts';
import { absTarget, relocsIn, sectionAt } from '../image/map-image.ts';
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { chainedParent } from '../functions/layout-parts.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { ParsedHandlerData } from '../eh/types.ts';
import type { DataItem, ImageAnalysis } from './analyze-image.ts';
import { importKey } from './import-identity.ts';
import { delayDescriptorDll } from '../image/delay-imports.ts';
import { thunkImport } from '../image/import-thunks.ts';
import { typeDescriptorName } from '../image/type-descriptors.ts';
import { loaderOnlyCell } from './loader-only-cells.ts';
import { goFieldsIn } from '../image/go-types.ts';

/** Which image a token is computed for. */
export type Side = 'old' | 'new';

/** The match as normalisation sees it: old index of a new function / data item (or -1). */
export interface MatchView {
  /** Pair key of a function on `side`: the old function's index, or -1 when unmatched. */
  fnKey(side: Side, index: number): number;
  /** Pair key of a writable data item on `side` (old item index), or -1. */
  itemKey(side: Side, index: number): number;
}

/**
 * Normalisation mode (see the module comment). `code` is `exact` with read-only data reduced
 * to "some constant": equal `code` forms with different `exact` forms mean only the data the
 * function reads changed. `named` is `shape` with each writable item that has an identity of
 * its own in both builds (an MSVC TypeDescriptor: its decorated type name) named by it, also
 * inside read-only data: two look-alike functions that return different types' descriptors
 * (std::function's `target_type` accessors, `lea rax, [TypeDescriptor]; ret`) differ.
 */
export type Mode = 'shape' | 'named' | 'exact' | 'code';

/** Whether `mode` names no match (a function is just "a function"): `shape` and `named`. */
function matchFree(mode: Mode): boolean {
  return mode === 'shape' || mode === 'named';
}

/** Memo slot of each mode in the per-item key cache. */
const MODE_SLOT: Record<Mode, number> = { shape: 0, named: 1, exact: 2, code: 3 };

/** A streaming 64-bit (two 32-bit lanes) hash over bytes and strings. */
export class Hasher {
  private h1 = 0x811c9dc5 | 0;
  private h2 = 0x9747b28c | 0;
  private n = 0;

  bytes(b: Uint8Array): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    this.h1 = h1;
    this.h2 = h2;
    this.n += b.length;
    return this;
  }

  string(s: string): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    this.h1 = h1;
    this.h2 = h2;
    this.n += s.length;
    return this;
  }

  /** Code units, as `string` hashes the string they make. */
  units(u: Uint16Array, length: number): this {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < length; i++) {
      const c = u[i]!;
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    this.h1 = h1;
    this.h2 = h2;
    this.n += length;
    return this;
  }

  /** 16 hex digits plus the length consumed. */
  digest(): string {
    const h1 = Math.imul(this.h1 ^ (this.h1 >>> 16), 0x85ebca6b);
    const h2 = Math.imul(this.h2 ^ (this.h2 >>> 13), 0xc2b2ae35);
    return hex8(h1) + hex8(h2) + this.n.toString(36);
  }
}

/** Two hex digits of every byte value. */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** `(x >>> 0).toString(16).padStart(8, '0')`, by table (digests are made for every item and shape). */
function hex8(x: number): string {
  return HEX_BYTE[(x >>> 24) & 0xff]! + HEX_BYTE[(x >>> 16) & 0xff]! + HEX_BYTE[(x >>> 8) & 0xff]! + HEX_BYTE[x & 0xff]!;
}

/** A 64-bit hash of a string (see Hasher). */
export function hashString(s: string): string {
  return new Hasher().string(s).digest();
}

/** Bytes as a latin1 string (chunked: spreading a large array overflows the stack). */
export function latin1(bytes: ArrayLike<number>): string {
  let out = '';
  // A Uint8Array goes to fromCharCode as it is (no copy into an array of numbers first).
  const u8 = bytes instanceof Uint8Array ? bytes : null;
  for (let i = 0; i < bytes.length; i += 8192) {
    out += u8 !== null ? String.fromCharCode.apply(null, u8.subarray(i, i + 8192) as unknown as number[]) : String.fromCharCode(...Array.prototype.slice.call(bytes, i, i + 8192));
  }
  return out;
}

/** A growable buffer of UTF-16 code units: text built without a string per piece. */
class CodeUnits {
  buf = new Uint16Array(1 << 12);
  length = 0;

  clear(): void {
    this.length = 0;
  }

  /** Starts a part: a newline unless this is the first (no part is empty: see writeForm). */
  part(): void {
    if (this.length > 0) this.unit(10);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint16Array(size);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  unit(c: number): void {
    this.reserve(1);
    this.buf[this.length++] = c;
  }

  /** Bytes [start, end) of `b` as latin1 characters, clamped to `b` as subarray clamps. */
  bytes(b: Uint8Array, start: number, end: number): void {
    const s = Math.max(0, Math.min(start, b.length));
    const e = Math.max(s, Math.min(end, b.length));
    this.reserve(e - s);
    const buf = this.buf;
    let n = this.length;
    for (let k = s; k < e; k++) buf[n++] = b[k]!;
    this.length = n;
  }

  /** The decimal digits of a non-negative integer, as `${n}` writes them. */
  decimal(n: number): void {
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.reserve(digits);
    let x = n;
    for (let i = this.length + digits - 1; i >= this.length; i--) {
      this.buf[i] = 48 + (x % 10);
      x = Math.floor(x / 10);
    }
    this.length += digits;
  }

  string(s: string): void {
    this.reserve(s.length);
    const buf = this.buf;
    let n = this.length;
    for (let i = 0; i < s.length; i++) buf[n++] = s.charCodeAt(i);
    this.length = n;
  }

  /** Whether `o` holds the same units (the same text() string). */
  equals(o: CodeUnits): boolean {
    const n = this.length;
    if (o.length !== n) return false;
    const a = this.buf;
    const b = o.buf;
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** The units as a string (chunked: spreading a large array overflows the stack). */
  text(): string {
    let out = '';
    for (let i = 0; i < this.length; i += 8192) {
      out += String.fromCharCode.apply(null, this.buf.subarray(i, Math.min(this.length, i + 8192)) as unknown as number[]);
    }
    return out;
  }
}

/**
 * When [start, end) is printable text, a NUL, then only zeros, the end of the text plus its
 * terminator; otherwise null.
 */
export function stringExtent(b: Uint8Array, start: number, end: number): number | null {
  let k = start;
  while (k < end && ((b[k]! >= 0x20 && b[k]! < 0x7f) || b[k] === 9 || b[k] === 10 || b[k] === 13)) k++;
  if (k === start || k >= end || b[k] !== 0) return null;
  for (let z = k; z < end; z++) if (b[z] !== 0) return null;
  return k + 1;
}

/** Normaliser over one image. Data-item keys are memoised per mode. */
export class Normaliser {
  /** Memoised item keys, at 4 * index + MODE_SLOT[mode]. */
  private readonly itemKeys = new Map<number, string>();
  /** Memoised `exact` (2 * index) and `code` (2 * index + 1) forms. */
  private readonly forms = new Map<number, string>();
  /** Memoised hashes of `exact` and `code` forms (keyed as `forms`). */
  private readonly formHashes = new Map<number, string>();
  /** Items being hashed -> their depth on the stack. */
  private readonly visiting = new Map<number, number>();
  /** Per item being hashed: the highest ancestor (smallest depth) a pointer in it went back to. */
  private readonly frames: Array<{ minRef: number }> = [];
  private budget = 0;
  /** TypeDescriptor names of writable items (descriptorName), by item index. */
  private readonly descriptorNames = new Map<number, string | null>();
  /** The form being written (see writeForm). */
  private readonly units = new CodeUnits();
  /**
   * Tokens written in `shape` mode where `named` mode writes another (a writable item with a
   * TypeDescriptor name, or a memoised read-only key that contains one): see shapeHashes.
   */
  private namedHits = 0;
  /** Items whose memoised `shape` key contains a named token (a memo hit counts as one). */
  private readonly nameSensitive = new Set<number>();
  /** How many times an item key ran out of budget (its result depends on what was memoised before). */
  private exhaustions = 0;

  constructor(
    readonly a: ImageAnalysis,
    readonly side: Side,
    readonly match: MatchView,
  ) {}

  /** Forgets memoised data keys and forms (the match changed). */
  reset(): void {
    this.itemKeys.clear();
    this.forms.clear();
    this.formHashes.clear();
    this.nameSensitive.clear();
  }

  /**
   * The normalised form of function `f`. `exact` and `code` forms name the match, so they
   * are memoised only once matching is over (reset() is its last step): the diff, the
   * data-only check and the verifier ask for the same forms many times.
   */
  functionForm(f: FunctionInfo, mode: Mode): string {
    if (matchFree(mode)) return this.computeForm(f, mode);
    const memo = mode === 'exact' ? 2 * f.index : 2 * f.index + 1;
    const hit = this.forms.get(memo);
    if (hit !== undefined) return hit;
    const form = this.computeForm(f, mode);
    this.forms.set(memo, form);
    return form;
  }

  /**
   * Whether `f`'s form here equals `g`'s form in `other` (the other side): the answer of
   * comparing `functionForm(f, mode)` with `other.functionForm(g, mode)`, without making
   * either string unless it is memoised already. The diff compares every matched pair once
   * and keeps no form: strings for all of them cost more than the comparison.
   */
  sameForm(f: FunctionInfo, other: Normaliser, g: FunctionInfo, mode: 'exact' | 'code'): boolean {
    const a = this.forms.get(mode === 'exact' ? 2 * f.index : 2 * f.index + 1);
    const b = other.forms.get(mode === 'exact' ? 2 * g.index : 2 * g.index + 1);
    if (a !== undefined && b !== undefined) return a === b;
    this.writeForm(f, mode);
    other.writeForm(g, mode);
    return this.units.equals(other.units);
  }

  /**
   * `hashString(functionForm(f, mode))`, memoised as the forms are (no string made): a check
   * that compares one function with many (folded-functions.ts) compares hashes, and only
   * equal hashes go on to sameForm.
   */
  formHash(f: FunctionInfo, mode: 'exact' | 'code'): string {
    const memo = mode === 'exact' ? 2 * f.index : 2 * f.index + 1;
    let h = this.formHashes.get(memo);
    if (h !== undefined) return h;
    const form = this.forms.get(memo);
    if (form !== undefined) h = hashString(form);
    else {
      this.writeForm(f, mode);
      h = new Hasher().units(this.units.buf, this.units.length).digest();
    }
    this.formHashes.set(memo, h);
    return h;
  }

  /**
   * The `shape` form's hash, `hashString(functionForm(f, 'shape'))` without making the
   * string: matching hashes every function's shape once and keeps only the hash.
   */
  shapeHash(f: FunctionInfo): string {
    this.writeForm(f, 'shape');
    return new Hasher().units(this.units.buf, this.units.length).digest();
  }

  /** The `named` form's hash (see Mode): equal to `shapeHash(f)` when `f` references no named item. */
  namedHash(f: FunctionInfo): string {
    this.writeForm(f, 'named');
    return new Hasher().units(this.units.buf, this.units.length).digest();
  }

  /**
   * `fns.map(shapeHash)` and `fns.map(namedHash)`, the `named` form written only for the
   * functions whose `shape` form has a token the `named` form writes otherwise (few: MSVC's
   * type_info users); the others' named hash is their shape hash. The two modes visit the same
   * items in the same order (a name is a leaf), so this is exact unless an item key ran out of
   * budget (what it returns then depends on what was memoised before it): then every named
   * form is written, in order, from an empty `named` memo, as one pass over all would.
   */
  shapeHashes(fns: readonly FunctionInfo[]): { shape: string[]; named: string[] } {
    const shape: string[] = [];
    const flagged: boolean[] = [];
    const spent = this.exhaustions;
    for (const f of fns) {
      const hits = this.namedHits;
      shape.push(this.shapeHash(f));
      flagged.push(this.namedHits !== hits);
    }
    if (this.exhaustions === spent) {
      const named = fns.map((f, i) => (flagged[i] === true ? this.namedHash(f) : shape[i]!));
      if (this.exhaustions === spent) return { shape, named };
      for (const k of [...this.itemKeys.keys()]) if (k % 4 === MODE_SLOT.named) this.itemKeys.delete(k);
    }
    return { shape, named: fns.map((f) => this.namedHash(f)) };
  }

  /** The decorated type name of writable item `item` when it is an MSVC TypeDescriptor, else null (memoised). */
  private descriptorName(item: DataItem): string | null {
    let name = this.descriptorNames.get(item.index);
    if (name === undefined) this.descriptorNames.set(item.index, (name = typeDescriptorName(this.a.img, item.start, item.end)));
    return name;
  }

  private computeForm(f: FunctionInfo, mode: Mode): string {
    this.writeForm(f, mode);
    return this.units.text();
  }

  /**
   * Writes the form of `f` into `this.units`: one part per instruction (its bytes with the
   * reference fields zeroed, then a token per reference), per gap, per unwind entry, and the
   * problem count, joined by newlines. Built as code units, not strings per instruction:
   * the forms of every function are made, several times over.
   */
  private writeForm(f: FunctionInfo, mode: Mode): void {
    const img = this.a.img.image;
    const d = f.decoded;
    const u = this.units;
    u.clear();
    // Parts are separated by newlines (u.part()); none is empty (an instruction has bytes,
    // the others start with a letter), so "units written" means "a part before".
    const { insns, refs } = d;
    for (let n = 0; n < insns.length; n++) {
      const insn = insns[n]!;
      u.part();
      const at = u.length;
      u.bytes(img, insn.rva, insn.rva + insn.length);
      const end = insn.refIndex + insn.refCount;
      for (let k = insn.refIndex; k < end; k++) {
        const r = refs[k]!;
        const o = r.fieldRva - insn.rva;
        for (let b = 0; b < r.size; b++) if (o + b >= 0 && o + b < insn.length) u.buf[at + o + b] = 0;
      }
      for (let k = insn.refIndex; k < end; k++) {
        // '|' and refToken's text: the kind's letter, then the target's token.
        const r = refs[k]!;
        u.unit(0x7c);
        u.unit(r.kind.charCodeAt(0));
        this.writeTargetToken(f, r.target, mode);
      }
    }
    for (const g of d.gaps) {
      u.part();
      u.string(`g${g.start - f.entry}:`);
      u.bytes(img, g.start, g.end);
    }
    // Unwind and exception data are part of the function: a changed catch clause or cleanup
    // with identical code is a changed function.
    for (const rf of f.pdata) {
      u.part();
      const uw = rf.unwind;
      if (uw === null) {
        u.string('u?');
        continue;
      }
      const at = rf.unwindInfoAddress;
      const hasHandler = (uw.flags & 3) !== 0;
      const chained = (uw.flags & 4) !== 0 && uw.chained !== null;
      // A chained entry ends in its parent's RUNTIME_FUNCTION (three RVAs): named by which of
      // the function's parts the parent is, or by what it points at, never by raw RVAs.
      const codes = img.subarray(at, at + (hasHandler ? uw.size - 4 : chained ? uw.size - 12 : uw.size));
      const extra = this.unwindExtra(f, rf, mode, chained, hasHandler);
      const ri = f.ranges.findIndex((r) => r.start === rf.beginAddress);
      u.string(`u${ri}:`);
      u.bytes(codes, 0, codes.length);
      u.string(extra);
    }
    if (d.problems.length > 0) {
      u.part();
      u.string(`p${d.problems.length}`);
    }
  }

  /** What follows an unwind entry's codes in a form: its chained parent, or its handler and handler data. */
  private unwindExtra(f: FunctionInfo, rf: FunctionInfo['pdata'][number], mode: Mode, chained: boolean, hasHandler: boolean): string {
    const img = this.a.img.image;
    const uw = rf.unwind!;
    const at = rf.unwindInfoAddress;
    let extra = chained ? `|c${this.chainToken(f, rf, mode)}` : '';
    if (hasHandler && uw.handler !== null) {
      extra = `|h${this.targetToken(f, uw.handler, mode)}`;
      const hd = parseHandlerData(this.a.img, this.a.fns, f, rf);
      const lsda = hd?.kind === 'msvc' ? null : parseGccLsda(img, at + uw.size, rf.endAddress - rf.beginAddress, this.a.img.imageBase);
      if (hd?.kind === 'msvc') extra += this.handlerDataForm(f, hd.data, mode);
      else if (lsda !== null) {
        const bytes = img.slice(at + uw.size, at + uw.size + lsda.length);
        for (const t of lsda.typeRefs) bytes.fill(0, t.offset, t.offset + t.size);
        extra += `|l${latin1(bytes)}${lsda.typeRefs.map((t) => `|t${this.targetToken(null, t.target, mode)}`).join('')}`;
      } else {
        // Unknown handler data (MSVC): its first word is what it points to, by RVA.
        const w = at + uw.size;
        const rva = w + 4 <= img.length ? (img[w]! | (img[w + 1]! << 8) | (img[w + 2]! << 16) | (img[w + 3]! << 24)) >>> 0 : -1;
        // (Matching leaves it out: MSVC's FuncInfo holds RVAs, which move with the layout.)
        extra += matchFree(mode) ? '|d' : `|d${this.targetToken(null, rva, mode)}`;
      }
    }
    return extra;
  }

  /** Token for the parent RUNTIME_FUNCTION a chained unwind entry of `f` names. */
  private chainToken(f: FunctionInfo, rf: FunctionInfo['pdata'][number], mode: Mode): string {
    const c = rf.unwind!.chained!;
    const k = chainedParent(f, rf);
    if (k >= 0) return `p${f.ranges.findIndex((r) => r.start === f.pdata[k]!.beginAddress)}`;
    const b = c.beginAddress;
    return `${this.targetToken(f, b, mode)}:${c.endAddress - b}`;
  }

  /**
   * MSVC handler data (inline bytes and every structure) with RVA fields zeroed and replaced
   * by tokens: a structure by its index, an address in the function by range and offset, a
   * funclet or type by what it is. So a layout shift changes nothing and a changed catch
   * clause, state map or scope does.
   */
  private handlerDataForm(f: FunctionInfo, d: ParsedHandlerData, mode: Mode): string {
    const img = this.a.img.image;
    const parts: string[] = [`|${d.form}`];
    for (const st of [d.inline, ...d.structures]) {
      const bytes = img.slice(st.rva, st.rva + st.length);
      let toks = '';
      for (const fld of st.fields) {
        bytes.fill(0, fld.offset, fld.offset + 4);
        const t = fld.target;
        if (fld.role === 'table') {
          const k = d.structures.findIndex((x) => x.rva === t);
          const j = k >= 0 ? k : d.structures.findIndex((x) => t >= x.rva && t < x.rva + x.length);
          toks += `|T${j}+${j < 0 ? '?' : t - d.structures[j]!.rva}`;
          continue;
        }
        const end = fld.role === 'code' && f.ranges.every((r) => t < r.start || t >= r.end) ? f.ranges.findIndex((r) => r.end === t) : -1;
        toks += end >= 0 ? `|E${end}` : `|${fld.role[0]}${this.targetToken(fld.role === 'data' ? null : f, t, mode)}`;
      }
      parts.push(`${st.length}:${latin1(bytes)}${toks}`);
    }
    return parts.join('\u0102');
  }

  /**
   * Writes `targetToken(f, t, mode)` into the form: the commonest tokens (an offset in `f`,
   * a function) as units, no string made, after the same checks in the same order; the rest
   * through targetToken.
   */
  private writeTargetToken(f: FunctionInfo, t: number, mode: Mode): void {
    const a = this.a;
    const u = this.units;
    if (t > 0 && !(t < a.img.pe.optionalHeader.sizeOfHeaders && a.img.sections.every((s) => t < s.rva))) {
      for (let i = 0; i < f.ranges.length; i++) {
        const r = f.ranges[i]!;
        if (t < r.start || t >= r.end) continue;
        u.unit(0x69); // `i${i}:${t - r.start}`
        u.decimal(i);
        u.unit(0x3a);
        u.decimal(t - r.start);
        return;
      }
      const g = a.img.iat.has(t) || t >= a.img.image.length ? undefined : a.fns.containing(t);
      if (g !== undefined) {
        const key = matchFree(mode) ? 0 : this.match.fnKey(this.side, g.index);
        if (key >= 0) {
          u.unit(0x66); // shape: 'f' or 'f+'; else `f${key}+${t - g.entry}`
          if (matchFree(mode)) {
            if (t !== g.entry) u.unit(0x2b);
            return;
          }
          u.decimal(key);
          u.unit(0x2b);
          u.decimal(t - g.entry);
          return;
        }
      }
    }
    u.string(this.targetToken(f, t, mode));
  }

  /** Token for where reference `r` of function `f` points. */
  refToken(f: FunctionInfo, r: Reference, mode: Mode): string {
    return `${r.kind[0]}${this.targetToken(f, r.target, mode)}`;
  }

  /** Token for an address `t` seen from function `f` (null `f` for data). */
  targetToken(f: FunctionInfo | null, t: number, mode: Mode): string {
    const a = this.a;
    // Outside the image (odd bytes decoded as code): equal only at the same address.
    if (t < 0) return matchFree(mode) ? 'x?' : `x${t}`;
    if (t === 0) return 'B';
    // The PE headers (CRT code reads e_lfanew and the section table through __ImageBase).
    if (t < a.img.pe.optionalHeader.sizeOfHeaders && a.img.sections.every((s) => t < s.rva)) return `h${t}`;
    if (f !== null) {
      for (let i = 0; i < f.ranges.length; i++) {
        const r = f.ranges[i]!;
        if (t >= r.start && t < r.end) return `i${i}:${t - r.start}`;
      }
    }
    const imp = a.img.iat.get(t);
    if (imp !== undefined) return `m${importKey(imp)}`;
    // A delay-load descriptor (image/delay-imports.ts): the DLL it loads.
    const delayed = delayDescriptorDll(a.img, t);
    if (delayed !== null) return `dd${delayed}`;
    if (t >= a.img.image.length) return matchFree(mode) ? 'x?' : `x${t}`;
    const g = a.fns.containing(t);
    if (g !== undefined) {
      if (matchFree(mode)) return t === g.entry ? 'f' : 'f+';
      const key = this.match.fnKey(this.side, g.index);
      return key < 0 ? `f?${this.side}${t}` : `f${key}+${t - g.entry}`;
    }
    // An import thunk no function owns (`jmp [rip+IAT slot]`, what MSVC's unwind data names
    // as the language handler): the import it jumps to.
    const thunk = importThunkTarget(a, t);
    if (thunk !== null) return `m${thunk}`;
    const table = a.tables.get(t);
    if (table !== undefined) {
      const fn = table.fn;
      const offs = table.table.targets.map((x) => {
        for (let i = 0; i < fn.ranges.length; i++) {
          const r = fn.ranges[i]!;
          if (x >= r.start && x < r.end) return `${i}:${x - r.start}`;
        }
        return '?';
      });
      // The table is part of its function: equal tables of two matched functions match.
      return `j${fn === f ? '' : matchFree(mode) ? 'f' : this.match.fnKey(this.side, fn.index)}[${offs.join(',')}]`;
    }
    const item = a.itemAt(t);
    if (item === undefined) {
      // One past the end of a section (linker-made list ends such as mingw's
      // __RUNTIME_PSEUDO_RELOC_LIST_END__) is a position, named by the section.
      const sec = a.img.sections.find((x) => x.rva + x.size === t || x.rva === t);
      if (sec !== undefined) return `e${sec.name}${sec.rva === t ? '<' : '>'}`;
      // Nothing known lives there (outside the image, import tables, odd bytes): equal only
      // at the same address, which holds when nothing moved and fails when anything did.
      return matchFree(mode) ? 'x?' : `x${t}`;
    }
    if (item.writable) {
      if (mode === 'shape') {
        if (this.descriptorName(item) !== null) this.namedHits++;
        return `w+${t - item.start}`;
      }
      if (mode === 'named') {
        const name = this.descriptorName(item);
        return name === null ? `w+${t - item.start}` : `wt${name}+${t - item.start}`;
      }
      const key = this.match.itemKey(this.side, item.index);
      if (key >= 0) return `w${key}+${t - item.start}`;
      // A loader-only cell (gcc's DW.ref.*: a relocated pointer no code writes) means what
      // it points at, wherever the cells moved (match/writable-layout.ts).
      if (loaderOnlyCell(a, item)) return `wc(${this.targetToken(null, absTarget(a.img, item.start, 10), mode)})+${t - item.start}`;
      return `w?${this.side}${t}`;
    }
    if (mode === 'code') return `r+${t - item.start}`;
    return `r${this.itemKey(item, mode)}+${t - item.start}`;
  }

  /** Content key of a read-only item: its bytes with pointer fields replaced by their targets. */
  itemKey(item: DataItem, mode: Mode): string {
    const memo = 4 * item.index + MODE_SLOT[mode];
    const hit = this.itemKeys.get(memo);
    if (hit !== undefined) {
      if (mode === 'shape' && this.nameSensitive.has(item.index)) this.namedHits++;
      return hit;
    }
    // Pointer graphs in data have cycles (type_info <-> vtables, Go type descriptors). A
    // pointer back to an item being hashed is named by how far up the stack it goes, so equal
    // structures hash equal and different ones do not; keys that depend on such context are
    // not memoised.
    const ancestor = this.visiting.get(item.index);
    if (ancestor !== undefined) {
      const top = this.frames[this.frames.length - 1]!;
      top.minRef = Math.min(top.minRef, ancestor);
      return `c${this.frames.length - ancestor}`;
    }
    if (this.frames.length === 0) this.budget = 20_000;
    if (--this.budget < 0) {
      this.exhaustions++;
      // Too large to unfold: never equal (conservative), and nothing on the stack is memoised.
      for (const f of this.frames) f.minRef = -1;
      return `c?${this.side}${item.index}`;
    }
    const depth = this.frames.length;
    const frame = { minRef: Number.POSITIVE_INFINITY };
    this.frames.push(frame);
    this.visiting.set(item.index, depth);
    const hits = this.namedHits;
    let key: string;
    try {
      key = this.computeItemKey(item, mode);
    } finally {
      this.frames.pop();
      this.visiting.delete(item.index);
    }
    const parent = this.frames[this.frames.length - 1];
    if (parent !== undefined) parent.minRef = Math.min(parent.minRef, frame.minRef);
    if (frame.minRef >= depth || this.frames.length === 0) {
      this.itemKeys.set(memo, key);
      if (mode === 'shape' && this.namedHits !== hits) this.nameSensitive.add(item.index);
    }
    return key;
  }

  private computeItemKey(item: DataItem, mode: Mode): string {
    const img = this.a.img;
    let at: number = item.start;
    const text = stringExtent(img.image, item.start, item.end);
    const relocs = relocsIn(img, item.start, item.end);
    if (text !== null && relocs.length === 0 && !this.a.rvaFields.has(item.start) && !this.a.codeOffsets.has(item.start)) {
      // A C string followed by zero padding: only the string and its terminator are ever
      // read, and the padding shifts with whatever the linker put after it.
      return `s${new Hasher().bytes(img.image.subarray(item.start, text)).digest()}`;
    }
    const h = new Hasher();
    const rt = this.a.relTables.get(item.start);
    if (rt !== undefined) {
      // Self-relative entries mean their targets, not their bytes (compiler/disasm/relative-tables.ts).
      h.string(`R${rt.count ?? '?'}`);
      for (const t of rt.targets) h.string(`\u0100${this.targetToken(null, t, mode)}\u0101`);
      at = Math.min(item.end, item.start + 4 * rt.targets.length);
      // Unbounded: what the scanned entries point at (RelativeTable.scanned), then its bytes.
      for (const t of rt.scanned) h.string(`\u0102${this.targetToken(null, t, mode)}\u0103`);
    }
    // Pointer fields: relocated addresses, and image-relative RVAs of recognised structures
    // (MSVC throw data, functions/msvc-throw-info.ts), each named by what it points at.
    const fields: Array<[number, number, number | string]> = relocs.map((rel) => {
      const type = img.relocs.get(rel)!;
      return [rel, type === 10 ? 8 : 4, absTarget(img, rel, type)];
    });
    // Self-relative code offsets (match/code-offset-tables.ts): the code each entry reaches.
    const { rvaFields, codeOffsets } = this.a;
    if (rvaFields.size > 0 || codeOffsets.size > 0) {
      for (let k: number = item.start; k + 4 <= item.end; k += 4) {
        const t = rvaFields.get(k) ?? codeOffsets.get(k);
        if (t !== undefined) fields.push([k, 4, t]);
      }
    }
    // Go hook: nameOff / typeOff / textOff fields of Go type metadata (image/go-types.ts), as
    // a target (textOff) or a literal token (a name, a type's identity).
    fields.push(...goFieldsIn(this.a.go, item.start, item.end));
    if (fields.length > relocs.length) fields.sort((x, y) => x[0] - y[0]);
    for (const [rel, size, target] of fields) {
      if (rel < at) continue;
      h.bytes(img.image.subarray(at, rel));
      h.string(`\u0100${typeof target === 'string' ? target : this.targetToken(null, target, mode)}\u0101`);
      at = Math.min(item.end, rel + size);
    }
    h.bytes(img.image.subarray(at, item.end));
    return h.digest();
  }

}

/**
 * The import key of an import thunk at `t` (`FF 25 rel32`, a jump through an IAT slot) in a
 * code section, or null. Two thunks are the same reference exactly when they jump through
 * slots of the same import.
 */
function importThunkTarget(a: ImageAnalysis, t: number): string | null {
  const imp = thunkImport(a.img, t);
  if (imp === undefined || sectionAt(a.img, t)?.executable !== true) return null;
  return importKey(imp);
}
