/**
 * MSVC C++ exception-handler data in the compressed "FuncInfo4" form that
 * `__CxxFrameHandler4` (FH4, the x64 default since VS2019) and `__GSHandlerCheck_EH4` read.
 *
 * ## Layout (what this parser relies on)
 *
 * The handler data after the UNWIND_INFO's handler RVA is
 * - form `fh4`:    `u32 dispFuncInfo` (RVA of a FuncInfo4);
 * - form `gs-fh4`: `u32 dispFuncInfo`, then GS data: `u32 cookieOffset | flags` (low 3 bits;
 *   bit 2 = "has alignment": two more u32, the aligned-base offset and the alignment).
 *
 * Integers marked "c" are compressed: 1 to 5 bytes, the low bits of the FIRST byte give the
 * length (`xxx0` 1 byte, `xx01` 2, `x011` 3, `0111` 4, `1111` 5); the value is the little-endian
 * number those bytes make, shifted right by the length tag (1, 2, 3, 4 bits), and for the
 * 5-byte form the four bytes after the tag byte. (The runtime reads it as the u32 that ENDS at
 * the encoding's last byte, so up to 4 bytes before a structure are read too: a carried copy
 * must have mapped bytes in front of it, which the UNWIND_INFO in front of it provides.)
 * Fields marked "rva" are plain 4-byte image-relative addresses; 0 means "absent".
 *
 * FuncInfo4: `u8 header` (bit 0 isCatch, 1 isSeparated, 2 BBT, 3 UnwindMap, 4 TryBlockMap,
 *   5 EHs, 6 NoExcept, 7 reserved = 0), then in order, each only when its bit says so:
 *   c bbtFlags (BBT), rva dispUnwindMap (UnwindMap), rva dispTryBlockMap (TryBlockMap),
 *   rva dispIPtoStateMap (always; a SepIPtoStateMap when isSeparated), c dispFrame (isCatch).
 * UnwindMap4: c count; per entry: c (nextOffset << 2 | type); type 0 no action, 1 destructor
 *   with a frame object, 2 destructor with a frame slot holding the object's address, 3 an
 *   unwind funclet; types 1-3 then carry rva action, types 1-2 then c object. `nextOffset` is
 *   how many bytes BACK from this entry's start the entry of the state it unwinds to starts
 *   (pointing before the first entry means state -1); states are entry indices.
 * TryBlockMap4: c count; per entry: c tryLow, c tryHigh, c catchHigh, rva dispHandlerArray.
 * HandlerMap4 (a handler array): c count; per entry: `u8 header` (bit 0 adjectives, 1
 *   dispType, 2 dispCatchObj, 3 contIsRVA, bits 4-5 number of continuation addresses 0-2,
 *   3 reserved, bits 6-7 unused = 0), c adjectives, rva dispType (a TypeDescriptor; 0 for
 *   catch(...)), c dispCatchObj, rva dispOfHandler (the catch funclet), then the continuation
 *   addresses: rva each when contIsRVA, else c each, relative to the function start.
 * IPtoStateMap4: c count; per entry: c ip (delta from the previous entry's ip, the first
 *   from the function start), c state + 1. Offsets, not RVAs: they stay right when the
 *   function is copied with its layout, which is how the emitter copies it.
 * SepIPtoStateMap4 (isSeparated: PGO/BBT split the function): c count; per entry: rva
 *   segment start, rva IPtoStateMap4 of that segment. Not carried: the segments are other
 *   .pdata entries whose layout relative to each other the patch does not keep.
 *
 * "Function start" is the BeginAddress of the RUNTIME_FUNCTION the dispatcher found for the
 * frame: for a parent function its primary entry, for a catch funclet (isCatch) the funclet.
 *
 * The parser copies nothing: it says which NEW bytes make up the data (exact lengths), which
 * 4-byte fields are RVAs and what they point at, and where the function-relative offsets are,
 * so the emitter copies bytes and re-targets fields, and the verifier re-reads them.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asRva, hex, type Rva } from '../../common/types.ts';
import { gsDataLength } from './gs.ts';
import { inRanges, readU32 as readU32At } from './read.ts';
import type { HandlerDataContext, HandlerForm, HandlerRvaField, HandlerStructure, ParsedHandlerData } from './types.ts';

/** What the parser needs to know about the image and the function (the dispatcher's context). */
export type Fh4Context = HandlerDataContext;

/** Which FH4 structure a parsed piece is. */
export type Fh4StructureKind = 'func-info' | 'unwind-map' | 'try-block-map' | 'handler-map' | 'ip-to-state-map';

