/**
 * Converts between the package model (formats/package.ts) and protobuf bytes, through the
 * code protobufjs-cli generated from hotpatch.proto (formats/generated/). Decoding is the
 * first place untrusted bytes become values, so it never throws on bad input: a malformed
 * message is PKG_DECODE, a well-formed one that the model cannot represent (missing target,
 * unknown enum value, unset oneof) is PKG_INVALID with the field path in the message.
 */
import $protobuf from 'protobufjs/minimal.js';
import type Long from 'long';
import { err, ok, type Result } from '../common/errors.ts';
import type { Rva } from '../common/types.ts';
import { encodeDelta } from './delta.ts';
import { hasImplicit, IMPLICIT_WIDTH } from './implicit-fixups.ts';
import { hasIntra, INTRA_WIDTH } from './intra-refs.ts';
import { defaultBaselineId } from './baseline.ts';
import { opColumnsOf, opsOfColumns } from './op-columns.ts';
import { ColumnsInvalid, fixupColumnsOf, fixupListsOfColumns, reliedGapsOf, reliedRangesOfGaps, u32 } from './fixup-columns.ts';
import { blockFactsOf, changedRecordOfBlock, FIRST_STATE, impliedBaseBlocks, impliedBaseOf, isMarker, recordMsgs21, recordOf21, withImpliedRedirects, writtenRedirects } from './function-records.ts';
import { hotpatch } from './generated/hotpatch.js';
import type {
  BlockBytes,
  CodeBlock,
  DataBlock,
  DeltaOp,
  StoredOp,
  Fixup,
  FixupKind,
  FixupTarget,
  FunctionRecord,
  FunctionStatus,
  HotpatchPackage,
  IntraRefs,
  Import,
  Redirect,
  RedirectKind,
  RvaRange,
  TargetIdentity,
  Unwind,
} from './package.ts';
import { FORMAT_MAJOR } from './package.ts';

const pb = hotpatch;

// ---- 64-bit values: bigint in the model, Long on the wire side ----

const U32 = 0xffff_ffffn;

function toLong(v: bigint, unsigned: boolean): Long {
  const bits = BigInt.asUintN(64, v);
  // protobufjs's writer only reads low/high, but hand it a real Long so its types hold.
  return new $protobuf.util.Long(Number(bits & U32) | 0, Number((bits >> 32n) & U32) | 0, unsigned) as unknown as Long;
}

function fromLong(v: Long | number | null | undefined, unsigned: boolean): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(v);
  const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

// ---- enums ----

const FIXUP_KINDS: ReadonlyArray<readonly [FixupKind, hotpatch.FixupKind]> = [
  ['rel32', pb.FixupKind.FIXUP_KIND_REL32],
  ['rel8', pb.FixupKind.FIXUP_KIND_REL8],
  ['abs64', pb.FixupKind.FIXUP_KIND_ABS64],
  ['rip-disp32', pb.FixupKind.FIXUP_KIND_RIP_DISP32],
  ['addr32nb', pb.FixupKind.FIXUP_KIND_ADDR32NB],
  ['imagerel32', pb.FixupKind.FIXUP_KIND_IMAGEREL32],
];
const REDIRECT_KINDS: ReadonlyArray<readonly [RedirectKind, hotpatch.RedirectKind]> = [
  ['jmp-rel32', pb.RedirectKind.REDIRECT_KIND_JMP_REL32],
  ['jmp-abs64', pb.RedirectKind.REDIRECT_KIND_JMP_ABS64],
  ['short-to-pad', pb.RedirectKind.REDIRECT_KIND_SHORT_TO_PAD],
];
const FUNCTION_STATUSES: ReadonlyArray<readonly [FunctionStatus, hotpatch.FunctionStatus]> = [
  ['changed', pb.FunctionStatus.FUNCTION_STATUS_CHANGED],
  ['added', pb.FunctionStatus.FUNCTION_STATUS_ADDED],
];

function wireOf<M extends string, W>(table: ReadonlyArray<readonly [M, W]>, m: M): W {
  const row = table.find(([k]) => k === m);
  if (row === undefined) throw new Error(`unknown enum value ${m}`); // model type makes this unreachable
  return row[1];
}

function modelOf<M extends string, W>(table: ReadonlyArray<readonly [M, W]>, w: W | null | undefined): M | undefined {
  return table.find(([, v]) => v === w)?.[0];
}

// ---- model -> message ----

function rangeMsg(r: RvaRange): hotpatch.RvaRange.$Properties {
  return { rva: r.rva, length: r.length };
}

/** Offsets (ascending) as gaps: the first offset, then each start minus the previous field's end. */
function gapsOf(offsets: readonly number[], width: number): number[] {
  return offsets.map((o, i) => (i === 0 ? o : o - (offsets[i - 1]! + width)));
}

/**
 * A delta's ops as a whole op (2.9) when they are one op over the whole result, else the
 * smaller of op columns (2.3) and `DeltaOp` messages (a delta of one or two ops, where the
 * columns' framing costs more than they save), or as messages alone when `opMessages` (the 2.2
 * form, which compiler/emit's delta rule was measured on).
 */
function opsMsg(ops: readonly StoredOp[], size: number, opMessages: boolean): Pick<hotpatch.Delta.$Properties, 'ops' | 'opColumns' | 'wholeOp'> {
  const messages = ops.map(deltaOpMessage);
  if (opMessages) return { ops: messages };
  const whole = wholeOpOf(ops, size);
  if (whole !== 0) return { wholeOp: whole };
  const columns = opColumnsOf(ops);
  const wire = (d: hotpatch.Delta.$Properties): number => pb.Delta.encode(d).finish().length;
  return wire({ opColumns: columns }) < wire({ ops: messages }) ? { opColumns: columns } : { ops: messages };
}

/**
 * Since 2.9 (FORMAT.md "Whole ops"): the DeltaOp kind of a delta's one op when it covers the
 * whole result from base offset 0 (a copy of an old body whose references alone moved, a
 * sealed add of a same-length edit), written as `whole_op` instead of ops; else 0.
 */
function wholeOpOf(ops: readonly StoredOp[], size: number): number {
  const op = ops.length === 1 ? ops[0]! : null;
  if (op === null || (op.kind !== 'copy' && op.kind !== 'sealed-add') || op.offset !== 0 || op.length !== size) return 0;
  return op.kind === 'copy' ? WHOLE_COPY : WHOLE_SEALED_ADD;
}

/** `whole_op` values: the DeltaOp field numbers of copy and sealed_add. */
const WHOLE_COPY = 1;
const WHOLE_SEALED_ADD = 5;

/** The ops a delta's columns (2.3) or whole op (2.9) stand for, written so whenever a 2.2 reader must refuse the delta. */
function columnsMsg(ops: readonly StoredOp[], size: number): Pick<hotpatch.Delta.$Properties, 'opColumns' | 'wholeOp'> {
  const whole = wholeOpOf(ops, size);
  return whole !== 0 ? { wholeOp: whole } : { opColumns: opColumnsOf(ops) };
}

/** The ops of a delta written with `whole_op` (2.9); PKG_INVALID beside ops or columns, or for another kind. */
function wholeOps(d: hotpatch.Delta.$Shape, at: string): StoredOp[] {
  const kind = u32(d.wholeOp);
  if ((d.ops ?? []).length > 0 || (d.opColumns !== null && d.opColumns !== undefined)) throw new Invalid(`${at}.wholeOp beside ops or opColumns`);
  const length = u32(d.size);
  if (kind === WHOLE_COPY) return [{ kind: 'copy', offset: 0, length }];
  if (kind === WHOLE_SEALED_ADD) return [{ kind: 'sealed-add', offset: 0, length }];
  throw new Invalid(`${at}.wholeOp ${kind} is not 1 (copy) or 5 (sealed_add)`);
}

