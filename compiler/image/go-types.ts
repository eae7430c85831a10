/**
 * Go type metadata, read for diffing: every 32-bit offset field of the type descriptors an
 * image's code and tables reach, resolved to what it names, and the exact extent of each
 * descriptor, name, method table and GC bitmap (so data items are these objects, not runs
 * of neighbours up to the next referenced address).
 *
 * Go's read-only type data is full of offsets that are not relocated pointers: a type's
 * name (`nameOff`, from moduledata.types), the pointer type to it (`typeOff`), its methods'
 * names, types and code (`textOff`, from moduledata.text). One type added anywhere shifts
 * them all, so keyed by raw bytes nearly every descriptor "changes", and so does every
 * function that references one (esbuild 0.25.11 -> 0.25.12: 1,796 of 1,806 changed
 * functions). Resolved, they are named as follows:
 *
 * - nameOff: the name itself (flags, text, tag, and its package path's text);
 * - typeOff: the type's identity (kind, size, hash, name): the Go runtime's own notion of
 *   "the same type" (the linker's type hash is of the type's full string); its layout is
 *   compared where code or pointers reach the descriptor itself;
 * - textOff: the function at text + off (the normaliser names it through the match).
 *
 * Layouts (Go source: internal/abi/type.go; Go 1.20 to 1.25, 64-bit):
 *   Type (48)   size @0, ptrBytes @8, hash u32 @16, tflag @20, align @21, fieldAlign @22,
 *               kind @23, equal *func @24, gcdata *byte @32, str nameOff @40, ptrToThis typeOff @44
 *   then by kind: Array elem @48 slice @56 len @64 (72); Chan elem @48 dir @56 (64);
 *               Func inCount u16 @48 outCount u16 @50 (56, params after the uncommon part);
 *               Interface pkgPath *name @48 methods []Imethod{nameOff, typeOff} @56 (80);
 *               Map (Go < 1.24) key elem bucket @48..64 hasher @72 sizes @80 (88);
 *               Map (Go >= 1.24, swiss) key elem group @48..64 hasher @72 groupSize slotSize
 *               elemOff @80..96 flags @104 (112); Pointer, Slice elem @48 (56);
 *               Struct pkgPath *name @48 fields []{*name, *Type, offset} @56 (80)
 *   Uncommon (16, when tflag & 1) pkgPath nameOff, mcount u16, xcount u16, moff u32 (from
 *               the uncommon part to [mcount]Method{nameOff, typeOff, textOff ifn, textOff tfn})
 *   itab        inter *InterfaceType @0, type *Type @8, hash u32 @16, fun [n]uintptr @24
 *               (n: the interface's method count)
 *   Name        flags u8 (1 exported, 2 tag, 4 pkgPath, 8 embedded), uvarint len, bytes,
 *               [uvarint len, tag], [pkgPath nameOff, unaligned]
 *
 * Only descriptors that pass every check (kind, alignments, size >= ptrBytes, relocated or
 * null pointer fields, name inside [types, etypes)) are read; anything else keeps its raw
 * bytes, which can only make more functions "changed".
 */
import { lowerBound, type MappedImage } from './map-image.ts';
import { goPointer, type GoTables } from './go-tables.ts';

/** What a 4-byte offset field of Go metadata names. */
export type GoField = { readonly kind: 'text'; readonly target: number } | { readonly kind: 'token'; readonly token: string };

/** Go metadata of one image, for the normaliser and the data-item boundaries. */
export interface GoMetadata {
  readonly tables: GoTables;
  /** 4-byte offset fields in read-only data, by field RVA. */
  readonly fields: ReadonlyMap<number, GoField>;
  /** The field RVAs, sorted (range queries). */
  readonly fieldRvas: Uint32Array;
  /** Starts and ends of the objects read (type descriptors, names, method tables, GC bitmaps). */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Type descriptors read. */
  readonly typeCount: number;
}

const K_ARRAY = 17;
const K_CHAN = 18;
const K_FUNC = 19;
const K_INTERFACE = 20;
const K_MAP = 21;
const K_POINTER = 22;
const K_SLICE = 23;
const K_STRUCT = 25;
const KIND_GC_PROG = 0x40;
const TFLAG_UNCOMMON = 1;
const TFLAG_GC_MASK_ON_DEMAND = 0x10;
const ALIGNS = new Set([1, 2, 4, 8, 16, 32, 64]);
/** Name bytes as text for keys (one byte, one char; a type's name can run to many KB). */
const decoder = new TextDecoder('latin1');
const bytesText = (bytes: Uint8Array): string => decoder.decode(bytes);