/** The decoded FuncInfo4 header and fields (absent fields are 0). */
export interface Fh4FuncInfo {
  readonly header: number;
  readonly bbtFlags: number;
  readonly dispUnwindMap: number;
  readonly dispTryBlockMap: number;
  readonly dispIpToStateMap: number;
  readonly dispFrame: number;
}

/** One UnwindMap4 entry. `type`: 0 none, 1 dtor(object), 2 dtor(*slot), 3 funclet. */
export interface Fh4UnwindEntry {
  readonly nextOffset: number;
  readonly type: 0 | 1 | 2 | 3;
  readonly action: number;
  readonly object: number;
  /** The state this entry unwinds to (-1 or an earlier entry's index). */
  readonly toState: number;
}

/** One TryBlockMap4 entry. */
export interface Fh4TryBlock {
  readonly tryLow: number;
  readonly tryHigh: number;
  readonly catchHigh: number;
  readonly dispHandlerArray: number;
}

/** One HandlerType4 entry; `continuations` are RVAs when `header` bit 3 is set, else function-relative. */
export interface Fh4Handler {
  readonly header: number;
  readonly adjectives: number;
  readonly dispType: number;
  readonly dispCatchObj: number;
  readonly dispOfHandler: number;
  readonly continuations: readonly number[];
}

/** One IPtoStateMap4 entry, with its delta decoded to a function-relative offset. */
export interface Fh4IpState {
  /** Function-relative offset of the first instruction in `state`. */
  readonly offset: number;
  readonly state: number;
}

/** A decoded structure, kept so tests can re-encode it and compare with the image. */
export type Fh4Decoded =
  | { readonly kind: 'func-info'; readonly value: Fh4FuncInfo }
  | { readonly kind: 'unwind-map'; readonly entries: readonly Fh4UnwindEntry[] }
  | { readonly kind: 'try-block-map'; readonly entries: readonly Fh4TryBlock[] }
  | { readonly kind: 'handler-map'; readonly entries: readonly Fh4Handler[] }
  | { readonly kind: 'ip-to-state-map'; readonly entries: readonly Fh4IpState[] };

/**
 * A compressed integer inside a carried structure whose value is an offset from the
 * function start (IP-to-state entries, as deltas; continuation addresses when not RVAs).
 * The emitter keeps them right by copying the function with its layout; the verifier can
 * check that `functionOffset` lies inside the carried function.
 */
export interface Fh4RelativeOffset {
  /** Index into `structures`. */
  readonly structure: number;
  /** Offset of the encoded integer inside that structure. */
  readonly offset: number;
  /** Bytes the encoding takes. */
  readonly length: number;
  /** The offset from the function start it designates (deltas already summed). */
  readonly functionOffset: number;
  readonly kind: 'ip-to-state' | 'continuation';
}

/** `ParsedHandlerData` for FH4, plus the decoded structures and the function-relative offsets. */
export interface ParsedFh4 extends ParsedHandlerData {
  readonly form: 'fh4' | 'gs-fh4';
  /** Decoded content of each entry of `structures`, same order. */
  readonly decoded: readonly Fh4Decoded[];
  /** Kind of each entry of `structures`, same order. */
  readonly kinds: readonly Fh4StructureKind[];
  /** Every function-relative offset the structures hold. */
  readonly relative: readonly Fh4RelativeOffset[];
}

/** Upper bound on entries in one map: real maps hold tens; garbage must not make us loop for long. */
const MAX_ENTRIES = 0x4000;
/** GS data flag: the frame was re-aligned, two more u32 follow. */
const GS_HAS_ALIGNMENT = 4;

const FI_IS_CATCH = 0x01;
const FI_IS_SEPARATED = 0x02;
const FI_BBT = 0x04;
const FI_UNWIND_MAP = 0x08;
const FI_TRY_BLOCK_MAP = 0x10;
const FI_RESERVED = 0x80;

const HT_ADJECTIVES = 0x01;
const HT_DISP_TYPE = 0x02;
const HT_DISP_CATCH_OBJ = 0x04;
const HT_CONT_IS_RVA = 0x08;
const HT_CONT_SHIFT = 4;
const HT_UNUSED = 0xc0;

/** A reading position with bounds: every read returns null past `image.length`. */
interface Cursor {
  readonly image: Uint8Array;
  pos: number;
}

function readU8(c: Cursor): number | null {
  if (c.pos < 0 || c.pos >= c.image.length) return null;
  return c.image[c.pos++]!;
}

function readU32(c: Cursor): number | null {
  const v = readU32At(c.image, c.pos);
  if (v !== null) c.pos += 4;
  return v;
}