function bytesMsg(b: BlockBytes, opMessages = false, impliedBase = false): hotpatch.BlockBytes.$Properties {
  if (b.kind === 'literal') return { literal: b.bytes };
  if (b.kind === 'sealed') return { sealed: b.length };
  // Moved fields (2.3) travel only beside op columns, which a 2.2 reader refuses.
  const moved = b.implicit?.moved ?? [];
  // Moved absolute fields (2.5) only in their own storage, which a 2.4 reader refuses.
  const moved64 = b.implicit?.moved64 ?? [];
  const delta: hotpatch.Delta.$Properties = {
    // Since 2.7 left out when the block's function record implies it (a 2.6 reader refuses a delta without base).
    base: impliedBase ? null : rangeMsg(b.base),
    baseSha256: b.baseSha256,
    size: b.size,
    ...(moved.length + moved64.length > 0 && !opMessages ? columnsMsg(b.ops, b.size) : opsMsg(b.ops, b.size, opMessages)),
  };
  const implicit = hasImplicit(b)
    ? {
        implicitRel32: gapsOf(b.implicit!.rel32, IMPLICIT_WIDTH.rel32),
        implicitAbs64: gapsOf(b.implicit!.abs64, IMPLICIT_WIDTH.abs64),
        implicitMovedRel32: gapsOf(moved, IMPLICIT_WIDTH.moved),
        implicitMovedAbs64: gapsOf(moved64, IMPLICIT_WIDTH.moved64),
      }
    : {};
  if (hasIntra(b) || moved64.length > 0 || b.refScan !== undefined) {
    const i = b.intra ?? { rel32: [], rel8: [], tables: [] };
    let prevEnd = 0;
    const tables = i.tables.flatMap((t) => {
      const triple = [t.offset - prevEnd, t.count, t.back];
      prevEnd = t.offset + 4 * t.count;
      return triple;
    });
    // 2.6: scanned references only in their own storage (a 2.5 reader finds none it knows), beside op columns.
    // 2.9: literal candidates too only in their own storage (a 2.8 reader finds none it knows).
    const storage = b.refScan !== undefined ? (b.scanLiterals === true ? 'deltaWithLiteralScan' : 'deltaWithRefScan') : moved64.length > 0 ? 'deltaWithMovedAbs64' : 'deltaWithIntraRefs';
    return {
      [storage]: {
        ...delta,
        ...(b.refScan !== undefined ? { opColumns: null, wholeOp: 0, ...columnsMsg(b.ops, b.size), ops: [], refScanSkips: gapsOf(b.refScan, 0) } : {}),
        ...implicit,
        extraBase: (b.extraBase ?? []).flatMap((r) => [r.rva, r.length]),
        intraRel32: gapsOf(i.rel32, INTRA_WIDTH.rel32),
        intraRel8: gapsOf(i.rel8, INTRA_WIDTH.rel8),
        intraTables: tables,
      },
    };
  }
  return hasImplicit(b) ? { deltaWithImplicitFixups: { ...delta, ...implicit } } : { delta };
}

/** A fixup list as 2.0 writes it: no entry, or one marker (its fixups are in Package.fixups). */
function fixupsMsg(fixups: readonly Fixup[]): hotpatch.Fixup.$Properties[] {
  return fixups.length === 0 ? [] : [{ columns: {} }];
}

/** Every non-empty fixup list, in package order: each code block's, then its unwind's; then each data block's. */
function fixupLists(p: HotpatchPackage): Array<readonly Fixup[]> {
  const lists = [...p.codeBlocks.flatMap((b) => [b.fixups, b.unwind?.unwindFixups ?? []]), ...p.dataBlocks.map((b) => b.fixups)];
  return lists.filter((l) => l.length > 0);
}

/** Package.fixups: the table of every list's fixups; absent when there is none. */
function fixupTableMsg(p: HotpatchPackage): hotpatch.FixupColumns.$Properties | null {
  const lists = fixupLists(p);
  return lists.length === 0 ? null : fixupColumnsOf(lists, (v) => toLong(v, false));
}

function deltaOpMessage(op: StoredOp): hotpatch.DeltaOp.$Properties {
  if (op.kind === 'copy') return { copy: { offset: op.offset, length: op.length } };
  if (op.kind === 'add') return { add: { offset: op.offset, bytes: op.bytes } };
  if (op.kind === 'sealed-literal') return { sealedLiteral: op.length };
  if (op.kind === 'sealed-add') return { sealedAdd: { offset: op.offset, length: op.length } };
  return { literal: op.bytes };
}

/** Bytes of a block's result: the literal's length, the sealed length, or the delta's declared size. */
function sizeOf(b: BlockBytes): number {
  return b.kind === 'literal' ? b.bytes.length : b.kind === 'sealed' ? b.length : b.size;
}

/**
 * Since 2.1 an entry that ends where its block ends leaves `end_offset` out (0): a function
 * alone in its block, with one .pdata entry, is then an empty RuntimeFunction message. A 2.0
 * reader refuses the empty range [begin, 0) at validation.
 */
function unwindMsg(u: Unwind, blockSize: number): hotpatch.Unwind.$Properties {
  return {
    runtimeFunctions: u.runtimeFunctions.map((r) => ({ beginOffset: r.beginOffset, endOffset: r.endOffset === blockSize ? 0 : r.endOffset, unwindInfoOffset: r.unwindInfoOffset })),
    unwindInfo: u.unwindInfo,
    unwindFixups: fixupsMsg(u.unwindFixups),
    // Since 2.3: the blob as a delta against old-image bytes (FORMAT.md "Unwind by reference");
    // since 2.4 in field 5 when it names implicit ADDR32NB fields ("Implicit unwind fixups").
    // Since 2.8 in field 6, base rva left out, when the old .pdata gives it ("Unwind base from .pdata").
    ...(u.infoDelta === undefined
      ? {}
      : u.basePdata === true
        ? { unwindDeltaPdata: { ...unwindDeltaMsg(u.infoDelta), base: { length: u.infoDelta.base.length }, implicitAddr32nb: gapsOf(u.implicitAddr32nb ?? [], 4) } }
        : (u.implicitAddr32nb ?? []).length > 0
        ? { unwindDeltaImplicit: { ...unwindDeltaMsg(u.infoDelta), implicitAddr32nb: gapsOf(u.implicitAddr32nb!, 4) } }
        : { unwindDelta: unwindDeltaMsg(u.infoDelta) }),
  };
}

/** Unwind.unwind_delta: a Delta message as a block's delta storage writes it (extra_base included). */
function unwindDeltaMsg(d: Extract<BlockBytes, { kind: 'delta' }>): hotpatch.Delta.$Properties {
  const m = bytesMsg(d);
  const delta = m.delta ?? m.deltaWithImplicitFixups ?? m.deltaWithIntraRefs;
  if (delta === null || delta === undefined) throw new Error('unwind delta: not a delta (or one with moved abs64 fields)');
  return delta;
}

/**
 * Since 2.1 a code block aligned to 16 bytes (every block the compiler writes: the x64
 * function alignment) leaves `alignment` out; a 2.0 reader refuses alignment 0 at validation.
 */
const CODE_ALIGNMENT = 16;

/** IMAGE_FILE_MACHINE_AMD64: since 2.0 written as 0 (absent), the only machine a package may name. */
const AMD64 = 0x8664;
const COMPILER_NAME = 'hotpatch-compiler ';

/** "hotpatch-compiler M.m.p" as Producer.version (since 2.0), or 0 when it must be written out. */
function producerVersion(s: string): number {
  if (!s.startsWith(COMPILER_NAME)) return 0;
  const parts = s.slice(COMPILER_NAME.length).split('.');
  if (parts.length !== 3 || parts.some((x) => !/^(0|[1-9][0-9]{0,3})$/.test(x) || Number(x) >= 1024)) return 0;
  const [a, b, c] = parts.map(Number) as [number, number, number];
  return ((a << 20) | (b << 10) | c) >>> 0;
}

