/**
 * A committed corpus of malformed packages, one or more per refusal code, with the code each
 * must be refused with (formats/golden/malformed/expected.json). Language-neutral test
 * vectors: another loader (or a later version of this one) must refuse each file with the
 * same code. The files are built here from the golden packages; UPDATE_GOLDEN=1 rewrites
 * them, otherwise the committed files are what is loaded.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { asRva } from '../common/types.ts';
import { encodePayload } from './codec.ts';
import { FLAG_SIGNED, FLAG_STORED, loadPackage, readHeader } from './container.ts';
import { hotpatch } from './generated/hotpatch.js';
import { FORMAT_MAJOR, FORMAT_MINOR, type HotpatchPackage, type StoredOp, type Unwind } from './package.ts';
import { fullPackage, minimalPackage, oldImage, quiescentPackage, sealedPackage, unwindRefPackage } from './testing/sample-packages.ts';
import { frameWithoutSize, goldenFile, goldenKeys, rawFrame, rleFrame, wrapPayload, wrapRaw, wrapStored } from './testing/wrap.ts';
import { gather } from './delta-index.ts';
import { unsealPackage } from './seal.ts';
import { sealedLength } from './validate.ts';
import { decodeZstdFrame } from './zstd-decode.ts';

const DIR = fileURLToPath(new URL('./golden/malformed/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

function set(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const out = bytes.slice();
  out.set(values, at);
  return out;
}

/** `p` with block 0's unwind changed by `patch`; `infoDelta: null` drops it, as a 2.2 reader would. */
function withUnwind(p: HotpatchPackage, patch: { readonly unwindInfo?: Uint8Array; readonly infoDelta?: Unwind['infoDelta'] | null }): HotpatchPackage {
  const [b0, ...rest] = p.codeBlocks;
  const { infoDelta, ...u } = b0!.unwind!;
  const d = patch.infoDelta === null ? undefined : (patch.infoDelta ?? infoDelta);
  const unwind: Unwind = { ...u, unwindInfo: patch.unwindInfo ?? u.unwindInfo, ...(d === undefined ? {} : { infoDelta: d }) };
  return { ...p, codeBlocks: [{ ...b0!, unwind }, ...rest] };
}

/** `p` with block 0's unwind delta changed by `patch`. */
function withUnwindDelta(p: HotpatchPackage, patch: Partial<NonNullable<Unwind['infoDelta']>>): HotpatchPackage {
  return withUnwind(p, { infoDelta: { ...p.codeBlocks[0]!.unwind!.infoDelta!, ...patch } });
}

/**
 * name -> [bytes, code, whether the signature is checked (trusted test key) or not, and for
 * 'unseal' a package that loads and is refused when its sealed frame is decoded against
 * old-image.bin (the synthetic old image of formats/testing/sample-packages.ts), as the
 * planner does after the relied hash].
 */
type Case = readonly [Uint8Array, string, 'trusted' | 'any', 'unseal'?];