/** Bytes a compressed integer takes, from the low 4 bits of its first byte. */
function compressedLength(first: number): number {
  if ((first & 1) === 0) return 1;
  if ((first & 3) === 1) return 2;
  if ((first & 7) === 3) return 3;
  if ((first & 15) === 7) return 4;
  return 5;
}

/**
 * Decodes the compressed integer at `pos` of `bytes`: its value and encoded length, or null
 * when it runs past the end.
 */
export function decodeFh4Compressed(bytes: Uint8Array, pos: number): { readonly value: number; readonly length: number } | null {
  const c: Cursor = { image: bytes, pos };
  const value = readCompressed(c);
  return value === null ? null : { value, length: c.pos - pos };
}

/**
 * The form the layout suggests for handler data at `dataRva`: MSVC places the FuncInfo4
 * right after the handler data, so a FuncInfo4 RVA equal to `dataRva + 4` says `fh4`, and
 * `dataRva + 8` (or `+ 16` when the GS flags say "aligned") says `gs-fh4`. Null when the
 * FuncInfo4 is elsewhere: the caller must then know the handler routine to pick a form.
 * A hint for classifying statically linked handler routines, never proof on its own.
 */
export function fh4FormHint(image: Uint8Array, dataRva: number): 'fh4' | 'gs-fh4' | null {
  const c: Cursor = { image, pos: dataRva };
  const fi = readU32(c);
  const gs = readU32(c);
  if (fi === null) return null;
  if (fi === dataRva + 4) return 'fh4';
  if (gs === null) return null;
  const gsLength = (gs & GS_HAS_ALIGNMENT) !== 0 ? 12 : 4;
  return fi === dataRva + 4 + gsLength ? 'gs-fh4' : null;
}

/** Reads one compressed integer (see the layout notes above), or null past the end. */
function readCompressed(c: Cursor): number | null {
  const p = c.pos;
  if (p < 0 || p >= c.image.length) return null;
  const n = compressedLength(c.image[p]!);
  if (p + n > c.image.length) return null;
  const b = c.image;
  c.pos = p + n;
  switch (n) {
    case 1:
      return b[p]! >>> 1;
    case 2:
      return (b[p]! | (b[p + 1]! << 8)) >>> 2;
    case 3:
      return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) >>> 3;
    case 4:
      return ((b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0) >>> 4;
    default:
      return (b[p + 1]! | (b[p + 2]! << 8) | (b[p + 3]! << 16) | (b[p + 4]! << 24)) >>> 0;
  }
}

/**
 * The shortest encoding of `value` as a compressed integer (what MSVC writes). Exported so
 * tests can re-encode decoded structures and compare them with the image byte for byte.
 */