function producerName(v: number): string {
  return `${COMPILER_NAME}${v >>> 20}.${(v >>> 10) & 0x3ff}.${v & 0x3ff}`;
}

/** Function records by old RVA (added ones under null): built once per package, read per redirect. */
function recordsByOldRva(functions: readonly FunctionRecord[]): Map<number | null, FunctionRecord[]> {
  const out = new Map<number | null, FunctionRecord[]>();
  for (const f of functions) {
    const l = out.get(f.oldRva);
    if (l === undefined) out.set(f.oldRva, [f]);
    else l.push(f);
  }
  return out;
}

/**
 * Since 2.0 a redirect's target may be left out when it is the block and offset of the one
 * function record with the same old RVA (how the compiler writes every changed function).
 */
function targetImplied(r: Redirect, byOldRva: ReadonlyMap<number | null, readonly FunctionRecord[]>): boolean {
  const same = byOldRva.get(r.oldRva) ?? [];
  return same.length === 1 && same[0]!.blockId === r.target.blockId && same[0]!.blockOffset === r.target.offset;
}

function redirectMsg(r: Redirect, byOldRva: ReadonlyMap<number | null, readonly FunctionRecord[]>): hotpatch.Redirect.$Properties {
  return {
    oldRva: r.oldRva,
    ...(targetImplied(r, byOldRva) ? {} : { target: { blockId: r.target.blockId, offset: r.target.offset } }),
    kind: r.kind === 'jmp-rel32' ? pb.RedirectKind.REDIRECT_KIND_UNSPECIFIED : wireOf(REDIRECT_KINDS, r.kind),
    expected: r.expected,
    ...(r.pad === null ? {} : { padRva: r.pad.rva, padExpected: r.pad.expected }),
  };
}

/** Since 2.0 a record's status is left out when its old RVA says it. */
function statusMsg(f: FunctionRecord): hotpatch.FunctionStatus {
  const derivedStatus: FunctionStatus = f.oldRva !== null && f.oldRva !== 0 ? 'changed' : 'added';
  return f.status === derivedStatus ? pb.FunctionStatus.FUNCTION_STATUS_UNSPECIFIED : wireOf(FUNCTION_STATUSES, f.status);
}

/** Whether `rva` lies in one of `ranges`. */
const inRanges = (ranges: readonly RvaRange[], rva: number): boolean => ranges.some((r) => rva >= r.rva && rva - r.rva < r.length);

/**
 * Since 2.4: a changed record whose old entry lies in a quiescent range is written with
 * status CHANGED_QUIESCENT, a value a 2.3 reader does not know: it refuses the package
 * (PKG_INVALID) instead of applying it without the quiescence check.
 */
function statusMsgOf(p: HotpatchPackage): (f: FunctionRecord) => hotpatch.FunctionStatus {
  const quiet = p.quiescent ?? [];
  if (quiet.length === 0) return statusMsg;
  return (f) => (f.status === 'changed' && f.oldRva !== null && inRanges(quiet, f.oldRva) ? pb.FunctionStatus.FUNCTION_STATUS_CHANGED_QUIESCENT : statusMsg(f));
}

function functionMsg(f: FunctionRecord, status: (f: FunctionRecord) => hotpatch.FunctionStatus = statusMsg): hotpatch.FunctionRecord.$Properties {
  return {
    name: f.name ?? '',
    oldRva: f.oldRva ?? 0,
    newRva: f.oldRva !== null && f.newRva === f.oldRva ? 0 : f.newRva,
    status: status(f),
    oldSize: f.oldSize,
    newSize: f.status === 'changed' && f.newSize === f.oldSize ? 0 : f.newSize,
    blockId: f.blockId,
    blockOffset: f.blockOffset,
  };
}

/**
 * Since 2.0 an ImageBase that is a multiple of 64 KiB (every loadable PE's: the loader
 * requires it) is written in 64 KiB units, 3 varint bytes for 0x180000000 instead of 5.
 */
function imageBaseMsg(base: bigint): Pick<hotpatch.TargetIdentity.$Properties, 'imageBase' | 'imageBaseHigh'> {
  const units = base >> 16n;
  if (base !== 0n && (base & 0xffffn) === 0n && units <= U32) return { imageBaseHigh: Number(units) };
  return { imageBase: toLong(base, true) };
}

/** Since 2.8 a module name ending in ".dll" (lower case) is written as its stem (field 12); a 2.7 reader then finds no module name and refuses. */
const DLL_SUFFIX = '.dll';

function moduleNameMsg(name: string): Pick<hotpatch.TargetIdentity.$Properties, 'moduleName' | 'moduleDllStem'> {
  return name.length > DLL_SUFFIX.length && name.endsWith(DLL_SUFFIX) ? { moduleDllStem: name.slice(0, -DLL_SUFFIX.length) } : { moduleName: name };
}

function moduleNameOf(t: hotpatch.TargetIdentity.$Shape): string {
  const stem = t.moduleDllStem ?? '';
  if (stem === '') return t.moduleName ?? '';
  if ((t.moduleName ?? '') !== '') throw new Invalid('target: module_name and module_dll_stem are both set');
  return `${stem}${DLL_SUFFIX}`;
}

function targetMsg(t: TargetIdentity): hotpatch.TargetIdentity.$Properties {
  return {
    machine: t.machine === AMD64 ? 0 : t.machine,
    timeDateStamp: t.timeDateStamp,
    sizeOfImage: t.sizeOfImage,
    checkSum: t.checkSum,
    ...imageBaseMsg(t.imageBase),
    codeView: t.codeView === null ? null : { guid: t.codeView.guid, age: t.codeView.age, pdbPath: t.codeView.pdbPath },
    ...moduleNameMsg(t.moduleName),
    reliedRangeGaps: reliedGapsOf(t.reliedRanges),
    reliedSha256: t.reliedSha256,
  };
}

/**
 * The baseline id is left empty when it is the default one (since 1.2), and since 2.0 the
 * whole series is left out when it is also the first of its baseline (sequence 1).
 */
function seriesMsg(p: HotpatchPackage): hotpatch.Series.$Properties | null {
  const baselineId = p.series.baselineId === defaultBaselineId(p.target) ? '' : p.series.baselineId;
  return baselineId === '' && p.series.sequence === 1 ? null : { baselineId, sequence: p.series.sequence };
}

type RecordMsgs = readonly [hotpatch.FunctionRecord.$Properties[], hotpatch.Redirect.$Properties[], ReadonlySet<number>];

/** Bytes of the records and redirects as repeated fields (tag, length, message). */
function recordBytes([functions, redirects]: RecordMsgs): number {
  const one = (n: number): number => n + 1 + (n < 128 ? 1 : 2);
  return functions.reduce((s, f) => s + one(pb.FunctionRecord.encode(f).finish().length), 0) + redirects.reduce((s, r) => s + one(pb.Redirect.encode(r).finish().length), 0);
}

/** Bytes the implied delta bases (2.7) leave out of their blocks: each base message with its tag and length. */
function impliedBaseBytes(p: HotpatchPackage, implied: ReadonlySet<number>): number {
  return p.codeBlocks.reduce((s, b) => s + (b.bytes.kind === 'delta' && implied.has(b.id) ? 2 + pb.RvaRange.encode(rangeMsg(b.bytes.base)).finish().length : 0), 0);
}

/**
 * The function records and redirects: since 2.1 under the 2.1 rules (function-records.ts)
 * when they can say the package and are smaller (the 2-byte marker costs more than it saves
 * on a package of one or two functions), else in the 2.0 forms.
 */