async function build(): Promise<Record<string, Case>> {
  const keys = await goldenKeys();
  const full = goldenFile('full');
  const minimal = goldenFile('minimal');
  const fullV1 = goldenFile('v1.3/full');
  const minimalV1 = goldenFile('v1.3/minimal');
  const h = readHeader(full);
  if (!h.ok) throw new Error(h.error.message);
  const flipped = full.slice();
  flipped[h.value.headerLength + 10]! ^= 0x01;
  const badRef = await fullPackage();
  const unwindRef = await unwindRefPackage();
  const invalidRaw = encodePayload({ ...badRef, redirects: [...badRef.redirects, badRef.redirects[0]!] });
  // 2.0 columns that do not add up: a targets column one short, relied gaps that are not pairs.
  const shortColumns = hotpatch.Package.decode(encodePayload(badRef));
  (shortColumns.fixups!.targets as number[]).pop();
  const oddGaps = hotpatch.Package.decode(encodePayload(badRef));
  (oddGaps.target!.reliedRangeGaps as number[]).pop();
  // 2.1: a delta base without a hash, and a redirect site without expected bytes, each
  // outside the relied ranges (so nothing would pin them before the first write).
  const uncovered = (drop: number): typeof badRef.target => ({ ...badRef.target, reliedRanges: badRef.target.reliedRanges.filter((r) => r.rva !== drop) });
  const siteExplicit = badRef.redirects.map((r) => (r.oldRva === 0x1100 ? { ...r, expected: new Uint8Array(5) } : r));
  const baseUncovered = encodePayload({ ...badRef, target: uncovered(0x1100), redirects: siteExplicit });
  const siteUncovered = encodePayload({ ...badRef, target: uncovered(0x1000), redirects: badRef.redirects.map((r) => (r.oldRva === 0x1000 ? { ...r, expected: new Uint8Array(0) } : r)) });
  // 2.1 intra references (format 2.1, "Intra-block references") that a loader must refuse.
  const withIntra = (d: Record<string, unknown>, storage: 'deltaWithIntraRefs' | 'deltaWithImplicitFixups' = 'deltaWithIntraRefs'): Uint8Array => {
    const m = hotpatch.Package.decode(encodePayload(badRef));
    const block = m.codeBlocks[0]!.bytes!;
    const delta = { ...block.deltaWithImplicitFixups!, ...d };
    m.codeBlocks[0]!.bytes = hotpatch.BlockBytes.decode(hotpatch.BlockBytes.encode({ [storage]: delta }).finish());
    return hotpatch.Package.encode(m).finish();
  };
  // 2.1 function records (after the marker): a shift on an added function, a changed
  // function's new RVA written beside its shift, a block id written beside its step.
  // 2.4: a quiescent range and the CHANGED_QUIESCENT status go together (a 2.3 reader refuses
  // the status, so a range without it would be ignored by that reader), and ranges never adjoin.
  const quiet = await quiescentPackage();
  const rangeNoStatus = hotpatch.Package.decode(encodePayload(quiet));
  for (const f of rangeNoStatus.functions) if (f.status === hotpatch.FunctionStatus.FUNCTION_STATUS_CHANGED_QUIESCENT) f.status = hotpatch.FunctionStatus.FUNCTION_STATUS_UNSPECIFIED;
  const statusNoRange = hotpatch.Package.decode(encodePayload(quiet));
  statusNoRange.quiescentRangeGaps = [];
  const adjoining = hotpatch.Package.decode(encodePayload(quiet));
  adjoining.quiescentRangeGaps = [0x1100, 0x40, 0, 0x40];
  const addedShift = hotpatch.Package.decode(encodePayload(badRef));
  addedShift.functions.find((f) => f.name === 'helper')!.shiftChange = 16;
  const rvaAndShift = hotpatch.Package.decode(encodePayload(badRef));
  rvaAndShift.functions.find((f) => f.name === 'clamp')!.newRva = 0x1010;
  const idAndStep = hotpatch.Package.decode(encodePayload(badRef));
  idAndStep.functions.find((f) => f.name === 'clamp')!.blockId = 1;
  // 2.2 sealed bytes that validation (no image) must refuse.
  const sealedRef = await sealedPackage();
  const sealedMsg = (): hotpatch.Package => hotpatch.Package.decode(encodePayload(sealedRef));
  const dictOutside = sealedMsg();
  dictOutside.sealed!.dictionaryGaps = [0x3000, 0x20];
  const sizeOff = sealedMsg();
  sizeOff.dataBlocks[0]!.bytes = hotpatch.BlockBytes.decode(hotpatch.BlockBytes.encode({ sealed: (sizeOff.dataBlocks[0]!.bytes!.sealed as number) + 1 }).finish());
  const noFrame = sealedMsg();
  noFrame.sealed = null;
  const cutFrame = sealedMsg();
  cutFrame.sealed!.frame = (cutFrame.sealed!.frame as Uint8Array).slice(0, 5);
  // 2.3 op columns that do not rebuild ops: beside `ops`, a kind that is no op, a literal
  // longer than the bytes left, a copy before the base.
  const withOpColumns = (change: (c: hotpatch.IDeltaOpColumns, d: hotpatch.IDelta) => void): Uint8Array => {
    const m = hotpatch.Package.decode(encodePayload(badRef));
    const d = m.codeBlocks[0]!.bytes!.deltaWithImplicitFixups!;
    change(d.opColumns!, d);
    return hotpatch.Package.encode(m).finish();
  };
  const opsBeside = withOpColumns((_c, d) => void (d.ops = [{ copy: { offset: 0, length: 1 } }]));
  const opKind6 = withOpColumns((c) => void (c.ops![0] = (c.ops![0]! & ~7) | 6));
  const opBytesShort = withOpColumns((c) => void (c.bytes = (c.bytes as Uint8Array).slice(0, -1)));
  const opBeforeBase = withOpColumns((c) => void (c.offsetGaps![0] = -1));
  // 2.3 moved fields beside op messages, which a 2.2 reader would apply without them.
  const movedBesideMessages = withOpColumns((_c, d) => {
    d.opColumns = null;
    d.ops = [{ copy: { offset: 0, length: 131 } }];
    d.implicitMovedRel32 = [0x20];
  });
  // 2.5 moved absolute fields outside their own storage (a 2.4 reader would apply the block
  // without them), that storage without one, and one beside op messages.
  const moved64Elsewhere = withOpColumns((_c, d) => void (d.implicitMovedAbs64 = [0x20]));
  /** Block 0's delta moved to `storage` (2.5, 2.6) after `change`. */
  const storageAs = (storage: 'deltaWithMovedAbs64' | 'deltaWithRefScan', change: (d: hotpatch.IDelta) => void): Uint8Array => {
    const m = hotpatch.Package.decode(encodePayload(badRef));
    const d = { ...m.codeBlocks[0]!.bytes!.deltaWithImplicitFixups! };
    change(d);
    m.codeBlocks[0]!.bytes = hotpatch.BlockBytes.decode(hotpatch.BlockBytes.encode({ [storage]: d }).finish());
    return hotpatch.Package.encode(m).finish();
  };
  const storage25 = (change: (d: hotpatch.IDelta) => void): Uint8Array => storageAs('deltaWithMovedAbs64', change);
  const storage25Empty = storage25(() => undefined);
  const moved64BesideMessages = storage25((d) => {
    d.opColumns = null;
    d.ops = [{ copy: { offset: 0, length: 131 } }];
    d.implicitMovedAbs64 = [0x20];
  });
  // 2.6 scanned references: skips outside their own storage (a 2.5 reader would apply the block
  // with its scanned fields unwritten), that storage beside op messages, skips out of order or
  // past the block.
  const refScanElsewhere = withOpColumns((_c, d) => void (d.refScanSkips = [0x21]));
  const storage26 = (change: (d: hotpatch.IDelta) => void): Uint8Array => storageAs('deltaWithRefScan', change);
  const refScanBesideMessages = storage26((d) => {
    d.opColumns = null;
    d.ops = [{ copy: { offset: 0, length: 131 } }];
  });
  const refScanDescending = storage26((d) => void (d.refScanSkips = [0x21, 0]));
  const refScanPastBlock = storage26((d) => void (d.refScanSkips = [0x80]));
  // 2.9 whole ops: beside op columns or op messages, a kind that is not copy or sealed_add, a
  // whole copy longer than its base (the size says how far it reads).
  const wholeOp = (kind: number, change: (d: hotpatch.IDelta) => void = () => undefined): Uint8Array =>
    withOpColumns((_c, d) => {
      d.opColumns = null;
      d.wholeOp = kind;
      change(d);
    });
  const wholeBesideColumns = withOpColumns((_c, d) => void (d.wholeOp = 1));
  const wholeBesideOps = wholeOp(1, (d) => void (d.ops = [{ copy: { offset: 0, length: 131 } }]));
  const wholeKind3 = wholeOp(3);
  const wholePastBase = wholeOp(1, (d) => void (d.size = 0x1000));
  const sealedCases = await sealedMalformed(sealedRef);
  /** A format 2 header by hand, then a 2-byte payload. */
  const hdr = (flags: number, rest: number[]): Uint8Array => Uint8Array.of(0x48, 0x50, 0x4b, 0x30 + FORMAT_MAJOR, FORMAT_MINOR, flags, ...rest, 0x0a, 0x00);
  return {
    'not-a-package': [new TextEncoder().encode('MZ this is not a package'), 'PKG_BAD_MAGIC', 'any'],
    'bad-version-digit': [set(full, 3, [0x41]), 'PKG_BAD_MAGIC', 'any'],
    'short-header': [full.slice(0, 5), 'PKG_TRUNCATED', 'any'],
    'cut-in-varint': [Uint8Array.of(0x48, 0x50, 0x4b, 0x30 + FORMAT_MAJOR, FORMAT_MINOR, 0, 0x82), 'PKG_TRUNCATED', 'any'],
    'cut-in-key-id': [full.slice(0, h.value.keyIdOffset + 2), 'PKG_TRUNCATED', 'any'],
    'truncated-signature': [full.slice(0, full.length - 1), 'PKG_TRUNCATED', 'trusted'],
    'major-3': [set(full, 3, [0x33]), 'PKG_VERSION', 'trusted'],
    'unknown-flag': [set(full, 5, [FLAG_SIGNED | 0x80]), 'PKG_FLAGS', 'trusted'],
    'payload-length-zero': [hdr(FLAG_STORED, [0x00]), 'PKG_LENGTH', 'any'],
    'payload-length-not-minimal': [hdr(FLAG_STORED, [0x82, 0x00]), 'PKG_LENGTH', 'any'],
    'payload-length-5-bytes': [hdr(FLAG_STORED, [0x82, 0x80, 0x80, 0x80, 0x00]), 'PKG_LENGTH', 'any'],
    'uncompressed-length-zero': [hdr(0, [0x02, 0x00]), 'PKG_LENGTH', 'any'],
    'stored-flag-on-zstd': [set(await wrapRaw(encodePayload(await minimalPackage())), 5, [FLAG_STORED]), 'PKG_LENGTH', 'any'],
    'trailing-byte': [Uint8Array.from([...minimal, 0]), 'PKG_LENGTH', 'any'],
    'declares-100-mib': [await wrapPayload(rleFrame(1000, 1000), 100 * 2 ** 20), 'PKG_BOMB', 'any'],
    'frame-without-size': [await wrapPayload(frameWithoutSize(Uint8Array.of(0x0a, 0x00)), 2), 'PKG_BOMB', 'any'],
    'frame-lies-10-mib': [await wrapPayload(rleFrame(1000, 10 * 2 ** 20), 1000), 'PKG_ZSTD', 'any'],
    'unsigned': [minimal, 'SIG_MISSING', 'trusted'],
    'signed-by-other-key': [await wrapRaw(encodePayload(await minimalPackage()), { key: keys.other }), 'SIG_UNTRUSTED', 'trusted'],
    'payload-bit-flip': [flipped, 'SIG_BAD', 'trusted'],
    'not-protobuf': [await wrapRaw(new Uint8Array(32).fill(0xff)), 'PKG_DECODE', 'any'],
    'stored-not-protobuf': [await wrapStored(new Uint8Array(32).fill(0xff)), 'PKG_DECODE', 'any'],
    'no-target': [await wrapRaw(Uint8Array.of(0x12, 0x00)), 'PKG_INVALID', 'any'],
    'duplicate-redirect': [await wrapRaw(invalidRaw), 'PKG_INVALID', 'any'],
    'fixup-columns-short': [await wrapRaw(hotpatch.Package.encode(shortColumns).finish()), 'PKG_INVALID', 'any'],
    'relied-gaps-odd': [await wrapRaw(hotpatch.Package.encode(oddGaps).finish()), 'PKG_INVALID', 'any'],
    'delta-base-unhashed-uncovered': [await wrapRaw(baseUncovered), 'PKG_INVALID', 'any'],
    'redirect-unexpected-uncovered': [await wrapRaw(siteUncovered), 'PKG_INVALID', 'any'],
    'intra-in-implicit-storage': [await wrapRaw(withIntra({ intraRel32: [0x10] }, 'deltaWithImplicitFixups')), 'PKG_INVALID', 'any'],
    'intra-outside-block': [await wrapRaw(withIntra({ intraRel32: [0x81] })), 'PKG_INVALID', 'any'],
    'intra-overlaps-implicit': [await wrapRaw(withIntra({ intraRel32: [0x42] })), 'PKG_INVALID', 'any'],
    'intra-overlaps-fixup': [await wrapRaw(withIntra({ intraRel8: [0x11] })), 'PKG_INVALID', 'any'],
    'intra-table-empty': [await wrapRaw(withIntra({ intraTables: [0x58, 0, 0] })), 'PKG_INVALID', 'any'],
    'intra-tables-not-triples': [await wrapRaw(withIntra({ intraTables: [0x58, 1] })), 'PKG_INVALID', 'any'],
    'extra-base-not-relied': [await wrapRaw(withIntra({ extraBase: [0x3000, 16], intraRel32: [0x58] })), 'PKG_INVALID', 'any'],
    'extra-base-odd': [await wrapRaw(withIntra({ extraBase: [0x1000] })), 'PKG_INVALID', 'any'],
    'extra-base-17-ranges': [await wrapRaw(withIntra({ extraBase: Array.from({ length: 17 }, () => [0x1000, 16]).flat() })), 'PKG_INVALID', 'any'],
    'op-columns-beside-ops': [await wrapRaw(opsBeside), 'PKG_INVALID', 'any'],
    'op-columns-kind-6': [await wrapRaw(opKind6), 'PKG_INVALID', 'any'],
    'whole-op-beside-op-columns': [await wrapRaw(wholeBesideColumns), 'PKG_INVALID', 'any'],
    'whole-op-beside-ops': [await wrapRaw(wholeBesideOps), 'PKG_INVALID', 'any'],
    'whole-op-kind-3': [await wrapRaw(wholeKind3), 'PKG_INVALID', 'any'],
    'whole-op-past-base': [await wrapRaw(wholePastBase), 'PKG_INVALID', 'any'],
    'op-columns-bytes-short': [await wrapRaw(opBytesShort), 'PKG_INVALID', 'any'],
    'op-columns-before-base': [await wrapRaw(opBeforeBase), 'PKG_INVALID', 'any'],
    'moved-without-op-columns': [await wrapRaw(movedBesideMessages), 'PKG_INVALID', 'any'],
    'moved-abs64-outside-its-storage': [await wrapRaw(moved64Elsewhere), 'PKG_INVALID', 'any'],
    'moved-abs64-storage-without-field': [await wrapRaw(storage25Empty), 'PKG_INVALID', 'any'],
    'moved-abs64-without-op-columns': [await wrapRaw(moved64BesideMessages), 'PKG_INVALID', 'any'],
    'ref-scan-outside-its-storage': [await wrapRaw(refScanElsewhere), 'PKG_INVALID', 'any'],
    'ref-scan-without-op-columns': [await wrapRaw(refScanBesideMessages), 'PKG_INVALID', 'any'],
    'ref-scan-skips-descending': [await wrapRaw(refScanDescending), 'PKG_INVALID', 'any'],
    'ref-scan-skip-past-block': [await wrapRaw(refScanPastBlock), 'PKG_INVALID', 'any'],
    'quiescent-range-without-status': [await wrapRaw(hotpatch.Package.encode(rangeNoStatus).finish()), 'PKG_INVALID', 'any'],
    'quiescent-status-without-range': [await wrapRaw(hotpatch.Package.encode(statusNoRange).finish()), 'PKG_INVALID', 'any'],
    'quiescent-ranges-adjoin': [await wrapRaw(hotpatch.Package.encode(adjoining).finish()), 'PKG_INVALID', 'any'],
    'shift-on-added-function': [await wrapRaw(hotpatch.Package.encode(addedShift).finish()), 'PKG_INVALID', 'any'],
    'new-rva-beside-shift': [await wrapRaw(hotpatch.Package.encode(rvaAndShift).finish()), 'PKG_INVALID', 'any'],
    'block-id-beside-step': [await wrapRaw(hotpatch.Package.encode(idAndStep).finish()), 'PKG_INVALID', 'any'],
    'sealed-dictionary-not-relied': [await wrapRaw(hotpatch.Package.encode(dictOutside).finish()), 'PKG_INVALID', 'any'],
    'sealed-size-not-sum': [await wrapRaw(hotpatch.Package.encode(sizeOff).finish()), 'PKG_INVALID', 'any'],
    'sealed-without-frame': [await wrapRaw(hotpatch.Package.encode(noFrame).finish()), 'PKG_INVALID', 'any'],
    'sealed-frame-header-cut': [await wrapRaw(hotpatch.Package.encode(cutFrame).finish()), 'PKG_INVALID', 'any'],
    // Format 2.3: unwind info by reference to old-image bytes.
    'unwind-ref-not-relied': [await wrapRaw(encodePayload(withUnwindDelta(unwindRef, { extraBase: [{ rva: asRva(0x3000), length: 4 }] }))), 'PKG_INVALID', 'any'],
    'unwind-ref-past-image': [await wrapRaw(encodePayload(withUnwindDelta(unwindRef, { base: { rva: asRva(0x3ffc), length: 12 } }))), 'PKG_INVALID', 'any'],
    'unwind-ref-beside-literal': [await wrapRaw(encodePayload(withUnwind(unwindRef, { unwindInfo: new Uint8Array(16) }))), 'PKG_INVALID', 'any'],
    'unwind-ref-short-ops': [await wrapRaw(encodePayload(withUnwindDelta(unwindRef, { size: 20 }))), 'PKG_INVALID', 'any'],
    'unwind-ref-sealed-op': [await wrapRaw(encodePayload(withUnwindDelta(unwindRef, { ops: [{ kind: 'copy', offset: 0, length: 12 }, { kind: 'sealed-literal', length: 4 }] }))), 'PKG_INVALID', 'any'],
    // What a 2.2 reader sees: field 4 unknown, an empty unwind_info under two entries.
    'unwind-ref-as-2.2-reads-it': [await wrapRaw(encodePayload(withUnwind(unwindRef, { infoDelta: null }))), 'PKG_INVALID', 'any'],
    ...sealedCases,
    // Format 1 (the 32-byte header of 1.0-1.3), still read.
    'v1-short-header': [fullV1.slice(0, 20), 'PKG_TRUNCATED', 'any'],
    'v1-major-2-field': [set(fullV1, 4, [2, 0]), 'PKG_VERSION', 'trusted'],
    'v1-unknown-flag': [set(fullV1, 8, [0x81]), 'PKG_FLAGS', 'trusted'],
    'v1-declares-256-mib': [set(minimalV1, 16, [0, 0, 0, 0x10]), 'PKG_BOMB', 'any'],
    'v1-payload-bit-flip': [set(fullV1, 42, [fullV1[42]! ^ 1]), 'SIG_BAD', 'trusted'],
  };
}

