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

/** Reads the Go type metadata reachable from `roots` (RVAs code references), typelinks and itabs. */
export function readGoMetadata(img: MappedImage, t: GoTables, roots: Iterable<number>): GoMetadata {
  const b = img.image;
  const u8 = (at: number): number => b[at] ?? 0;
  const u16 = (at: number): number => u8(at) | (u8(at + 1) << 8);
  const u32 = (at: number): number => (u8(at) | (u8(at + 1) << 8) | (u8(at + 2) << 16) | (u8(at + 3) << 24)) >>> 0;
  const u64 = (at: number): number => u32(at) + u32(at + 4) * 0x1_0000_0000;
  const nullOrReloc = (at: number): boolean => u64(at) === 0 || img.relocs.has(at);
  const swiss = swissMaps(t.version);
  const fields = new Map<number, GoField>();
  const starts: number[] = [];
  const ends: number[] = [];
  const object = (start: number, end: number): void => {
    starts.push(start);
    ends.push(end);
  };

  const names = new Map<number, Name | null>();
  const uvarint = (at: number): [number, number] | null => {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = u8(at + k);
      v += (c & 0x7f) * 2 ** (7 * k);
      if ((c & 0x80) === 0) return [v, at + k + 1];
    }
    return null;
  };
  const nameAt = (p: number, depth = 0): Name | null => {
    if (p < t.types || p >= t.etypes) return null;
    const hit = names.get(p);
    if (hit !== undefined) return hit;
    names.set(p, null);
    const flags = u8(p);
    const len = uvarint(p + 1);
    // Lengths are bounded by the types section before any text is read (hostile input).
    if (flags > 0x0f || len === null || len[1] + len[0] > t.etypes) return null;
    let end = len[1] + len[0];
    let text = `${flags}:${bytesText(b.subarray(len[1], end))}`;
    if ((flags & 2) !== 0) {
      const tag = uvarint(end);
      if (tag === null || tag[1] + tag[0] > t.etypes) return null;
      text += `\`${bytesText(b.subarray(tag[1], tag[1] + tag[0]))}`;
      end = tag[1] + tag[0];
    }
    let pkgField = -1;
    if ((flags & 4) !== 0) {
      pkgField = end;
      end += 4;
      const pkg = depth < 2 ? nameAt(t.types + (u32(pkgField) | 0), depth + 1) : null;
      if (pkg === null) return null;
      fields.set(pkgField, { kind: 'token', token: `N${pkg.text}` });
      text += `@${pkg.text}`;
    }
    if (end > t.etypes) return null;
    const n: Name = { end, text, pkgField };
    names.set(p, n);
    object(p, end);
    return n;
  };
  /** A nameOff field at `at`: its name as a token (null when it does not resolve). */
  const nameOff = (at: number): boolean => {
    const n = nameAt(t.types + (u32(at) | 0));
    if (n === null) return false;
    fields.set(at, { kind: 'token', token: `N${n.text}` });
    return true;
  };
  /** An absolutely addressed name (a relocated *name field): bounded, keyed by its bytes. */
  const namePtr = (at: number): void => {
    const p = goPointer(img, at);
    if (p >= 0 && img.relocs.has(at)) nameAt(p);
  };

  const valid = new Map<number, boolean>();
  const queue: number[] = [];
  const isType = (p: number): boolean => {
    const hit = valid.get(p);
    if (hit !== undefined) return hit;
    const kind = u8(p + 23) & 0x1f;
    const size = u64(p);
    const ptrBytes = u64(p + 8);
    const ok =
      p >= t.types &&
      p + 48 <= t.etypes &&
      (p & 7) === 0 &&
      kind >= 1 &&
      kind <= 26 &&
      size < 2 ** 40 &&
      ptrBytes <= size &&
      ptrBytes % 8 === 0 &&
      u8(p + 20) < 0x20 &&
      ALIGNS.has(u8(p + 21)) &&
      ALIGNS.has(u8(p + 22)) &&
      nullOrReloc(p + 24) &&
      nullOrReloc(p + 32) &&
      (u32(p + 40) | 0) > 0 &&
      nameAt(t.types + (u32(p + 40) | 0)) !== null;
    valid.set(p, ok);
    if (ok) queue.push(p);
    return ok;
  };
  /** A type's identity for typeOff fields: kind, size, hash and name. */
  const identity = (p: number): string => `T${u8(p + 23) & 0x1f}:${u64(p)}:${u32(p + 16)}:${names.get(t.types + (u32(p + 40) | 0))?.text ?? '?'}`;
  const typeOff = (at: number): void => {
    const v = u32(at) | 0;
    if (v === -1 || v === 0) {
      // -1: dead code removed the type; 0 (ptrToThis): none.
      fields.set(at, { kind: 'token', token: `T${v}` });
      return;
    }
    const p = t.types + v;
    if (isType(p)) fields.set(at, { kind: 'token', token: identity(p) });
  };
  const textOff = (at: number): void => {
    const v = u32(at) | 0;
    if (v === -1) fields.set(at, { kind: 'token', token: 'X-1' });
    else if (t.text + v >= t.text && t.text + v < t.etext) fields.set(at, { kind: 'text', target: t.text + v });
  };
  const typePtr = (at: number): void => {
    const p = goPointer(img, at);
    if (p >= 0 && img.relocs.has(at)) isType(p);
  };

  const read = (p: number): void => {
    const kind = u8(p + 23) & 0x1f;
    const tflag = u8(p + 20);
    nameOff(p + 40);
    typeOff(p + 44);
    const gc = goPointer(img, p + 32);
    if (gc >= 0 && img.relocs.has(p + 32) && (tflag & TFLAG_GC_MASK_ON_DEMAND) === 0) {
      const gcEnd = (u8(p + 23) & KIND_GC_PROG) !== 0 ? gc + 4 + u32(gc) : gc + Math.ceil(u64(p + 8) / 64);
      if (gcEnd > gc && gcEnd - gc < 1 << 20) object(gc, gcEnd);
    }
    let size = 48;
    let params = 0;
    switch (kind) {
      case K_ARRAY:
        typePtr(p + 48);
        typePtr(p + 56);
        size = 72;
        break;
      case K_CHAN:
        typePtr(p + 48);
        size = 64;
        break;
      case K_POINTER:
      case K_SLICE:
        typePtr(p + 48);
        size = 56;
        break;
      case K_FUNC:
        params = u16(p + 48) + (u16(p + 50) & 0x7fff);
        size = 56;
        break;
      case K_MAP:
        if (swiss === null) return;
        for (const o of [48, 56, 64]) typePtr(p + o);
        size = swiss ? 112 : 88;
        break;
      case K_INTERFACE: {
        namePtr(p + 48);
        const m = goPointer(img, p + 56);
        const n = u64(p + 64);
        if (m >= 0 && img.relocs.has(p + 56) && n < 100_000) {
          for (let i = 0; i < n; i++) {
            nameOff(m + 8 * i);
            typeOff(m + 8 * i + 4);
          }
          if (n > 0) object(m, m + 8 * n);
        }
        size = 80;
        break;
      }
      case K_STRUCT: {
        namePtr(p + 48);
        const f = goPointer(img, p + 56);
        const n = u64(p + 64);
        if (f >= 0 && img.relocs.has(p + 56) && n < 100_000) {
          for (let i = 0; i < n; i++) {
            namePtr(f + 24 * i);
            typePtr(f + 24 * i + 8);
          }
          if (n > 0) object(f, f + 24 * n);
        }
        size = 80;
        break;
      }
      default:
        break;
    }
    let end = p + size;
    // The method table hangs off the uncommon part by an offset, not a pointer: it is part
    // of the descriptor's item, or a changed method would not change the type's key.
    let methodsEnd = 0;
    if ((tflag & TFLAG_UNCOMMON) !== 0) {
      const u = end;
      end += 16;
      if (u32(u) !== 0) nameOff(u);
      const mcount = u16(u + 4);
      const moff = u32(u + 8);
      if (mcount > 0) {
        if (moff < 16 || (moff & 3) !== 0 || moff > 1 << 16 || u + moff + 16 * mcount > t.etypes) return;
        const m = u + moff;
        for (let i = 0; i < mcount; i++) {
          nameOff(m + 16 * i);
          typeOff(m + 16 * i + 4);
          textOff(m + 16 * i + 8);
          textOff(m + 16 * i + 12);
        }
        methodsEnd = m + 16 * mcount;
      }
    }
    for (let i = 0; i < params; i++) typePtr(end + 8 * i);
    object(p, Math.max(end + 8 * params, methodsEnd));
  };

  for (const r of roots) if (r >= t.types && r < t.etypes) isType(r);
  for (const r of t.typelinks) isType(r);
  for (const itab of t.itabs) {
    typePtr(itab);
    typePtr(itab + 8);
    // itab: inter *InterfaceType, type *Type, hash u32, pad, fun [len(inter.methods)]uintptr.
    const inter = goPointer(img, itab);
    const n = inter >= 0 && valid.get(inter) === true && (u8(inter + 23) & 0x1f) === K_INTERFACE ? u64(inter + 64) : -1;
    if (n > 0 && n < 100_000) object(itab, itab + 24 + 8 * n);
  }
  let typeCount = 0;
  while (queue.length > 0) {
    read(queue.pop()!);
    typeCount++;
  }
  const fieldRvas = Uint32Array.from(fields.keys()).sort();
  return { tables: t, fields, fieldRvas, starts, ends, typeCount };
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