function recordsAndRedirects(p: HotpatchPackage, byOldRva: ReadonlyMap<number | null, readonly FunctionRecord[]>): RecordMsgs {
  const status = statusMsgOf(p);
  const v20: RecordMsgs = [p.functions.map((f) => functionMsg(f, status)), p.redirects.map((r) => redirectMsg(r, byOldRva)), new Set()];
  const written21 = writtenRedirects(p.redirects, p.functions);
  // Since 2.7 the records also imply the delta bases that are their old bodies.
  const implied = impliedBaseBlocks(p);
  const records21 = written21 === null ? null : recordMsgs21(p, status, implied);
  if (written21 === null || records21 === null) return v20;
  const v21: RecordMsgs = [records21, written21.map((r) => redirectMsg(r, byOldRva)), implied];
  return recordBytes(v21) - impliedBaseBytes(p, implied) < recordBytes(v20) ? v21 : v20;
}

/** The generated message for a package (exported for size accounting in inspect). */
export function toMessage(p: HotpatchPackage): hotpatch.Package.$Properties {
  const byOldRva = recordsByOldRva(p.functions);
  // Since 2.1 the records follow the 2.1 rules when they can and that is smaller.
  const [functions, redirects, implied] = recordsAndRedirects(p, byOldRva);
  return {
    target: targetMsg(p.target),
    series: seriesMsg(p),
    codeBlocks: p.codeBlocks.map((b) => ({
      id: b.id,
      alignment: b.alignment === CODE_ALIGNMENT ? 0 : b.alignment,
      bytes: bytesMsg(b.bytes, false, implied.has(b.id)),
      fixups: fixupsMsg(b.fixups),
      unwind: b.unwind === null ? null : unwindMsg(b.unwind, sizeOf(b.bytes)),
    })),
    dataBlocks: p.dataBlocks.map((b) => ({ id: b.id, alignment: b.alignment, bytes: bytesMsg(b.bytes), fixups: fixupsMsg(b.fixups), ...(b.replaces === undefined ? {} : { replaces: rangeMsg(b.replaces) }) })),
    imports: p.imports.map((i) => (i.symbol.kind === 'name' ? { dll: i.dll, name: i.symbol.name } : { dll: i.dll, ordinal: i.symbol.ordinal })),
    redirects,
    functions,
    producer: {
      ...(producerVersion(p.producer.compilerVersion) !== 0 ? { version: producerVersion(p.producer.compilerVersion) } : { compilerVersion: p.producer.compilerVersion }),
      parameters: p.producer.parameters.map((kv) => ({ key: kv.key, value: kv.value })),
    },
    fixups: fixupTableMsg(p),
    sealed: p.sealed === undefined ? null : { dictionaryGaps: reliedGapsOf(p.sealed.dictionary), frame: p.sealed.frame },
    quiescentRangeGaps: reliedGapsOf(p.quiescent ?? []),
  };
}

/** Protobuf bytes of a package (deterministic: same model, same bytes). */
export function encodePayload(p: HotpatchPackage): Uint8Array {
  return pb.Package.encode(toMessage(p)).finish();
}

// ---- message -> model ----

/** Thrown inside fromMessage only, caught in decodePayload; carries the field path. */
class Invalid {
  constructor(readonly message: string) {}
}

// An absent bytes field decodes to protobufjs's default (a Node Buffer): empty is a plain Uint8Array.
const bytesOr = (b: Uint8Array | null | undefined): Uint8Array => (b === null || b === undefined || b.length === 0 ? new Uint8Array(0) : b);
const rva = (n: number | null | undefined): Rva => ((n ?? 0) >>> 0) as Rva;

function rangeOf(m: hotpatch.RvaRange.$Shape | null | undefined, path: string): RvaRange {
  if (m === null || m === undefined) throw new Invalid(`${path} is missing`);
  return { rva: rva(m.rva), length: u32(m.length) };
}

/** Gap-coded offsets back to offsets; refuses a sum past 2^32 (no field could lie there). */
function offsetsOf(gaps: readonly number[] | null | undefined, width: number, path: string): number[] {
  const out: number[] = [];
  let next = 0;
  for (const g of gaps ?? []) {
    const o = next + u32(g);
    if (o > 0xffff_ffff) throw new Invalid(`${path}: offset past 2^32`);
    out.push(o);
    next = o + width;
  }
  return out;
}

/** The 2.1 fields of a Delta message (extra base ranges, intra references), or null when it has none. */
function intraOf(d: hotpatch.Delta.$Shape, at: string): { extraBase: RvaRange[]; intra: IntraRefs } | null {
  const eb = d.extraBase ?? [];
  const tb = d.intraTables ?? [];
  if (eb.length + (d.intraRel32?.length ?? 0) + (d.intraRel8?.length ?? 0) + tb.length === 0) return null;
  if (eb.length % 2 !== 0) throw new Invalid(`${at}.extraBase: odd count (rva, length pairs)`);
  if (tb.length % 3 !== 0) throw new Invalid(`${at}.intraTables: count not a multiple of 3 (offset gap, count, back triples)`);
  const extraBase: RvaRange[] = [];
  for (let i = 0; i < eb.length; i += 2) extraBase.push({ rva: rva(eb[i]!), length: u32(eb[i + 1]!) });
  const tables: Array<{ offset: number; count: number; back: number }> = [];
  let next = 0;
  for (let i = 0; i < tb.length; i += 3) {
    const offset = next + u32(tb[i]!);
    const count = u32(tb[i + 1]!);
    const back = u32(tb[i + 2]!);
    if (offset + 4 * count > 0xffff_ffff) throw new Invalid(`${at}.intraTables: table past 2^32`);
    if (back > offset) throw new Invalid(`${at}.intraTables: table at ${offset} starts ${back} bytes before the block`);
    tables.push({ offset, count, back });
    next = offset + 4 * count;
  }
  const rel32 = offsetsOf(d.intraRel32, INTRA_WIDTH.rel32, `${at}.intraRel32`);
  const rel8 = offsetsOf(d.intraRel8, INTRA_WIDTH.rel8, `${at}.intraRel8`);
  return { extraBase, intra: { rel32, rel8, tables } };
}

/**
 * Delta.ref_scan_skips (2.6): ascending offsets from gaps (the first offset, then each minus
 * the previous, so every later gap is at least 1); null outside deltaWithRefScan, where the
 * field must be empty, and PKG_INVALID without op columns.
 */
function refScanOf(gaps: readonly number[] | null | undefined, scanned: boolean, columns: boolean, at: string): number[] | null {
  const g = gaps ?? [];
  if (!scanned) {
    if (g.length > 0) throw new Invalid(`${at}.refScanSkips outside deltaWithRefScan`);
    return null;
  }
  if (!columns) throw new Invalid(`${at}: deltaWithRefScan without opColumns`);
  let prev = -1;
  return g.map((x, i) => {
    if (i > 0 && x === 0) throw new Invalid(`${at}.refScanSkips[${i}]: offsets must ascend`);
    prev = i === 0 ? x : prev + x;
    if (prev > 0xffff_ffff) throw new Invalid(`${at}.refScanSkips[${i}]: offset past 2^32`);
    return prev;
  });
}