/** The package as a message, with `edit` applied. */
function messageOf(p: HotpatchPackage, edit: (m: hotpatch.Package) => void): Uint8Array {
  const m = hotpatch.Package.decode(encodePayload(p));
  edit(m);
  return hotpatch.Package.encode(m).finish();
}

/**
 * Format 2.2 sealed packages with the refusal each must get: at load (validation, no image) a
 * dictionary range over SizeOfImage's end, a frame naming a dictionary id or not declaring its
 * size, a sealed op of 2 GiB (the budget); once the frame is decoded (unseal) a frame that
 * regenerates more or fewer bytes than it declares, bytes after it, a wrong checksum, and a
 * sealed add that changes an implicit field.
 */
async function sealedMalformed(sealed: HotpatchPackage): Promise<Record<string, Case>> {
  const total = sealedLength(sealed);
  const content = decodeZstdFrame(sealed.sealed!.frame, total, gather(oldImage(), sealed.sealed!.dictionary)!);
  if (!content.ok) throw new Error(content.error.message);
  const c = content.value;
  const withFrame = (frame: Uint8Array): Uint8Array => messageOf(sealed, (m) => (m.sealed!.frame = frame));
  const namesId = rawFrame(c);
  const withId = Uint8Array.from([...namesId.subarray(0, 4), namesId[4]! | 0x01, 0x2a, ...namesId.subarray(5)]);
  const checksummed = Uint8Array.from([...rawFrame(c), 0, 0, 0, 0]);
  checksummed[4] = checksummed[4]! | 0x04;
  // A sealed op of 2^31 - 1 bytes in a delta of 0x83, with a frame that declares the sum. Written
  // as 2.3 op columns, the copy after it starts 2 GiB on, past the 32-bit base offsets, so the
  // decoder refuses it (PKG_INVALID) before the budget would (PKG_BOMB); the budget's count of
  // sealed ops is pinned by formats/seal.test.ts on the model.
  const b = sealed.codeBlocks[0]!;
  if (b.bytes.kind !== 'delta') throw new Error('delta block expected');
  const at = b.bytes.ops.findIndex((op) => op.kind === 'sealed-literal');
  const ops = b.bytes.ops.map((op, k): StoredOp => (k === at ? { kind: 'sealed-literal', length: 0x7fff_ffff } : op));
  const huge: HotpatchPackage = { ...sealed, codeBlocks: [{ ...b, bytes: { ...b.bytes, ops } }, ...sealed.codeBlocks.slice(1)] };
  const hugeFrame = new Uint8Array(16);
  new DataView(hugeFrame.buffer).setUint32(0, 0xfd2fb528, true);
  hugeFrame[4] = 0xe0;
  new DataView(hugeFrame.buffer).setBigUint64(5, BigInt(sealedLength(huge)), true);
  hugeFrame.set([1, 0, 0], 13);
  return {
    'sealed-dictionary-past-image-end': [await wrapRaw(messageOf(sealed, (m) => (m.sealed!.dictionaryGaps = [0x3ff0, 0x20]))), 'PKG_INVALID', 'any'],
    'sealed-frame-names-dictionary-id': [await wrapRaw(withFrame(withId)), 'PKG_INVALID', 'any'],
    'sealed-frame-without-size': [await wrapRaw(withFrame(frameWithoutSize(c))), 'PKG_INVALID', 'any'],
    'sealed-op-declares-2-gib': [await wrapRaw(messageOf({ ...huge, sealed: { ...sealed.sealed!, frame: hugeFrame } }, () => undefined)), 'PKG_INVALID', 'any'],
    'sealed-frame-longer': [await wrapRaw(withFrame(rawFrame(Uint8Array.from([...c, 0x90]), total))), 'PKG_ZSTD', 'any', 'unseal'],
    'sealed-frame-shorter': [await wrapRaw(withFrame(rawFrame(c.subarray(0, total - 1), total))), 'PKG_ZSTD', 'any', 'unseal'],
    'sealed-frame-trailing-bytes': [await wrapRaw(withFrame(Uint8Array.from([...rawFrame(c), 0, 0, 0, 0]))), 'PKG_ZSTD', 'any', 'unseal'],
    'sealed-frame-checksum-wrong': [await wrapRaw(withFrame(checksummed)), 'PKG_ZSTD', 'any', 'unseal'],
  };
}