interface Name {
  readonly end: number;
  readonly text: string;
  /** The 4-byte pkgPath nameOff field, or -1. */
  readonly pkgField: number;
}

/** Go 1.24 switched maps to the swiss table layout (a longer MapType). */
function swissMaps(version: string | null): boolean | null {
  const m = version === null ? null : /^go1\.(\d+)/.exec(version);
  return m === null ? null : Number(m[1]) >= 24;
}

/** The state of one read: the image, its tables, and what has been found so far. */
interface Reader {
  readonly img: MappedImage;
  /** img.image (read byte by byte). */
  readonly b: Uint8Array;
  readonly t: GoTables;
  /** Map layout by Go version (null: unknown, maps are not read). */
  readonly swiss: boolean | null;
  readonly fields: Map<number, GoField>;
  readonly starts: number[];
  readonly ends: number[];
  /** Names by address (null: being read, or invalid). */
  readonly names: Map<number, Name | null>;
  /** Type descriptor checks by address. */
  readonly valid: Map<number, boolean>;
  /** Valid descriptors not read yet. */
  readonly queue: number[];
}

const u8 = (r: Reader, at: number): number => r.b[at] ?? 0;
const u16 = (r: Reader, at: number): number => u8(r, at) | (u8(r, at + 1) << 8);
const u32 = (r: Reader, at: number): number => (u8(r, at) | (u8(r, at + 1) << 8) | (u8(r, at + 2) << 16) | (u8(r, at + 3) << 24)) >>> 0;
const u64 = (r: Reader, at: number): number => u32(r, at) + u32(r, at + 4) * 0x1_0000_0000;
const nullOrReloc = (r: Reader, at: number): boolean => u64(r, at) === 0 || r.img.relocs.has(at);
/** Records an object read (an item of its exact extent). */
function object(r: Reader, start: number, end: number): void {
  r.starts.push(start);
  r.ends.push(end);
}

/** Go's uvarint of at most 4 bytes at `at`: [value, end], or null. */
function uvarint(r: Reader, at: number): [number, number] | null {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = u8(r, at + k);
    v += (c & 0x7f) * 2 ** (7 * k);
    if ((c & 0x80) === 0) return [v, at + k + 1];
  }
  return null;
}

/** The name at `p` (read once; its pkgPath followed two levels deep), or null when invalid. */
function nameAt(r: Reader, p: number, depth = 0): Name | null {
  const t = r.t;
  const b = r.b;
  if (p < t.types || p >= t.etypes) return null;
  const hit = r.names.get(p);
  if (hit !== undefined) return hit;
  r.names.set(p, null);
  const flags = u8(r, p);
  const len = uvarint(r, p + 1);
  // Lengths are bounded by the types section before any text is read (hostile input).
  if (flags > 0x0f || len === null || len[1] + len[0] > t.etypes) return null;
  let end = len[1] + len[0];
  let text = `${flags}:${bytesText(b.subarray(len[1], end))}`;
  if ((flags & 2) !== 0) {
    const tag = uvarint(r, end);
    if (tag === null || tag[1] + tag[0] > t.etypes) return null;
    text += `\`${bytesText(b.subarray(tag[1], tag[1] + tag[0]))}`;
    end = tag[1] + tag[0];
  }
  let pkgField = -1;
  if ((flags & 4) !== 0) {
    pkgField = end;
    end += 4;
    const pkg = depth < 2 ? nameAt(r, t.types + (u32(r, pkgField) | 0), depth + 1) : null;
    if (pkg === null) return null;
    r.fields.set(pkgField, { kind: 'token', token: `N${pkg.text}` });
    text += `@${pkg.text}`;
  }
  if (end > t.etypes) return null;
  const n: Name = { end, text, pkgField };
  r.names.set(p, n);
  object(r, p, end);
  return n;
}

/** A nameOff field at `at`: its name as a token (false when it does not resolve). */
function nameOff(r: Reader, at: number): boolean {
  const n = nameAt(r, r.t.types + (u32(r, at) | 0));
  if (n === null) return false;
  r.fields.set(at, { kind: 'token', token: `N${n.text}` });
  return true;
}

/** An absolutely addressed name (a relocated *name field): bounded, keyed by its bytes. */
function namePtr(r: Reader, at: number): void {
  const p = goPointer(r.img, at);
  if (p >= 0 && r.img.relocs.has(at)) nameAt(r, p);
}