/** `baseless`: since 2.7 a code block's delta may leave its base out (called then; the base is filled in from its record). */
function blockBytesOf(m: hotpatch.BlockBytes.$Shape | null | undefined, path: string, baseless: (() => void) | null = null): BlockBytes {
  if (m === null || m === undefined) throw new Invalid(`${path} is missing`);
  if (m.storage === 'literal') return { kind: 'literal', bytes: m.literal };
  if (m.storage === 'sealed') return { kind: 'sealed', length: u32(m.sealed) };
  if (m.storage === 'delta' || m.storage === 'deltaWithImplicitFixups' || m.storage === 'deltaWithIntraRefs' || m.storage === 'deltaWithMovedAbs64' || m.storage === 'deltaWithRefScan' || m.storage === 'deltaWithLiteralScan') {
    const storage = m.storage;
    const scans = storage === 'deltaWithRefScan' || storage === 'deltaWithLiteralScan';
    const implicit = storage !== 'delta';
    const d = storage === 'delta' ? m.delta : storage === 'deltaWithImplicitFixups' ? m.deltaWithImplicitFixups : storage === 'deltaWithIntraRefs' ? m.deltaWithIntraRefs : storage === 'deltaWithMovedAbs64' ? m.deltaWithMovedAbs64 : storage === 'deltaWithRefScan' ? m.deltaWithRefScan : m.deltaWithLiteralScan;
    const at = `${path}.${storage}`;
    if (d === null || d === undefined) throw new Invalid(`${at} is missing`);
    // Since 2.3 the ops are columns, and `ops` is then empty (a 2.2 reader refuses the delta).
    if (d.opColumns !== null && d.opColumns !== undefined && (d.ops ?? []).length > 0) throw new Invalid(`${at}: both ops and opColumns`);
    // Since 2.9 a whole op stands for columns (a 2.8 reader finds no ops and refuses the delta).
    const whole = u32(d.wholeOp ?? 0) !== 0;
    const columns = whole || (d.opColumns !== null && d.opColumns !== undefined);
    const ops = whole ? wholeOps(d, at) : d.opColumns !== null && d.opColumns !== undefined ? fromColumns(() => opsOfColumns(d.opColumns!, `${at}.opColumns`)) : (d.ops ?? []).map((op, i): StoredOp => {
      if (op.op === 'copy') return { kind: 'copy', offset: u32(op.copy.offset), length: u32(op.copy.length) };
      if (op.op === 'literal') return { kind: 'literal', bytes: op.literal };
      if (op.op === 'add') return { kind: 'add', offset: u32(op.add.offset), bytes: bytesOr(op.add.bytes) };
      if (op.op === 'sealedLiteral') return { kind: 'sealed-literal', length: u32(op.sealedLiteral) };
      if (op.op === 'sealedAdd') return { kind: 'sealed-add', offset: u32(op.sealedAdd.offset), length: u32(op.sealedAdd.length) };
      throw new Invalid(`${at}.ops[${i}] has no op`);
    });
    const rel32 = offsetsOf(d.implicitRel32, IMPLICIT_WIDTH.rel32, `${at}.implicitRel32`);
    const abs64 = offsetsOf(d.implicitAbs64, IMPLICIT_WIDTH.abs64, `${at}.implicitAbs64`);
    const moved = offsetsOf(d.implicitMovedRel32, IMPLICIT_WIDTH.moved, `${at}.implicitMovedRel32`);
    const moved64 = offsetsOf(d.implicitMovedAbs64, IMPLICIT_WIDTH.moved64, `${at}.implicitMovedAbs64`);
    // 2.5: moved absolute fields only in their own storage (a 2.4 reader finds none it knows), beside op columns; and that storage only with some.
    if (moved64.length > 0 && storage !== 'deltaWithMovedAbs64' && !scans) throw new Invalid(`${at}: implicitMovedAbs64 outside deltaWithMovedAbs64`);
    if (storage === 'deltaWithMovedAbs64' && moved64.length === 0) throw new Invalid(`${at}: no implicitMovedAbs64 field (write deltaWithIntraRefs)`);
    if (moved64.length > 0 && !columns) throw new Invalid(`${at}: implicitMovedAbs64 without opColumns`);
    // A plain delta with implicit fields would be misread by a 1.1 reader: never written so.
    if (!implicit && rel32.length + abs64.length + moved.length > 0) throw new Invalid(`${at}: implicit fixups outside deltaWithImplicitFixups`);
    // 2.4's unwind fields are read by unwindOf, which takes them off before this: in a block they mean nothing.
    if ((d.implicitAddr32nb ?? []).length > 0) throw new Invalid(`${at}.implicitAddr32nb: only in an unwind delta (Unwind.unwindDeltaImplicit)`);
    // Moved fields beside op messages would be misread by a 2.2 reader, which ignores them.
    if (moved.length > 0 && !columns) throw new Invalid(`${at}: implicitMovedRel32 without opColumns`);
    const implied = (d.base === null || d.base === undefined) && baseless !== null;
    if (implied) baseless();
    const base = { kind: 'delta' as const, base: implied ? NO_BASE : rangeOf(d.base, `${at}.base`), baseSha256: bytesOr(d.baseSha256), size: u32(d.size), ops };
    // deltaWithIntraRefs carries implicit fields only when it has some (the model's `implicit` is then absent).
    const withImplicit = implicit && (storage === 'deltaWithImplicitFixups' || rel32.length + abs64.length + moved.length + moved64.length > 0) ? { ...base, implicit: { rel32, abs64, ...(moved.length > 0 ? { moved } : {}), ...(moved64.length > 0 ? { moved64 } : {}) } } : base;
    const intra = intraOf(d, at);
    // 2.6: scanned references only in their own storage, beside op columns (their candidates lie in copy ops).
    const skips = refScanOf(d.refScanSkips, scans, columns, at);
    const withScan = skips === null ? withImplicit : { ...withImplicit, refScan: skips, ...(storage === 'deltaWithLiteralScan' ? { scanLiterals: true as const } : {}) };
    // 2.1 fields outside deltaWithIntraRefs would be ignored by a 2.0 reader: never written so.
    if (storage !== 'deltaWithIntraRefs' && storage !== 'deltaWithMovedAbs64' && !scans) {
      if (intra !== null) throw new Invalid(`${at}: extra base or intra references outside deltaWithIntraRefs`);
      return withScan;
    }
    return intra === null ? withScan : { ...withScan, extraBase: intra.extraBase, intra: intra.intra };
  }
  throw new Invalid(`${path} has neither literal nor delta`);
}

function fixupOf(m: hotpatch.Fixup.$Shape, path: string): Fixup {
  const kind = modelOf(FIXUP_KINDS, m.kind);
  if (kind === undefined) throw new Invalid(`${path}.kind ${String(m.kind)} is not a fixup kind`);
  let target: FixupTarget;
  if (m.target === 'imageRva') target = { kind: 'image', rva: rva(m.imageRva) };
  else if (m.target === 'block') target = { kind: 'block', blockId: u32(m.block.blockId), offset: u32(m.block.offset) };
  else if (m.target === 'importSlot') target = { kind: 'import-slot', index: u32(m.importSlot) };
  else if (m.target === 'importAddress') target = { kind: 'import-address', index: u32(m.importAddress) };
  else if (m.target === 'unwindOffset') target = { kind: 'unwind', offset: u32(m.unwindOffset) };
  else throw new Invalid(`${path} has no target`);
  return { kind, offset: u32(m.offset), target, addend: fromLong(m.addend, false) };
}

/** Package.fixups decoded: its lists, handed out in package order to the markers that name them. */
class FixupTable {
  private next = 0;
  private constructor(private readonly lists: readonly Fixup[][]) {}

  static of(c: hotpatch.FixupColumns.$Shape | null | undefined): FixupTable {
    if (c === null || c === undefined) return new FixupTable([]);
    return new FixupTable(fromColumns(() => fixupListsOfColumns(c, 'fixups', (v) => fromLong(v, false))));
  }

  take(path: string): Fixup[] {
    const l = this.lists[this.next++];
    if (l === undefined) throw new Invalid(`${path}[0]: a marker beyond the ${this.lists.length} lists of Package.fixups`);
    return l;
  }

  /** Every list of the table went to a marker. */
  checkDone(): void {
    if (this.next !== this.lists.length) throw new Invalid(`fixups: ${this.lists.length} lists for ${this.next} markers`);
  }
}

/**
 * A fixup list: a 2.0 marker (the list's one entry, kind 0, an empty `columns`) taking the
 * next list of Package.fixups, or 1.0-1.3 entries, one message each.
 */