export function encodeFh4Compressed(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RangeError(`not a u32: ${value}`);
  if (value < 1 << 7) return [(value << 1) & 0xff];
  if (value < 1 << 14) return [((value << 2) | 1) & 0xff, (value >>> 6) & 0xff];
  if (value < 1 << 21) return [((value << 3) | 3) & 0xff, (value >>> 5) & 0xff, (value >>> 13) & 0xff];
  if (value < 1 << 28) return [((value << 4) | 7) & 0xff, (value >>> 4) & 0xff, (value >>> 12) & 0xff, (value >>> 20) & 0xff];
  return [15, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function u32Bytes(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/**
 * Re-encodes a decoded structure the way MSVC does (shortest compressed integers). A real
 * image's structure equals its re-encoding byte for byte; tests use this as a round trip.
 */
export function encodeFh4Structure(d: Fh4Decoded): Uint8Array {
  const out: number[] = [];
  const c = (v: number): void => void out.push(...encodeFh4Compressed(v));
  const r = (v: number): void => void out.push(...u32Bytes(v));
  switch (d.kind) {
    case 'func-info': {
      const f = d.value;
      out.push(f.header);
      if ((f.header & FI_BBT) !== 0) c(f.bbtFlags);
      if ((f.header & FI_UNWIND_MAP) !== 0) r(f.dispUnwindMap);
      if ((f.header & FI_TRY_BLOCK_MAP) !== 0) r(f.dispTryBlockMap);
      r(f.dispIpToStateMap);
      if ((f.header & FI_IS_CATCH) !== 0) c(f.dispFrame);
      break;
    }
    case 'unwind-map':
      c(d.entries.length);
      for (const e of d.entries) {
        c(e.nextOffset * 4 + e.type);
        if (e.type !== 0) r(e.action);
        if (e.type === 1 || e.type === 2) c(e.object);
      }
      break;
    case 'try-block-map':
      c(d.entries.length);
      for (const e of d.entries) {
        c(e.tryLow);
        c(e.tryHigh);
        c(e.catchHigh);
        r(e.dispHandlerArray);
      }
      break;
    case 'handler-map':
      c(d.entries.length);
      for (const h of d.entries) {
        out.push(h.header);
        if ((h.header & HT_ADJECTIVES) !== 0) c(h.adjectives);
        if ((h.header & HT_DISP_TYPE) !== 0) r(h.dispType);
        if ((h.header & HT_DISP_CATCH_OBJ) !== 0) c(h.dispCatchObj);
        r(h.dispOfHandler);
        for (const k of h.continuations) ((h.header & HT_CONT_IS_RVA) !== 0 ? r : c)(k);
      }
      break;
    case 'ip-to-state-map': {
      c(d.entries.length);
      let prev = 0;
      for (const e of d.entries) {
        c(e.offset - prev);
        c(e.state + 1);
        prev = e.offset;
      }
      break;
    }
  }
  return Uint8Array.from(out);
}

/** The code every refusal uses: the same as the other handler-data parsers (a diff verdict). */
const FH4_BAD = 'DIFF_EH_DATA';

/** Builds the error value every refusal of this parser uses. */
function bad(message: string, at: number): { readonly ok: false; readonly error: { code: string; message: string; offset?: number } } {
  return err(FH4_BAD, `FH4 handler data: ${message}`, at);
}

/**
 * Parses the FH4 handler data at `dataRva` (the bytes after the handler RVA) of the function
 * described by `ctx`, in form `fh4` (FuncInfo4 RVA) or `gs-fh4` (FuncInfo4 RVA then GS data).
 * Returns every structure reachable from it with exact lengths, its RVA fields with roles,
 * the function-relative offsets, and the funclets (catch handlers: they run on this frame
 * and may return into this function; unwind funclets are `function` fields only).
 * Anything this compiler cannot carry with certainty is an error value with the reason
 * (`DIFF_EH_DATA`, offset = the RVA where the problem is); bad bytes never throw.
 */
export function parseFh4(ctx: Fh4Context, dataRva: Rva, form: 'fh4' | 'gs-fh4'): Result<ParsedFh4> {
  const main = ctx.ranges[0];
  if (main === undefined || main.start !== ctx.functionStart) return bad('the function start is not the start of its main range', ctx.functionStart);
  const inlineData = readInlineData(ctx, dataRva, form);
  if (!inlineData.ok) return inlineData;
  const { inline, funcInfoRva } = inlineData.value;
  const found = new Fh4Structures(inline);

  const funcInfo = readFuncInfo(ctx, funcInfoRva);
  if (!funcInfo.ok) return funcInfo;
  const fi = funcInfo.value.value;
  const fiAdded = found.add('func-info', funcInfoRva, funcInfo.value.length, funcInfo.value.fields, { kind: 'func-info', value: fi }, []);
  if (!fiAdded.ok) return fiAdded;

  // Unwind map: its entry count bounds the states the other maps may name.
  let stateCount = 0;
  if (fi.dispUnwindMap !== 0) {
    const um = readUnwindMap(ctx, fi.dispUnwindMap);
    if (!um.ok) return um;
    stateCount = um.value.entries.length;
    const r = found.add('unwind-map', fi.dispUnwindMap, um.value.length, um.value.fields, { kind: 'unwind-map', entries: um.value.entries }, []);
    if (!r.ok) return r;
  }

  const funclets = new Set<number>();
  if (fi.dispTryBlockMap !== 0) {
    const tb = readTryBlocksAndHandlers(ctx, fi.dispTryBlockMap, stateCount, found, funclets);
    if (!tb.ok) return tb;
  }

  if (fi.dispIpToStateMap !== 0) {
    if (found.byRva.has(fi.dispIpToStateMap)) return bad(`IP-to-state map at ${hex(fi.dispIpToStateMap)} is another structure`, fi.dispIpToStateMap);
    const ip = readIpToStateMap(ctx, fi.dispIpToStateMap, stateCount);
    if (!ip.ok) return ip;
    const r = found.add('ip-to-state-map', fi.dispIpToStateMap, ip.value.length, [], { kind: 'ip-to-state-map', entries: ip.value.entries }, ip.value.relative);
    if (!r.ok) return r;
  }

  // Every table field must name a structure parsed here (and start it).
  for (const s of [inline, ...found.structures]) {
    for (const f of s.fields) {
      if (f.role === 'table' && !found.byRva.has(f.target)) return bad(`table field at ${hex(s.rva + f.offset)} points at ${hex(f.target)}, no structure start`, s.rva + f.offset);
    }
  }
  const { structures, decoded, kinds, relative } = found;
  return ok({ form, inline, structures, funclets: [...funclets].sort((a, b) => a - b), decoded, kinds, relative });
}

/** The structures parsed so far, in parse order; `add` refuses overlaps. */
class Fh4Structures {
  readonly structures: HandlerStructure[] = [];
  readonly decoded: Fh4Decoded[] = [];
  readonly kinds: Fh4StructureKind[] = [];
  readonly relative: Fh4RelativeOffset[] = [];
  /** Structure start RVA -> index. */
  readonly byRva = new Map<number, number>();

  constructor(private readonly inline: HandlerStructure) {}

  /** Registers a parsed structure, refusing overlaps with the inline data and the ones already seen. */
  add(kind: Fh4StructureKind, rva: number, length: number, fields: HandlerRvaField[], d: Fh4Decoded, rel: readonly Omit<Fh4RelativeOffset, 'structure'>[]): Result<number> {
    const inline = this.inline;
    const lo = Math.min(rva, inline.rva);
    const hi = Math.max(rva + length, inline.rva + inline.length);
    if (hi - lo < length + inline.length) return bad(`${kind} at ${hex(rva)} overlaps the inline handler data`, rva);
    for (const s of this.structures) {
      if (rva < s.rva + s.length && s.rva < rva + length) return bad(`${kind} at ${hex(rva)} overlaps another structure at ${hex(s.rva)}`, rva);
    }
    const index = this.structures.length;
    this.structures.push({ rva: asRva(rva), length, fields }); // a u32 field that passed tableTarget: inside the image
    this.decoded.push(d);
    this.kinds.push(kind);
    // (Fields written out, in the spread's key order: a spread per IP-to-state entry costs.)
    for (const r of rel) this.relative.push({ offset: r.offset, length: r.length, functionOffset: r.functionOffset, kind: r.kind, structure: index });
    this.byRva.set(rva, index);
    return ok(index);
  }
}

/** The bytes after the handler RVA: the FuncInfo4 RVA, and GS data for `gs-fh4`. */
function readInlineData(ctx: Fh4Context, dataRva: Rva, form: 'fh4' | 'gs-fh4'): Result<{ inline: HandlerStructure; funcInfoRva: number }> {
  const ic: Cursor = { image: ctx.image, pos: dataRva };
  const funcInfoRva = readU32(ic);
  if (funcInfoRva === null) return bad('truncated handler data', dataRva);
  if (form === 'gs-fh4') {
    const gs = gsDataLength(ctx.image, ic.pos, ctx.frameSize);
    if (!gs.ok) return bad(gs.error.message, ic.pos);
    ic.pos += gs.value;
  }
  return ok({ inline: { rva: dataRva, length: ic.pos - dataRva, fields: [{ offset: 0, target: funcInfoRva, role: 'table' }] }, funcInfoRva });
}

/** A structure read from the image: its decoded content, byte length and RVA fields. */
interface ReadStructure<T> {
  readonly value: T;
  readonly length: number;
  readonly fields: HandlerRvaField[];
}

/** The RVA of a table the handler data points at: inside the image, in a data section. */
function tableTarget(ctx: Fh4Context, rva: number, what: string): Result<number> {
  if (rva === 0 || rva >= ctx.image.length) return bad(`${what} RVA ${hex(rva)} is outside the image`, rva);
  if (!ctx.isData(rva)) return bad(`${what} at ${hex(rva)} is not in a data section`, rva);
  return ok(rva);
}

/** A map's count, read after checking where it is; the cursor then stands on entry 0. */
function openMap(ctx: Fh4Context, rva: number, what: string): Result<{ c: Cursor; n: number }> {
  const t = tableTarget(ctx, rva, what);
  if (!t.ok) return t;
  const c: Cursor = { image: ctx.image, pos: rva };
  const n = readCompressed(c);
  if (n === null) return bad(`truncated ${what}`, rva);
  if (n > MAX_ENTRIES) return bad(`${what} claims ${n} entries`, rva);
  return ok({ c, n });
}

/** Reads a 4-byte RVA field of the structure at `base`; a non-zero one is listed in `fields` with `role`. */
function rvaField(c: Cursor, base: number, fields: HandlerRvaField[], role: HandlerRvaField['role'], what: string): Result<number> {
  const at = c.pos;
  const v = readU32(c);
  if (v === null) return bad(`truncated ${what}`, at);
  if (v !== 0) fields.push({ offset: at - base, target: v, role });
  return ok(v);
}

/** The FuncInfo4 at `funcInfoRva`: header checks, then the fields its bits announce. */
function readFuncInfo(ctx: Fh4Context, funcInfoRva: number): Result<ReadStructure<Fh4FuncInfo>> {
  const fiRva = tableTarget(ctx, funcInfoRva, 'FuncInfo4');
  if (!fiRva.ok) return fiRva;
  const fc: Cursor = { image: ctx.image, pos: funcInfoRva };
  const header = readU8(fc);
  if (header === null) return bad('truncated FuncInfo4', funcInfoRva);
  if ((header & FI_RESERVED) !== 0) return bad(`FuncInfo4 header ${hex(header)} has the reserved bit set`, funcInfoRva);
  if ((header & FI_IS_SEPARATED) !== 0) return bad('FuncInfo4 of a separated (PGO/BBT split) function is not carried', funcInfoRva);
  const fields: HandlerRvaField[] = [];
  let bbtFlags = 0;
  let dispUnwindMap = 0;
  let dispTryBlockMap = 0;
  let dispFrame = 0;
  if ((header & FI_BBT) !== 0) {
    const v = readCompressed(fc);
    if (v === null) return bad('truncated FuncInfo4 bbtFlags', fc.pos);
    bbtFlags = v;
  }
  if ((header & FI_UNWIND_MAP) !== 0) {
    const v = rvaField(fc, funcInfoRva, fields, 'table', 'FuncInfo4 dispUnwindMap');
    if (!v.ok) return v;
    dispUnwindMap = v.value;
  }
  if ((header & FI_TRY_BLOCK_MAP) !== 0) {
    const v = rvaField(fc, funcInfoRva, fields, 'table', 'FuncInfo4 dispTryBlockMap');
    if (!v.ok) return v;
    dispTryBlockMap = v.value;
  }
  const ipv = rvaField(fc, funcInfoRva, fields, 'table', 'FuncInfo4 dispIPtoStateMap');
  if (!ipv.ok) return ipv;
  if ((header & FI_IS_CATCH) !== 0) {
    const v = readCompressed(fc);
    if (v === null) return bad('truncated FuncInfo4 dispFrame', fc.pos);
    dispFrame = v;
  }
  return ok({ value: { header, bbtFlags, dispUnwindMap, dispTryBlockMap, dispIpToStateMap: ipv.value, dispFrame }, length: fc.pos - funcInfoRva, fields });
}

/** The UnwindMap4 at `rva`: each entry's action and the earlier state it unwinds to. */
function readUnwindMap(ctx: Fh4Context, rva: number): Result<{ entries: Fh4UnwindEntry[]; length: number; fields: HandlerRvaField[] }> {
  const opened = openMap(ctx, rva, 'unwind map');
  if (!opened.ok) return opened;
  const { c, n } = opened.value;
  const first = c.pos;
  const starts: number[] = [];
  const entries: Fh4UnwindEntry[] = [];
  const fields: HandlerRvaField[] = [];
  for (let i = 0; i < n; i++) {
    const start = c.pos;
    starts.push(start);
    const w = readCompressed(c);
    if (w === null) return bad(`truncated unwind map entry ${i}`, start);
    const type = (w & 3) as 0 | 1 | 2 | 3;
    const nextOffset = w >>> 2;
    let action = 0;
    let object = 0;
    if (type !== 0) {
      const a = rvaField(c, rva, fields, 'function', `unwind map entry ${i} action`);
      if (!a.ok) return a;
      action = a.value;
      if (action === 0) return bad(`unwind map entry ${i} has no action`, start);
      if (!ctx.isCode(action)) return bad(`${type === 3 ? 'unwind funclet' : 'destructor'} ${hex(action)} of unwind map entry ${i} is not code`, action);
      // Destructors (types 1, 2) are ordinary functions called with the object's address.
      // Unwind funclets (type 3; small ones have no .pdata entry, no prologue) take the
      // frame in rdx, destroy what lies at fixed offsets in it and return: they never
      // return into their parent and read none of its tables, and the linker folds one
      // funclet into many parents. So they are plain `function` references resolved
      // through the match like calls (an unchanged one is equivalent; a changed one is
      // carried), not `funclets` that must travel with the parent: listing them would glue
      // every parent sharing a folded funclet into one group.
    }
    if (type === 1 || type === 2) {
      const o = readCompressed(c);
      if (o === null) return bad(`truncated unwind map entry ${i} object`, c.pos);
      object = o;
    }
    // The state unwound to: an earlier entry, or before the first one (state -1).
    const to = start - nextOffset;
    let toState: number;
    if (nextOffset === 0) return bad(`unwind map entry ${i} unwinds to itself`, start);
    if (to < first) toState = -1;
    else {
      toState = starts.indexOf(to);
      if (toState < 0 || toState >= i) return bad(`unwind map entry ${i} unwinds to ${hex(to)}, which starts no earlier entry`, start);
    }
    entries.push({ nextOffset, type, action, object, toState });
  }
  return ok({ entries, length: c.pos - rva, fields });
}

/**
 * The TryBlockMap4 at `rva` (states within the `stateCount` unwind states) and the handler
 * arrays it points at, added to `found`; catch funclets go to `funclets`.
 */
function readTryBlocksAndHandlers(ctx: Fh4Context, rva: number, stateCount: number, found: Fh4Structures, funclets: Set<number>): Result<void> {
  const opened = openMap(ctx, rva, 'try-block map');
  if (!opened.ok) return opened;
  const { c, n } = opened.value;
  const entries: Fh4TryBlock[] = [];
  const fields: HandlerRvaField[] = [];
  for (let i = 0; i < n; i++) {
    const start = c.pos;
    const tryLow = readCompressed(c);
    const tryHigh = tryLow === null ? null : readCompressed(c);
    const catchHigh = tryHigh === null ? null : readCompressed(c);
    if (tryLow === null || tryHigh === null || catchHigh === null) return bad(`truncated try-block map entry ${i}`, start);
    if (!(tryLow <= tryHigh && tryHigh <= catchHigh && catchHigh < stateCount)) {
      return bad(`try-block map entry ${i} states ${tryLow}..${tryHigh}..${catchHigh} do not fit the ${stateCount} unwind states`, start);
    }
    const h = rvaField(c, rva, fields, 'table', `try-block map entry ${i} dispHandlerArray`);
    if (!h.ok) return h;
    entries.push({ tryLow, tryHigh, catchHigh, dispHandlerArray: h.value });
  }
  const r = found.add('try-block-map', rva, c.pos - rva, fields, { kind: 'try-block-map', entries }, []);
  if (!r.ok) return r;
  for (const [i, e] of entries.entries()) {
    if (e.dispHandlerArray === 0) continue;
    const existing = found.byRva.get(e.dispHandlerArray);
    if (existing !== undefined) {
      // Two try blocks sharing one handler array: parsed once, both fields point at it.
      if (found.kinds[existing] !== 'handler-map') return bad(`handler array of try block ${i} is another structure`, e.dispHandlerArray);
      continue;
    }
    const hm = parseHandlerMap(ctx, e.dispHandlerArray, i, funclets);
    if (!hm.ok) return hm;
    const r2 = found.add('handler-map', e.dispHandlerArray, hm.value.length, hm.value.fields, { kind: 'handler-map', entries: hm.value.entries }, hm.value.relative);
    if (!r2.ok) return r2;
  }
  return ok(undefined);
}

/** The IPtoStateMap4 at `rva`: function-relative offsets, increasing, inside the function. */
function readIpToStateMap(ctx: Fh4Context, rva: number, stateCount: number): Result<{ entries: Fh4IpState[]; length: number; relative: Omit<Fh4RelativeOffset, 'structure'>[] }> {
  const main = ctx.ranges[0]!;
  const opened = openMap(ctx, rva, 'IP-to-state map');
  if (!opened.ok) return opened;
  const { c, n } = opened.value;
  const entries: Fh4IpState[] = [];
  const relative: Omit<Fh4RelativeOffset, 'structure'>[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const at = c.pos;
    const delta = readCompressed(c);
    if (delta === null) return bad(`truncated IP-to-state entry ${i}`, at);
    const len = c.pos - at;
    const s = readCompressed(c);
    if (s === null) return bad(`truncated IP-to-state entry ${i}`, c.pos);
    if (i > 0 && delta === 0) return bad(`IP-to-state entry ${i} does not advance`, at);
    offset += delta;
    const state = s - 1;
    if (state >= stateCount) return bad(`IP-to-state entry ${i} names state ${state} of ${stateCount}`, at);
    // The main range holds every IP the map describes (the map is relative to its start);
    // its end is allowed as the point where the last state stops.
    if (ctx.functionStart + offset > main.end) return bad(`IP-to-state entry ${i} offset ${hex(offset)} is past the function`, at);
    entries.push({ offset, state });
    relative.push({ offset: at - rva, length: len, functionOffset: offset, kind: 'ip-to-state' });
  }
  return ok({ entries, length: c.pos - rva, relative });
}

interface ParsedHandlerMap {
  readonly length: number;
  readonly fields: HandlerRvaField[];
  readonly entries: Fh4Handler[];
  readonly relative: Omit<Fh4RelativeOffset, 'structure'>[];
}

/** Parses one HandlerMap4 (the catch clauses of try block `tryIndex`). */
function parseHandlerMap(ctx: Fh4Context, rva: number, tryIndex: number, funclets: Set<number>): Result<ParsedHandlerMap> {
  const image = ctx.image;
  if (rva >= image.length || !ctx.isData(rva)) return bad(`handler array of try block ${tryIndex} at ${hex(rva)} is not in a data section`, rva);
  const c: Cursor = { image, pos: rva };
  const n = readCompressed(c);
  if (n === null) return bad('truncated handler array', rva);
  if (n === 0 || n > MAX_ENTRIES) return bad(`handler array of try block ${tryIndex} claims ${n} entries`, rva);
  const fields: HandlerRvaField[] = [];
  const entries: Fh4Handler[] = [];
  const relative: Omit<Fh4RelativeOffset, 'structure'>[] = [];
  const main = ctx.ranges[0]!;
  for (let i = 0; i < n; i++) {
    const start = c.pos;
    const header = readU8(c);
    if (header === null) return bad(`truncated handler ${i}`, start);
    const contCount = (header >>> HT_CONT_SHIFT) & 3;
    if ((header & HT_UNUSED) !== 0 || contCount === 3) return bad(`handler ${i} header ${hex(header)} has reserved bits set`, start);
    let adjectives = 0;
    let dispType = 0;
    let dispCatchObj = 0;
    if ((header & HT_ADJECTIVES) !== 0) {
      const v = readCompressed(c);
      if (v === null) return bad(`truncated handler ${i} adjectives`, c.pos);
      adjectives = v;
    }
    if ((header & HT_DISP_TYPE) !== 0) {
      const at = c.pos;
      const v = readU32(c);
      if (v === null) return bad(`truncated handler ${i} dispType`, at);
      if (v !== 0) {
        if (v >= image.length || !ctx.isData(v)) return bad(`handler ${i} type descriptor ${hex(v)} is not in a data section`, at);
        fields.push({ offset: at - rva, target: v, role: 'data' });
      }
      dispType = v;
    }
    if ((header & HT_DISP_CATCH_OBJ) !== 0) {
      const v = readCompressed(c);
      if (v === null) return bad(`truncated handler ${i} dispCatchObj`, c.pos);
      dispCatchObj = v;
    }
    const hAt = c.pos;
    const dispOfHandler = readU32(c);
    if (dispOfHandler === null) return bad(`truncated handler ${i} dispOfHandler`, hAt);
    if (!ctx.isFunctionStart(dispOfHandler)) return bad(`catch funclet ${hex(dispOfHandler)} of handler ${i} is not a .pdata function start`, hAt);
    fields.push({ offset: hAt - rva, target: dispOfHandler, role: 'function' });
    funclets.add(dispOfHandler);
    const continuations: number[] = [];
    for (let k = 0; k < contCount; k++) {
      const at = c.pos;
      if ((header & HT_CONT_IS_RVA) !== 0) {
        const v = readU32(c);
        if (v === null) return bad(`truncated handler ${i} continuation`, at);
        if (!inRanges(ctx.ranges, v)) return bad(`continuation ${hex(v)} of handler ${i} is outside the function`, at);
        fields.push({ offset: at - rva, target: v, role: 'code' });
        continuations.push(v);
      } else {
        const v = readCompressed(c);
        if (v === null) return bad(`truncated handler ${i} continuation`, at);
        const target = ctx.functionStart + v;
        if (target < main.start || target >= main.end) return bad(`continuation +${hex(v)} of handler ${i} is outside the function's main range`, at);
        relative.push({ offset: at - rva, length: c.pos - at, functionOffset: v, kind: 'continuation' });
        continuations.push(v);
      }
    }
    entries.push({ header, adjectives, dispType, dispCatchObj, dispOfHandler, continuations });
  }
  return ok({ length: c.pos - rva, fields, entries, relative });
}

/** `parseFh4` as a dispatcher entry (HANDLER_PARSERS in compiler/eh/parse-handler-data.ts). */
export function parseFh4Handler(ctx: HandlerDataContext, dataRva: Rva, form: HandlerForm): Result<ParsedHandlerData> {
  if (form !== 'fh4' && form !== 'gs-fh4') return err(FH4_BAD, `parseFh4 cannot read form ${form}`);
  return parseFh4(ctx, dataRva, form);
}