/** Whether `p` holds a type descriptor (checked once; a valid one is queued to be read). */
function isType(r: Reader, p: number): boolean {
  const t = r.t;
  const hit = r.valid.get(p);
  if (hit !== undefined) return hit;
  const kind = u8(r, p + 23) & 0x1f;
  const size = u64(r, p);
  const ptrBytes = u64(r, p + 8);
  const ok =
    p >= t.types &&
    p + 48 <= t.etypes &&
    (p & 7) === 0 &&
    kind >= 1 &&
    kind <= 26 &&
    size < 2 ** 40 &&
    ptrBytes <= size &&
    ptrBytes % 8 === 0 &&
    u8(r, p + 20) < 0x20 &&
    ALIGNS.has(u8(r, p + 21)) &&
    ALIGNS.has(u8(r, p + 22)) &&
    nullOrReloc(r, p + 24) &&
    nullOrReloc(r, p + 32) &&
    (u32(r, p + 40) | 0) > 0 &&
    nameAt(r, t.types + (u32(r, p + 40) | 0)) !== null;
  r.valid.set(p, ok);
  if (ok) r.queue.push(p);
  return ok;
}

/** A type's identity for typeOff fields: kind, size, hash and name. */
function identity(r: Reader, p: number): string {
  return `T${u8(r, p + 23) & 0x1f}:${u64(r, p)}:${u32(r, p + 16)}:${r.names.get(r.t.types + (u32(r, p + 40) | 0))?.text ?? '?'}`;
}

/** A typeOff field at `at`: the type's identity as a token. */
function typeOff(r: Reader, at: number): void {
  const v = u32(r, at) | 0;
  if (v === -1 || v === 0) {
    // -1: dead code removed the type; 0 (ptrToThis): none.
    r.fields.set(at, { kind: 'token', token: `T${v}` });
    return;
  }
  const p = r.t.types + v;
  if (isType(r, p)) r.fields.set(at, { kind: 'token', token: identity(r, p) });
}

/** A textOff field at `at`: the code address it names. */
function textOff(r: Reader, at: number): void {
  const t = r.t;
  const v = u32(r, at) | 0;
  if (v === -1) r.fields.set(at, { kind: 'token', token: 'X-1' });
  else if (t.text + v >= t.text && t.text + v < t.etext) r.fields.set(at, { kind: 'text', target: t.text + v });
}

/** A relocated *Type field at `at`: the descriptor it points at is checked (and queued). */
function typePtr(r: Reader, at: number): void {
  const p = goPointer(r.img, at);
  if (p >= 0 && r.img.relocs.has(at)) isType(r, p);
}

/** The GC bitmap (or program) of the descriptor at `p`, as an object of its own. */
function readGcData(r: Reader, p: number, tflag: number): void {
  const gc = goPointer(r.img, p + 32);
  if (gc >= 0 && r.img.relocs.has(p + 32) && (tflag & TFLAG_GC_MASK_ON_DEMAND) === 0) {
    const gcEnd = (u8(r, p + 23) & KIND_GC_PROG) !== 0 ? gc + 4 + u32(r, gc) : gc + Math.ceil(u64(r, p + 8) / 64);
    if (gcEnd > gc && gcEnd - gc < 1 << 20) object(r, gc, gcEnd);
  }
}

/**
 * The kind-specific part of the descriptor at `p`: its fields read, and the descriptor's
 * size and parameter count (func types); null when the descriptor is not to be read further.
 */
function readKindPart(r: Reader, p: number, kind: number): { size: number; params: number } | null {
  let size = 48;
  let params = 0;
  switch (kind) {
    case K_ARRAY:
      typePtr(r, p + 48);
      typePtr(r, p + 56);
      size = 72;
      break;
    case K_CHAN:
      typePtr(r, p + 48);
      size = 64;
      break;
    case K_POINTER:
    case K_SLICE:
      typePtr(r, p + 48);
      size = 56;
      break;
    case K_FUNC:
      params = u16(r, p + 48) + (u16(r, p + 50) & 0x7fff);
      size = 56;
      break;
    case K_MAP:
      if (r.swiss === null) return null;
      for (const o of [48, 56, 64]) typePtr(r, p + o);
      size = r.swiss ? 112 : 88;
      break;
    case K_INTERFACE: {
      namePtr(r, p + 48);
      const m = goPointer(r.img, p + 56);
      const n = u64(r, p + 64);
      if (m >= 0 && r.img.relocs.has(p + 56) && n < 100_000) {
        for (let i = 0; i < n; i++) {
          nameOff(r, m + 8 * i);
          typeOff(r, m + 8 * i + 4);
        }
        if (n > 0) object(r, m, m + 8 * n);
      }
      size = 80;
      break;
    }
    case K_STRUCT: {
      namePtr(r, p + 48);
      const f = goPointer(r.img, p + 56);
      const n = u64(r, p + 64);
      if (f >= 0 && r.img.relocs.has(p + 56) && n < 100_000) {
        for (let i = 0; i < n; i++) {
          namePtr(r, f + 24 * i);
          typePtr(r, f + 24 * i + 8);
        }
        if (n > 0) object(r, f, f + 24 * n);
      }
      size = 80;
      break;
    }
    default:
      break;
  }
  return { size, params };
}