function fixupsOf(list: readonly hotpatch.Fixup.$Shape[] | null | undefined, path: string, table: FixupTable): Fixup[] {
  const l = list ?? [];
  const at = l.findIndex((f) => f.target === 'columns');
  if (at < 0) return l.map((f, i) => fixupOf(f, `${path}[${i}]`));
  const c = l[at]!;
  if (l.length !== 1) throw new Invalid(`${path}[${at}]: a fixup marker must be the list's only entry (${l.length} entries)`);
  if ((c.kind ?? 0) !== 0 || u32(c.offset) !== 0 || fromLong(c.addend, false) !== 0n) throw new Invalid(`${path}[0]: a fixup marker with a kind, offset or addend`);
  const m = c.columns;
  const filled = m === null || m === undefined ? 0 : [m.tags, m.offsetGaps, m.targets, m.blockOffsets, m.addends, m.counts].reduce((n, col) => n + (col?.length ?? 0), 0);
  if (filled > 0) throw new Invalid(`${path}[0].columns: a marker's columns must be empty (the fixups are in Package.fixups)`);
  return table.take(path);
}

/** Relied ranges: 2.0 (gap, length) pairs, or 1.0-1.3 messages; never both. */
function reliedOf(t: hotpatch.TargetIdentity.$Shape): RvaRange[] {
  const gaps = t.reliedRangeGaps ?? [];
  const msgs = t.reliedRanges ?? [];
  if (gaps.length > 0 && msgs.length > 0) throw new Invalid('target: both reliedRanges and reliedRangeGaps');
  if (msgs.length > 0) return msgs.map((r, i) => rangeOf(r, `target.reliedRanges[${i}]`));
  return fromColumns(() => reliedRangesOfGaps(gaps, 'target.reliedRangeGaps'));
}

/** Runs a column decoder, its ColumnsInvalid turned into this module's Invalid. */
function fromColumns<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ColumnsInvalid) throw new Invalid(e.message);
    throw e;
  }
}

function unwindOf(m: hotpatch.Unwind.$Shape | null | undefined, path: string, table: FixupTable, blockSize: number, c: Compact): Unwind | null {
  if (m === null || m === undefined) return null;
  // Since 2.1 an end offset of 0 (absent) is the block's end; 1.x payloads keep 0 (invalid).
  const endOf = (e: number): number => (c.v2 && e === 0 ? blockSize : e);
  const plain = m.unwindDelta ?? null;
  const pdata = m.unwindDeltaPdata ?? null;
  const implicit = m.unwindDeltaImplicit ?? pdata;
  const field = pdata !== null ? 'unwindDeltaPdata' : implicit !== null ? 'unwindDeltaImplicit' : 'unwindDelta';
  if (plain !== null && m.unwindDeltaImplicit != null) throw new Invalid(`${path}: both unwindDelta and unwindDeltaImplicit`);
  if (pdata !== null && (plain !== null || m.unwindDeltaImplicit != null)) throw new Invalid(`${path}: unwindDeltaPdata beside unwindDelta or unwindDeltaImplicit`);
  const addr32nb = implicit === null ? [] : offsetsOf(implicit.implicitAddr32nb, 4, `${path}.${field}.implicitAddr32nb`);
  if (pdata === null && implicit !== null && addr32nb.length === 0) throw new Invalid(`${path}.unwindDeltaImplicit: no implicitAddr32nb field (write unwindDelta)`);
  // 2.8: the base rva is the old .pdata's (openUnwinds finds it); a written one is invalid.
  if (pdata !== null && (pdata.base === null || pdata.base === undefined || u32(pdata.base.rva) !== 0)) throw new Invalid(`${path}.unwindDeltaPdata.base: needs a length and no rva`);
  const d = plain ?? (implicit === null ? null : { ...implicit, implicitAddr32nb: [] });
  // Read as a block's deltaWithIntraRefs (extra_base allowed); what a 2.3 unwind delta may
  // not hold (a hash, implicit or intra fields, sealed ops) is refused at validation.
  const infoDelta = d === null ? null : blockBytesOf({ storage: 'deltaWithIntraRefs', deltaWithIntraRefs: d }, `${path}.${field}`);
  return {
    runtimeFunctions: (m.runtimeFunctions ?? []).map((r) => ({ beginOffset: u32(r.beginOffset), endOffset: endOf(u32(r.endOffset)), unwindInfoOffset: u32(r.unwindInfoOffset) })),
    unwindInfo: bytesOr(m.unwindInfo),
    unwindFixups: fixupsOf(m.unwindFixups, `${path}.unwindFixups`, table),
    ...(infoDelta?.kind === 'delta' ? { infoDelta: withoutEmptyIntra(infoDelta) } : {}),
    ...(addr32nb.length > 0 ? { implicitAddr32nb: addr32nb } : {}),
    ...(pdata !== null ? { basePdata: true as const } : {}),
  };
}

/** A delta without its `intra` lists when they are all empty (what extra_base alone decodes with). */
function withoutEmptyIntra(d: Extract<BlockBytes, { kind: 'delta' }>): Extract<BlockBytes, { kind: 'delta' }> {
  const { intra, ...rest } = d;
  return intra !== undefined && intra.rel32.length + intra.rel8.length + intra.tables.length > 0 ? d : rest;
}

function importOf(m: hotpatch.Import.$Shape, path: string): Import {
  const dll = m.dll ?? '';
  if (m.symbol === 'name') return { dll, symbol: { kind: 'name', name: m.name } };
  if (m.symbol === 'ordinal') return { dll, symbol: { kind: 'ordinal', ordinal: u32(m.ordinal) } };
  throw new Invalid(`${path} has neither name nor ordinal`);
}

/** The wire defaults that format 2 gives meaning to (codec.ts's writers leave them out). */
interface Compact {
  /** Format 2 or later: the "since 2.0" defaults apply. */
  readonly v2: boolean;
}

function redirectOf(m: hotpatch.Redirect.$Shape, path: string, c: Compact, byOldRva: ReadonlyMap<number | null, readonly FunctionRecord[]>): Redirect {
  const unset = m.kind === null || m.kind === undefined || m.kind === pb.RedirectKind.REDIRECT_KIND_UNSPECIFIED;
  const kind = c.v2 && unset ? 'jmp-rel32' : modelOf(REDIRECT_KINDS, m.kind);
  if (kind === undefined) throw new Invalid(`${path}.kind ${String(m.kind)} is not a redirect kind`);
  const oldRva = rva(m.oldRva);
  let target: Redirect['target'];
  if (m.target !== null && m.target !== undefined) target = { blockId: u32(m.target.blockId), offset: u32(m.target.offset) };
  else {
    const same = c.v2 ? (byOldRva.get(oldRva) ?? []) : [];
    if (same.length !== 1) throw new Invalid(`${path}.target is missing${c.v2 ? ` and ${same.length} function records have old RVA 0x${oldRva.toString(16)}` : ''}`);
    target = { blockId: same[0]!.blockId, offset: same[0]!.blockOffset };
  }
  const hasPad = kind === 'short-to-pad';
  return {
    oldRva,
    target,
    kind,
    expected: bytesOr(m.expected),
    pad: hasPad ? { rva: rva(m.padRva), expected: bytesOr(m.padExpected) } : null,
  };
}

/** A record's fields that read the same under the 2.0 and the 2.1 rules. */
function baseless(implied: Map<number, number>, id: number, i: number): void {
  if (implied.has(id)) throw new Invalid(`codeBlocks[${i}].bytes: the delta's base is missing and block id ${id} is not unique`);
  implied.set(id, i);
}

/** A placeholder for a code block's implied base (2.7) until its function record gives it. */
const NO_BASE: RvaRange = { rva: 0 as Rva, length: 0 };

/**
 * Since 2.7 (FORMAT.md, "Implied delta bases"): the code blocks written without a delta base
 * get their one changed record's old body; only after the 2.1 marker, else the base is missing.
 */