describe('malformed package corpus', async () => {
  const keys = await goldenKeys();
  const cases = await build();
  const expectedPath = join(DIR, 'expected.json');
  if (UPDATE) {
    mkdirSync(DIR, { recursive: true });
    for (const [name, [bytes]] of Object.entries(cases)) writeFileSync(join(DIR, `${name}.hpk`), bytes);
    writeFileSync(join(DIR, 'old-image.bin'), oldImage());
    const expected = Object.fromEntries(Object.entries(cases).map(([name, [, code, trust, stage]]) => [name, stage === undefined ? { code, trust } : { code, trust, stage }]));
    writeFileSync(expectedPath, `${JSON.stringify(expected, null, 2)}\n`);
  }
  const expected = existsSync(expectedPath) ? (JSON.parse(readFileSync(expectedPath, 'utf8')) as Record<string, { code: string; trust: 'trusted' | 'any'; stage?: 'unseal' }>) : {};
  const old = new Uint8Array(readFileSync(join(DIR, 'old-image.bin')));

  it('old-image.bin is the synthetic old image the sealed cases are decoded against', () => {
    expect(Buffer.from(old).equals(Buffer.from(oldImage()))).toBe(true);
  });

  it('lists every case that is built here', () => {
    expect(Object.keys(expected).sort()).toEqual(Object.keys(cases).sort());
  });

  for (const [name, { code, trust, stage }] of Object.entries(expected)) {
    it(`${name}.hpk is refused with ${code}${stage === undefined ? '' : ` when its sealed frame is decoded`}`, async () => {
      const bytes = new Uint8Array(readFileSync(join(DIR, `${name}.hpk`)));
      expect(Buffer.from(bytes).equals(Buffer.from(cases[name]![0])), 'committed file differs from its construction').toBe(true);
      const r = await loadPackage(bytes, trust === 'trusted' ? { trusted: [keys.trusted], allowUnsigned: false } : { trusted: [], allowUnsigned: true, readOnly: stage === undefined });
      if (stage === undefined) return expect(r.ok ? 'ok' : r.error.code).toBe(code);
      // Loads (validation reads the frame's header only), then is refused where the planner decodes it.
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      const u = unsealPackage(r.value.package, old);
      expect(u.ok ? 'ok' : u.error.code).toBe(code);
    });
  }
});