/**
 * The uncommon part at `u` and its method table: the end of the method table (0 when it has
 * none), or null when the table is out of bounds (the descriptor is not to be read further).
 */
function readUncommon(r: Reader, u: number): number | null {
  if (u32(r, u) !== 0) nameOff(r, u);
  const mcount = u16(r, u + 4);
  const moff = u32(r, u + 8);
  if (mcount === 0) return 0;
  if (moff < 16 || (moff & 3) !== 0 || moff > 1 << 16 || u + moff + 16 * mcount > r.t.etypes) return null;
  const m = u + moff;
  for (let i = 0; i < mcount; i++) {
    nameOff(r, m + 16 * i);
    typeOff(r, m + 16 * i + 4);
    textOff(r, m + 16 * i + 8);
    textOff(r, m + 16 * i + 12);
  }
  return m + 16 * mcount;
}

/** Reads the (valid) type descriptor at `p`: its fields, and its extent as an object. */
function readType(r: Reader, p: number): void {
  const kind = u8(r, p + 23) & 0x1f;
  const tflag = u8(r, p + 20);
  nameOff(r, p + 40);
  typeOff(r, p + 44);
  readGcData(r, p, tflag);
  const part = readKindPart(r, p, kind);
  if (part === null) return;
  let end = p + part.size;
  // The method table hangs off the uncommon part by an offset, not a pointer: it is part
  // of the descriptor's item, or a changed method would not change the type's key.
  let methodsEnd = 0;
  if ((tflag & TFLAG_UNCOMMON) !== 0) {
    const u = end;
    end += 16;
    const m = readUncommon(r, u);
    if (m === null) return;
    methodsEnd = m;
  }
  for (let i = 0; i < part.params; i++) typePtr(r, end + 8 * i);
  object(r, p, Math.max(end + 8 * part.params, methodsEnd));
}

/** An itab: its interface and type descriptors, and its extent as an object. */
function readItab(r: Reader, itab: number): void {
  typePtr(r, itab);
  typePtr(r, itab + 8);
  // itab: inter *InterfaceType, type *Type, hash u32, pad, fun [len(inter.methods)]uintptr.
  const inter = goPointer(r.img, itab);
  const n = inter >= 0 && r.valid.get(inter) === true && (u8(r, inter + 23) & 0x1f) === K_INTERFACE ? u64(r, inter + 64) : -1;
  if (n > 0 && n < 100_000) object(r, itab, itab + 24 + 8 * n);
}

/** Reads the Go type metadata reachable from `roots` (RVAs code references), typelinks and itabs. */
export function readGoMetadata(img: MappedImage, t: GoTables, roots: Iterable<number>): GoMetadata {
  const r: Reader = { img, b: img.image, t, swiss: swissMaps(t.version), fields: new Map(), starts: [], ends: [], names: new Map(), valid: new Map(), queue: [] };
  for (const x of roots) if (x >= t.types && x < t.etypes) isType(r, x);
  for (const x of t.typelinks) isType(r, x);
  for (const itab of t.itabs) readItab(r, itab);
  let typeCount = 0;
  while (r.queue.length > 0) {
    readType(r, r.queue.pop()!);
    typeCount++;
  }
  const fieldRvas = Uint32Array.from(r.fields.keys()).sort();
  return { tables: t, fields: r.fields, fieldRvas, starts: r.starts, ends: r.ends, typeCount };
}

/**
 * The Go offset fields inside [start, end) as pointer-like fields for content keys:
 * [field RVA, 4, target RVA (textOff) or a literal token (nameOff, typeOff)].
 */
export function goFieldsIn(go: GoMetadata | null | undefined, start: number, end: number): Array<[number, number, number | string]> {
  if (go === null || go === undefined) return [];
  const out: Array<[number, number, number | string]> = [];
  const rvas = go.fieldRvas;
  for (let i = lowerBound(rvas, start); i < rvas.length && rvas[i]! + 4 <= end; i++) {
    const f = go.fields.get(rvas[i]!)!;
    out.push([rvas[i]!, 4, f.kind === 'text' ? f.target : f.token]);
  }
  return out;
}