function withImpliedBases(code: readonly CodeBlock[], implied: ReadonlyMap<number, number>, functions: readonly FunctionRecord[], v21: boolean): CodeBlock[] {
  if (implied.size === 0) return [...code];
  const byBlock = changedRecordOfBlock(functions);
  return code.map((b, i) => {
    if (b.bytes.kind !== 'delta' || implied.get(b.id) !== i) return b;
    if (!v21) throw new Invalid(`codeBlocks[${i}].bytes: the delta's base is missing (implied only after the function-record marker)`);
    const base = impliedBaseOf(b.id, byBlock);
    if (typeof base === 'string') throw new Invalid(`codeBlocks[${i}].bytes: the delta's base is missing and cannot be implied: ${base}`);
    return { ...b, bytes: { ...b.bytes, base } };
  });
}

function recordBaseOf(m: hotpatch.FunctionRecord.$Shape, path: string, c: Compact): Omit<FunctionRecord, 'newRva' | 'oldSize' | 'newSize'> {
  const unset = m.status === null || m.status === undefined || m.status === pb.FunctionStatus.FUNCTION_STATUS_UNSPECIFIED;
  // Since 2.4 (quiescentOf checks it against the ranges): a changed record.
  const status = c.v2 && m.status === pb.FunctionStatus.FUNCTION_STATUS_CHANGED_QUIESCENT ? 'changed' : c.v2 && unset ? (u32(m.oldRva) !== 0 ? 'changed' : 'added') : modelOf(FUNCTION_STATUSES, m.status);
  if (status === undefined) throw new Invalid(`${path}.status ${String(m.status)} is not a function status`);
  const name = m.name ?? '';
  return { name: name === '' ? null : name, oldRva: status === 'added' ? null : rva(m.oldRva), status, blockId: u32(m.blockId), blockOffset: u32(m.blockOffset) };
}

/** The records of a package; since 2.1 under the 2.1 rules when the first is the marker. */
function functionsOf(msgs: readonly hotpatch.FunctionRecord.$Shape[], code: readonly CodeBlock[], c: Compact, implied: ReadonlySet<number>): { readonly functions: FunctionRecord[]; readonly v21: boolean } {
  if (!c.v2 || !isMarker(msgs[0])) return { functions: msgs.map((x, i) => functionOf(x, `functions[${i}]`, c)), v21: false };
  const facts = blockFactsOf(code, implied);
  const functions: FunctionRecord[] = [];
  let state = FIRST_STATE;
  msgs.slice(1).forEach((x, i) => {
    const path = `functions[${i + 1}]`;
    const r = recordOf21(x, recordBaseOf(x, path, c), state, facts, (why) => {
      throw new Invalid(`${path}: ${why}`);
    });
    state = r.state;
    functions.push(r.record);
  });
  return { functions, v21: true };
}

function functionOf(m: hotpatch.FunctionRecord.$Shape, path: string, c: Compact): FunctionRecord {
  const { name, oldRva, status, blockId, blockOffset } = recordBaseOf(m, path, c);
  // Since 2.0 a changed function that kept its RVA or its size leaves the new one out.
  const newRva = c.v2 && u32(m.newRva) === 0 && oldRva !== null ? oldRva : rva(m.newRva);
  const newSize = c.v2 && u32(m.newSize) === 0 && status === 'changed' ? u32(m.oldSize) : u32(m.newSize);
  return { name, oldRva, newRva, status, oldSize: u32(m.oldSize), newSize, blockId, blockOffset };
}

function imageBaseOf(t: hotpatch.TargetIdentity.$Shape): bigint {
  const units = u32(t.imageBaseHigh);
  const base = fromLong(t.imageBase, true);
  if (units === 0) return base;
  if (base !== 0n) throw new Invalid('target: image_base and image_base_high are both set');
  return BigInt(units) << 16n;
}

function fromMessage(m: hotpatch.Package.$Shape, c: Compact): HotpatchPackage {
  const t = m.target;
  if (t === null || t === undefined) throw new Invalid('target is missing');
  // Since 2.0 an absent series is the default baseline's first package.
  const s = m.series ?? (c.v2 ? { baselineId: '', sequence: 1 } : null);
  if (s === null) throw new Invalid('series is missing');
  const cv = t.codeView;
  const target: TargetIdentity = {
    machine: c.v2 && u32(t.machine) === 0 ? AMD64 : u32(t.machine),
    timeDateStamp: u32(t.timeDateStamp),
    sizeOfImage: u32(t.sizeOfImage),
    checkSum: u32(t.checkSum),
    imageBase: imageBaseOf(t),
    codeView: cv === null || cv === undefined ? null : { guid: bytesOr(cv.guid), age: u32(cv.age), pdbPath: cv.pdbPath ?? '' },
    moduleName: moduleNameOf(t),
    reliedRanges: reliedOf(t),
    reliedSha256: bytesOr(t.reliedSha256),
  };
  // Markers take the table's lists in package order: a block's fixups, then its unwind's.
  const table = FixupTable.of(m.fixups);
  // Code blocks written without a delta base (2.7): block id -> index, the first such block of the id.
  const implied = new Map<number, number>();
  const written: CodeBlock[] = (m.codeBlocks ?? []).map((b, i) => {
    const fixups = fixupsOf(b.fixups, `codeBlocks[${i}].fixups`, table);
    const bytes = blockBytesOf(b.bytes, `codeBlocks[${i}].bytes`, c.v2 ? () => baseless(implied, u32(b.id), i) : null);
    // Since 2.1 a code block's alignment 0 (absent) is 16; 1.x payloads keep 0 (invalid).
    const alignment = c.v2 && u32(b.alignment) === 0 ? CODE_ALIGNMENT : u32(b.alignment);
    return { id: u32(b.id), alignment, bytes, fixups, unwind: unwindOf(b.unwind, `codeBlocks[${i}].unwind`, table, sizeOf(bytes), c) };
  });
  const data: DataBlock[] = (m.dataBlocks ?? []).map((b, i) => ({
    id: u32(b.id),
    alignment: u32(b.alignment),
    bytes: blockBytesOf(b.bytes, `dataBlocks[${i}].bytes`),
    fixups: fixupsOf(b.fixups, `dataBlocks[${i}].fixups`, table),
    ...(b.replaces === null || b.replaces === undefined ? {} : { replaces: rangeOf(b.replaces, `dataBlocks[${i}].replaces`) }),
  }));
  table.checkDone();
  const producer = m.producer;
  const { functions, v21 } = functionsOf(m.functions ?? [], written, c, new Set(implied.keys()));
  const code = withImpliedBases(written, implied, functions, v21);
  const byOldRva = recordsByOldRva(functions);
  const listed = (m.redirects ?? []).map((x, i) => redirectOf(x, `redirects[${i}]`, c, byOldRva));
  const version = u32(producer?.version);
  const sealed = m.sealed === null || m.sealed === undefined ? {} : { sealed: { dictionary: fromColumns(() => reliedRangesOfGaps(m.sealed!.dictionaryGaps ?? [], 'sealed.dictionaryGaps')), frame: bytesOr(m.sealed.frame) } };
  const quiescent = quiescentOf(m);
  return {
    target,
    // An empty baseline (1.2) is the default one named after the target.
    series: { baselineId: (s.baselineId ?? '') === '' ? defaultBaselineId(target) : s.baselineId!, sequence: u32(s.sequence) },
    codeBlocks: code,
    dataBlocks: data,
    imports: (m.imports ?? []).map((x, i) => importOf(x, `imports[${i}]`)),
    redirects: v21 ? withImpliedRedirects(listed, functions) : listed,
    functions,
    producer: {
      // Since 2.0 the compiler's own name is its packed version.
      compilerVersion: (producer?.compilerVersion ?? '') === '' && version !== 0 ? producerName(version) : (producer?.compilerVersion ?? ''),
      parameters: (producer?.parameters ?? []).map((kv) => ({ key: kv.key ?? '', value: kv.value ?? '' })),
    },
    ...sealed,
    ...(quiescent.length === 0 ? {} : { quiescent }),
  };
}

/**
 * Since 2.4: the quiescent ranges, which must be sorted, disjoint and non-empty, and must hold
 * the old entries of exactly the records written CHANGED_QUIESCENT (so a 2.3 reader, which
 * refuses that status, never meets ranges it would ignore).
 */
function quiescentOf(m: hotpatch.Package.$Shape): RvaRange[] {
  const ranges = fromColumns(() => reliedRangesOfGaps(m.quiescentRangeGaps ?? [], 'quiescentRangeGaps'));
  ranges.forEach((r, i) => {
    if (r.length === 0) throw new Invalid(`quiescentRangeGaps[${i}]: empty range`);
    if (i > 0 && u32((m.quiescentRangeGaps ?? [])[2 * i]) === 0) throw new Invalid(`quiescentRangeGaps[${i}]: range adjoins the one before (ranges must be merged)`);
  });
  (m.functions ?? []).forEach((f, i) => {
    const quiet = f.status === pb.FunctionStatus.FUNCTION_STATUS_CHANGED_QUIESCENT;
    const inside = u32(f.oldRva) !== 0 && inRanges(ranges, u32(f.oldRva));
    if (quiet !== inside) throw new Invalid(`functions[${i}]: old entry 0x${u32(f.oldRva).toString(16)} ${inside ? 'lies in a quiescent range, status is not CHANGED_QUIESCENT' : 'lies in no quiescent range, status is CHANGED_QUIESCENT'}`);
  });
  if (ranges.length > 0 && !(m.functions ?? []).some((f) => f.status === pb.FunctionStatus.FUNCTION_STATUS_CHANGED_QUIESCENT))
    throw new Invalid('quiescentRangeGaps: no function record is CHANGED_QUIESCENT (a 2.3 reader would ignore the ranges)');
  return ranges;
}

/**
 * Decodes protobuf bytes into the model. PKG_DECODE when the bytes are not a well-formed
 * Package message, PKG_INVALID when a required part is missing or an enum is unknown.
 * (Ranges, ids and cross-references are checked by validatePackage.) `major` is the
 * container's format major: the defaults format 2 gives to absent fields (FORMAT.md,
 * "Changelog" 2.0) apply from 2 on, so a 1.x payload keeps its 1.x meaning.
 */
export function decodePayload(bytes: Uint8Array, major: number = FORMAT_MAJOR): Result<HotpatchPackage> {
  let msg: hotpatch.Package.$Shape;
  try {
    msg = pb.Package.decode(bytes);
  } catch (e) {
    // protobufjs signals malformed input by throwing (index out of range, invalid wire type);
    // that is bad input, not a bug, so it becomes an error value here.
    const why = e instanceof Error ? e.message : String(e);
    return err('PKG_DECODE', `payload is not a valid hotpatch.Package protobuf: ${why.split('\n')[0]}`);
  }
  try {
    return ok(fromMessage(msg, { v2: major >= 2 }));
  } catch (e) {
    if (e instanceof Invalid) return err('PKG_INVALID', e.message);
    throw e;
  }
}

/** Uncompressed payload bytes by kind (what `hotpatch inspect` reports). */
export interface PayloadBreakdown {
  /** Code block bytes as stored (literal bytes, or delta ops). */
  readonly code: number;
  /** Fixups of code and data blocks (since 2.0 also the unwind fixups: Package.fixups holds every list). */
  readonly fixups: number;
  /** Unwind data (RUNTIME_FUNCTIONs, UNWIND_INFO and its fixups). */
  readonly unwind: number;
  /** Data block bytes as stored. */
  readonly data: number;
  readonly imports: number;
  readonly redirects: number;
  readonly functions: number;
  /** Target identity (including the relied ranges). */
  readonly target: number;
  /** Since 2.2: the sealed frame and its dictionary ranges (the sealed blocks' bytes; their `sealed` lengths count under code and data). */
  readonly sealed: number;
  /** Series, producer, ids, alignments and the protobuf framing around all of the above. */
  readonly other: number;
  readonly total: number;
}

/**
 * Splits the encoded payload size of `p` by kind, by encoding each part on its own with the
 * generated encoders; `other` is what remains (framing, ids, series, producer).
 */
export function payloadBreakdown(p: HotpatchPackage): PayloadBreakdown {
  const m = toMessage(p);
  const len = (w: $protobuf.Writer): number => w.finish().length;
  let code = 0;
  let fixups = 0;
  let unwind = 0;
  let data = 0;
  for (const b of m.codeBlocks ?? []) {
    if (b.bytes) code += len(pb.BlockBytes.encode(b.bytes));
    for (const f of b.fixups ?? []) fixups += len(pb.Fixup.encode(f));
    if (b.unwind) unwind += len(pb.Unwind.encode(b.unwind));
  }
  for (const b of m.dataBlocks ?? []) {
    if (b.bytes) data += len(pb.BlockBytes.encode(b.bytes));
    for (const f of b.fixups ?? []) fixups += len(pb.Fixup.encode(f));
  }
  // Since 2.0 the fixups of every list (the unwinds' too) are one table: counted as fixups.
  if (m.fixups) fixups += len(pb.FixupColumns.encode(m.fixups));
  const sum = <T>(xs: readonly T[] | null | undefined, enc: (x: T) => $protobuf.Writer): number => (xs ?? []).reduce((n, x) => n + len(enc(x)), 0);
  const imports = sum(m.imports, (x) => pb.Import.encode(x));
  const redirects = sum(m.redirects, (x) => pb.Redirect.encode(x));
  const functions = sum(m.functions, (x) => pb.FunctionRecord.encode(x));
  const target = m.target ? len(pb.TargetIdentity.encode(m.target)) : 0;
  const sealed = m.sealed ? len(pb.Sealed.encode(m.sealed)) : 0;
  const total = len(pb.Package.encode(m));
  const known = code + fixups + unwind + data + imports + redirects + functions + target + sealed;
  return { code, fixups, unwind, data, imports, redirects, functions, target, sealed, other: total - known, total };
}

/** Bytes a BlockBytes value takes on the wire (the encoded message, without its field tag). */
export function encodedBlockBytesSize(b: BlockBytes, opts: { readonly opMessages?: boolean } = {}): number {
  return pb.BlockBytes.encode(bytesMsg(b, opts.opMessages ?? false)).finish().length;
}

/** Bytes a fixup list takes on the wire: its marker, and its share of Package.fixups (its columns alone). */
export function encodedFixupsSize(fixups: readonly Fixup[]): number {
  if (fixups.length === 0) return 0;
  const marker = fixupsMsg(fixups).reduce((n, f) => n + pb.Fixup.encode(f).finish().length, 0);
  return marker + pb.FixupColumns.encode(fixupColumnsOf([fixups], (v) => toLong(v, false))).finish().length;
}

/**
 * How to store `bytes`: as a delta against `base` (an old-image range, its bytes and their
 * SHA-256) when that encodes smaller than the literal, else literally. Exact wire sizes, so
 * a delta never costs more than the literal before compression (FORMAT.md measures after).
 */
export function chooseBlockBytes(bytes: Uint8Array, base?: { readonly range: RvaRange; readonly bytes: Uint8Array; readonly sha256: Uint8Array }): BlockBytes {
  const literal: BlockBytes = { kind: 'literal', bytes };
  if (base === undefined || base.bytes.length === 0 || bytes.length === 0) return literal;
  const delta: BlockBytes = { kind: 'delta', base: base.range, baseSha256: base.sha256, size: bytes.length, ops: encodeDelta(base.bytes, bytes) };
  return encodedBlockBytesSize(delta) < encodedBlockBytesSize(literal) ? delta : literal;
}
