/**
 * Semantic validation of a decoded package: everything that can be checked without the
 * target image. Ids resolve, offsets and lengths stay inside their blocks and inside
 * SizeOfImage, fixups fit and do not overlap, redirects are well-formed and disjoint, and
 * every old-image byte a delta reads is covered by the relied ranges (so the identity hash
 * really pins it; the bytes a redirect overwrites are pinned by its expected bytes). The first problem found is returned as PKG_INVALID
 * with the field path, e.g. `codeBlocks[2].fixups[5]: offset 120 + 4 bytes outside its
 * 122-byte block`. The rules are listed in FORMAT.md ("Validation").
 */
import { err, ok, type Result } from '../common/errors.ts';
import { checkDelta } from './delta.ts';
import { checkImplicitFixups, hasImplicit, implicitSpans } from './implicit-fixups.ts';
import { baseLength, checkIntraRefs, intraSpans } from './intra-refs.ts';
import { copySource } from './delta-index.ts';
import { changedRecordOfBlock } from './function-records.ts';
import { IMAGE_FILE_MACHINE_AMD64 } from '../runtime/pe/types.ts';
import { readZstdFrameHeader } from './zstd.ts';
import {
  REDIRECT_PAD_LENGTH,
  REDIRECT_SITE_LENGTH,
  RELIED_HASH_LENGTH,
  type BlockBytes,
  type Unwind,
  type Fixup,
  type FixupKind,
  type FunctionRecord,
  type HotpatchPackage,
  type RvaRange,
} from './package.ts';

/** Dictionary ranges a sealed frame may name (format 2.2; the compiler writes a few dozen). */
export const MAX_SEALED_DICTIONARY_RANGES = 4096;

/** Extra base ranges a delta may name (format 2.1). */
export const MAX_EXTRA_BASE = 16;

/** Bytes a fixup of each kind writes. */
export const FIXUP_WIDTH: Readonly<Record<FixupKind, number>> = { rel32: 4, rel8: 1, abs64: 8, 'rip-disp32': 4, addr32nb: 4, imagerel32: 4 };

const MAX_ALIGNMENT = 4096;
const MAX_NAME = 1024;
/** Quiescent ranges a package may list (each is checked against every thread's stack words). */
const MAX_QUIESCENT_RANGES = 65536;
/**
 * Most bytes a package's blocks may expand to, summed over code and data blocks (literal
 * bytes, delta `size`s and their alignment padding), and most bytes their delta bases may
 * read. A delta declares its size in a few bytes, so this is checked before anything is
 * expanded; it is the runtime's patch-region limit (runtime/plan MAX_REGION), which a larger
 * package could never fit anyway.
 */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/** Largest target SizeOfImage (the pe-parser's mapping limit). */
export const MAX_TARGET_IMAGE = 1 << 30;

/** The length of a block's bytes once materialised. */
export function blockSize(b: BlockBytes): number {
  return b.kind === 'literal' ? b.bytes.length : b.kind === 'sealed' ? b.length : b.size;
}

class Invalid {
  constructor(readonly message: string) {}
}
function fail(message: string): never {
  throw new Invalid(message);
}

/** Checks that `[rva, rva+len)` is inside the image. */
function inImage(rva: number, len: number, sizeOfImage: number, what: string): void {
  if (rva + len > sizeOfImage) fail(`${what}: [0x${rva.toString(16)}, 0x${(rva + len).toString(16)}) is outside SizeOfImage 0x${sizeOfImage.toString(16)}`);
}

/**
 * True when `[rva, rva+len)` lies inside one relied range (ranges are sorted and merged): bytes
 * the runtime has hash-checked (TargetIdentity.relied_sha256) before it reads them. Since 2.1
 * such bytes need no hash or copy of their own (Delta.base_sha256, Redirect.expected).
 */
export function coveredByRelied(ranges: readonly RvaRange[], rva: number, len: number): boolean {
  // Binary search for the last range starting at or before rva.
  let lo = 0;
  let hi = ranges.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.rva <= rva) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return false;
  const r = ranges[found]!;
  return rva + len <= r.rva + r.length;
}

function checkFixups(fixups: readonly Fixup[], size: number, path: string, ctx: { blocks: Map<number, number>; imports: number; sizeOfImage: number }, inUnwind: boolean, bytes?: BlockBytes): void {
  const spans: Array<readonly [number, number, number]> = [];
  // Implicit fixups (1.2) are fields too: no explicit fixup may overlap one (index -1).
  if (bytes?.kind === 'delta') for (const [o, w] of implicitSpans(bytes.implicit)) spans.push([o, o + w, -1]);
  // So are intra references (2.1): the runtime rewrites them, no fixup may write there too.
  if (bytes?.kind === 'delta') for (const [o, w] of intraSpans(bytes.intra)) spans.push([o, o + w, -2]);
  fixups.forEach((f, i) => {
    const at = `${path}[${i}]`;
    const w = FIXUP_WIDTH[f.kind];
    // ADDR32NB is relative to the unwind base the runtime registers the function table with,
    // which only unwind data is read against; in code or data it would mean something else.
    if (f.kind === 'addr32nb' && !inUnwind) fail(`${at}: addr32nb fixups belong in unwind data only`);
    // IMAGEREL32 is what code and data read as `__ImageBase + value`; unwind data is read
    // against the unwind base instead (addr32nb).
    if (f.kind === 'imagerel32' && inUnwind) fail(`${at}: imagerel32 fixups belong in code or data blocks only`);
    if (f.offset + w > size) fail(`${at}: offset ${f.offset} + ${w} bytes is outside its ${size}-byte container`);
    const t = f.target;
    if (t.kind === 'image') {
      if (t.rva >= ctx.sizeOfImage) fail(`${at}: target RVA 0x${t.rva.toString(16)} is outside SizeOfImage`);
    } else if (t.kind === 'block') {
      const len = ctx.blocks.get(t.blockId);
      if (len === undefined) fail(`${at}: target block ${t.blockId} does not exist`);
      if (t.offset > len) fail(`${at}: target offset ${t.offset} is past the end of block ${t.blockId} (${len} bytes)`);
    } else if (t.kind === 'unwind') {
      // Handler tables in the unwind blob point at each other; nothing else may point there.
      if (!inUnwind) fail(`${at}: unwind_offset targets belong in unwind fixups only`);
      if (t.offset > size) fail(`${at}: target unwind offset ${t.offset} is past the end of the ${size}-byte unwind info`);
    } else if (t.index >= ctx.imports) {
      fail(`${at}: import ${t.index} does not exist (${ctx.imports} imports)`);
    }
    if (f.addend < -(2n ** 63n) || f.addend >= 2n ** 63n) fail(`${at}: addend is not a signed 64-bit value`);
    spans.push([f.offset, f.offset + w, i]);
  });
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    if (cur[0] < prev[1]) {
      const name = (k: number, o: number): string => (k === -1 ? `the implicit fixup at ${o}` : k === -2 ? `the intra reference at ${o}` : `${path}[${k}]`);
      fail(`${name(cur[2], cur[0])}: overlaps ${name(prev[2], prev[0])}`);
    }
  }
}

function checkBytes(b: BlockBytes, path: string, p: HotpatchPackage, pdataBase = false): void {
  if (b.kind === 'literal') {
    if (b.bytes.length === 0) fail(`${path}: block is empty`);
    return;
  }
  if (b.kind === 'sealed') {
    if (b.length === 0) fail(`${path}: block is empty`);
    if (p.sealed === undefined) fail(`${path}: sealed bytes, and the package has no sealed frame`);
    return;
  }
  if (b.size === 0) fail(`${path}: block is empty`);
  if (b.base.length === 0) fail(`${path}.base: empty range`);
  // 2.8: an unwind base from the old .pdata is placed and checked by openUnwinds, against the image.
  if (!pdataBase) inImage(b.base.rva, b.base.length, p.target.sizeOfImage, `${path}.base`);
  // Since 2.1 empty: the base is pinned by the relied-bytes hash alone (it must be covered,
  // below, as it always had to be; a 2.0 reader refuses the empty hash here).
  if (b.baseSha256.length !== 32 && b.baseSha256.length !== 0) fail(`${path}.baseSha256: ${b.baseSha256.length} bytes, expected 32 (or none)`);
  if (!pdataBase && !coveredByRelied(p.target.reliedRanges, b.base.rva, b.base.length)) fail(`${path}.base: not covered by target.reliedRanges`);
  // 2.1: more old ranges after `base`, each held to the base's rules (the relied hash pins them).
  // At most MAX_EXTRA_BASE ranges: base offsets are looked up in them per field (the compiler writes one).
  if ((b.extraBase ?? []).length > MAX_EXTRA_BASE) fail(`${path}.extraBase: ${b.extraBase!.length} ranges, at most ${MAX_EXTRA_BASE}`);
  (b.extraBase ?? []).forEach((r, i) => {
    if (r.length === 0) fail(`${path}.extraBase[${i}]: empty range`);
    inImage(r.rva, r.length, p.target.sizeOfImage, `${path}.extraBase[${i}]`);
    if (!coveredByRelied(p.target.reliedRanges, r.rva, r.length)) fail(`${path}.extraBase[${i}]: not covered by target.reliedRanges`);
  });
  const d = checkDelta(b.ops, baseLength(b), b.size, path);
  if (!d.ok) fail(d.error.message);
  const im = checkImplicitFixups(b, path);
  if (!im.ok) fail(im.error.message);
  const ir = checkIntraRefs(b, path);
  if (!ir.ok) fail(ir.error.message);
  // 2.6: a skipped scanned call is a 4-byte field after its E8 (formats/ref-scan.ts); the scan itself needs the old image.
  (b.refScan ?? []).forEach((o, i) => {
    if (o < 1 || o + 4 > b.size || (i > 0 && o <= b.refScan![i - 1]!)) fail(`${path}.refScan[${i}]: offset ${o} is not a scanned field of the ${b.size}-byte block in ascending order`);
  });
  // 2.9: literal candidates are scanned only by a scanning delta (the codec reads them only so),
  // whose base (indexed by its 8-byte windows when the block is opened) is bounded.
  if (b.scanLiterals === true && b.refScan === undefined) fail(`${path}: scanned literal references without a scan`);
  if (b.scanLiterals === true && baseLength(b) > LITERAL_SCAN_MAX_BASE) fail(`${path}: scanned literal references over a ${baseLength(b)}-byte base (at most ${LITERAL_SCAN_MAX_BASE})`);
}

/** Since 2.9: the most base bytes a delta that scans its literal ops may have (its context index holds one entry a byte). */
export const LITERAL_SCAN_MAX_BASE = 1 << 20;

/** Length of a block's unwind info once materialised: the literal blob's, or (2.3) its delta's size. */
export function unwindInfoLength(u: Unwind): number {
  return u.infoDelta === undefined ? u.unwindInfo.length : u.infoDelta.size;
}

/**
 * Since 2.3 an unwind blob may be a delta against old-image bytes (FORMAT.md "Unwind by
 * reference"): held to a block delta's rules (base and extra ranges inside the image and the
 * relied ranges, ops inside them, `size` bytes), with no literal blob beside it, no hash (the
 * relied hash pins every range), and none of what a block delta may add to its ops: implicit
 * or intra fields (the unwind fixups name every field), sealed ops (unwind is not sealed).
 */
function checkUnwindDelta(u: Unwind, path: string, p: HotpatchPackage, blockId: number, changedOf: ReadonlyMap<number, FunctionRecord | null>): void {
  const d = u.infoDelta!;
  // 2.8 (FORMAT.md "Unwind base from .pdata"): the base starts where the old .pdata entry of the
  // block's one changed record points; the image is needed to say where, not whether one exists.
  if (u.basePdata === true && typeof changedOf.get(blockId)?.oldRva !== 'number') fail(`${path}: base from the old .pdata, and no one changed record names block ${blockId}`);
  if (u.unwindInfo.length > 0) fail(`${path}: both unwindInfo and unwindDelta`);
  if (d.baseSha256.length > 0) fail(`${path}.baseSha256: an unwind delta carries no hash (the relied ranges pin its base)`);
  if (hasImplicit(d) || (d.intra !== undefined && d.intra.rel32.length + d.intra.rel8.length + d.intra.tables.length > 0)) fail(`${path}: implicit or intra fields in an unwind delta`);
  if (d.ops.some((op) => op.kind === 'sealed-literal' || op.kind === 'sealed-add')) fail(`${path}: sealed ops in an unwind delta`);
  if (d.refScan !== undefined || d.scanLiterals !== undefined) fail(`${path}: scanned references in an unwind delta`);
  checkBytes(d, path, p, u.basePdata === true);
  const bad = checkImplicitUnwind(u);
  if (bad !== null) fail(`${path}: ${bad}`);
}

/** Bytes of a 2.4 implicit ADDR32NB unwind field. */
const IMPLICIT_ADDR32NB_WIDTH = 4;

/**
 * Since 2.4 (FORMAT.md "Implicit unwind fixups"), what needs no image: implicit ADDR32NB
 * fields only beside an unwind delta, ascending and disjoint, inside the blob and one copy op,
 * apart from every explicit unwind fixup. A string names the first bad field.
 */
function checkImplicitUnwind(u: Unwind): string | null {
  const offsets = u.implicitAddr32nb ?? [];
  if (offsets.length === 0) return null;
  const d = u.infoDelta;
  if (d === undefined) return 'implicit ADDR32NB fields without an unwind delta';
  let end = 0;
  for (const o of offsets) {
    if (o < end) return `implicit ADDR32NB field at ${o} overlaps the previous one`;
    if (o + IMPLICIT_ADDR32NB_WIDTH > d.size || copySource(d.ops, o, IMPLICIT_ADDR32NB_WIDTH) === null) return `implicit ADDR32NB field at ${o} is not inside one copy op of the ${d.size}-byte blob`;
    end = o + IMPLICIT_ADDR32NB_WIDTH;
  }
  // One sweep over both lists, sorted by start (the implicit offsets already are).
  const explicit = u.unwindFixups.map((f) => [f.offset, f.offset + FIXUP_WIDTH[f.kind]] as const).sort((a, b) => a[0] - b[0]);
  let j = 0;
  for (const o of offsets) {
    while (j < explicit.length && explicit[j]![1] <= o) j++;
    const x = explicit[j];
    if (x !== undefined && x[0] < o + IMPLICIT_ADDR32NB_WIDTH) return `implicit ADDR32NB field at ${o} overlaps an unwind fixup`;
  }
  return null;
}

function run(p: HotpatchPackage): void {
  const t = p.target;
  if (t.machine !== IMAGE_FILE_MACHINE_AMD64) fail(`target.machine: 0x${t.machine.toString(16)} is not AMD64 (0x8664)`);
  if (t.sizeOfImage === 0) fail('target.sizeOfImage: 0');
  if (t.moduleName.length === 0 || t.moduleName.length > MAX_NAME) fail('target.moduleName: empty or too long');
  if (t.codeView !== null && t.codeView.guid.length !== 16) fail(`target.codeView.guid: ${t.codeView.guid.length} bytes, expected 16`);
  // Since 1.3: empty when there are no relied ranges (a package relying on no bytes).
  // Since 2.8 the first 16 bytes of the digest (a 2.7 reader refuses them here); 1.x-2.7 wrote all 32.
  const hashLengths = t.reliedRanges.length === 0 ? [0] : [RELIED_HASH_LENGTH, 32];
  if (!hashLengths.includes(t.reliedSha256.length)) fail(`target.reliedSha256: ${t.reliedSha256.length} bytes, expected ${t.reliedRanges.length === 0 ? '0 (no relied ranges)' : `${RELIED_HASH_LENGTH} or 32`}`);
  t.reliedRanges.forEach((r, i) => {
    if (r.length === 0) fail(`target.reliedRanges[${i}]: empty range`);
    inImage(r.rva, r.length, t.sizeOfImage, `target.reliedRanges[${i}]`);
    const prev = t.reliedRanges[i - 1];
    if (prev !== undefined && r.rva <= prev.rva + prev.length) fail(`target.reliedRanges[${i}]: not sorted, disjoint and non-adjacent (merge it with the previous range)`);
  });
  checkQuiescent(p);
  if (p.series.baselineId.length === 0 || p.series.baselineId.length > MAX_NAME) fail('series.baselineId: empty or too long');
  if (p.producer.compilerVersion.length === 0) fail('producer.compilerVersion: empty');

  const blocks = new Map<number, number>();
  const codeIds = new Set<number>();
  const addBlock = (id: number, alignment: number, b: BlockBytes, path: string): void => {
    if (blocks.has(id)) fail(`${path}.id: block id ${id} is used twice`);
    if (alignment === 0 || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) !== 0) fail(`${path}.alignment: ${alignment} is not a power of two in 1..${MAX_ALIGNMENT}`);
    checkBytes(b, `${path}.bytes`, p);
    blocks.set(id, blockSize(b));
  };
  p.codeBlocks.forEach((b, i) => {
    addBlock(b.id, b.alignment, b.bytes, `codeBlocks[${i}]`);
    codeIds.add(b.id);
  });
  p.dataBlocks.forEach((b, i) => addBlock(b.id, b.alignment, b.bytes, `dataBlocks[${i}]`));
  checkSealed(p);

  const imports = new Set<string>();
  p.imports.forEach((im, i) => {
    if (im.dll.length === 0 || im.dll.length > MAX_NAME) fail(`imports[${i}].dll: empty or too long`);
    const s = im.symbol;
    if (s.kind === 'name' && (s.name.length === 0 || s.name.length > MAX_NAME)) fail(`imports[${i}].name: empty or too long`);
    if (s.kind === 'ordinal' && (s.ordinal === 0 || s.ordinal > 0xffff)) fail(`imports[${i}].ordinal: ${s.ordinal} is not in 1..65535`);
    const key = `${im.dll.toLowerCase()}\0${s.kind === 'name' ? s.name : `#${s.ordinal}`}`;
    if (imports.has(key)) fail(`imports[${i}]: duplicate import`);
    imports.add(key);
  });

  const ctx = { blocks, imports: p.imports.length, sizeOfImage: t.sizeOfImage };
  // Once for every unwind delta (a base from the old .pdata needs its block's one changed record).
  const changedOf = changedRecordOfBlock(p.functions);
  p.codeBlocks.forEach((b, i) => {
    const size = blocks.get(b.id)!;
    checkFixups(b.fixups, size, `codeBlocks[${i}].fixups`, ctx, false, b.bytes);
    const u = b.unwind;
    if (u === null) return;
    const path = `codeBlocks[${i}].unwind`;
    const infoLength = unwindInfoLength(u);
    if (u.infoDelta !== undefined) checkUnwindDelta(u, `${path}.unwindDelta`, p, b.id, changedOf);
    else if ((u.implicitAddr32nb ?? []).length > 0) fail(`${path}: implicit ADDR32NB fields without an unwind delta`);
    else if (u.basePdata === true) fail(`${path}: base from the old .pdata without an unwind delta`);
    let prevEnd = 0;
    u.runtimeFunctions.forEach((r, j) => {
      const at = `${path}.runtimeFunctions[${j}]`;
      if (r.beginOffset >= r.endOffset || r.endOffset > size) fail(`${at}: [${r.beginOffset}, ${r.endOffset}) is empty or outside its ${size}-byte block`);
      if (j > 0 && r.beginOffset < prevEnd) fail(`${at}: entries must be sorted and disjoint`);
      prevEnd = r.endOffset;
      // UNWIND_INFO is DWORD-aligned and at least its 4-byte header long.
      if (r.unwindInfoOffset % 4 !== 0 || r.unwindInfoOffset + 4 > infoLength) fail(`${at}: unwindInfoOffset ${r.unwindInfoOffset} is unaligned or outside the ${infoLength}-byte unwind info`);
    });
    checkFixups(u.unwindFixups, infoLength, `${path}.unwindFixups`, ctx, true);
  });
  p.dataBlocks.forEach((b, i) => checkFixups(b.fixups, blocks.get(b.id)!, `dataBlocks[${i}].fixups`, ctx, false, b.bytes));
  checkReplaces(p);

  // Redirects: every written range inside the image, and no two of them overlapping (so no
  // redirect clobbers another's expected bytes). Their expected bytes pin the sites (since 1.3
  // they need not be covered by the relied ranges too); since 2.1 the relied ranges may pin a
  // site instead, its expected bytes then left out.
  const written: Array<readonly [number, number, string]> = [];
  const redirected = new Set<number>();
  p.redirects.forEach((r, i) => {
    const at = `redirects[${i}]`;
    if (redirected.has(r.oldRva)) fail(`${at}: second redirect at RVA 0x${r.oldRva.toString(16)}`);
    redirected.add(r.oldRva);
    const len = REDIRECT_SITE_LENGTH[r.kind];
    // Since 2.1 empty when the relied ranges cover the site: the runtime takes the bytes from
    // the image it has hash-checked (a 2.0 reader refuses the empty field here).
    if (r.expected.length === 0) {
      if (!coveredByRelied(t.reliedRanges, r.oldRva, len)) fail(`${at}.expected: none, and the site is not covered by target.reliedRanges`);
    } else if (r.expected.length !== len) fail(`${at}.expected: ${r.expected.length} bytes, a ${r.kind} redirect writes ${len}`);
    inImage(r.oldRva, len, t.sizeOfImage, at);
    written.push([r.oldRva, r.oldRva + len, at]);
    if (!codeIds.has(r.target.blockId)) fail(`${at}.target: block ${r.target.blockId} is not a code block`);
    if (r.target.offset >= blocks.get(r.target.blockId)!) fail(`${at}.target: offset ${r.target.offset} is outside block ${r.target.blockId}`);
    if (r.kind === 'short-to-pad') {
      if (r.pad === null) fail(`${at}: short-to-pad redirect without a pad`);
      if (r.pad.expected.length === 0) {
        if (!coveredByRelied(t.reliedRanges, r.pad.rva, REDIRECT_PAD_LENGTH)) fail(`${at}.padExpected: none, and the pad is not covered by target.reliedRanges`);
      } else if (r.pad.expected.length !== REDIRECT_PAD_LENGTH) fail(`${at}.padExpected: ${r.pad.expected.length} bytes, expected ${REDIRECT_PAD_LENGTH}`);
      // EB rel8 reaches [site+2-128, site+2+127].
      const rel = r.pad.rva - (r.oldRva + 2);
      if (rel < -128 || rel > 127) fail(`${at}.padRva: 0x${r.pad.rva.toString(16)} is out of short-jump reach of 0x${r.oldRva.toString(16)}`);
      inImage(r.pad.rva, REDIRECT_PAD_LENGTH, t.sizeOfImage, `${at}.padRva`);
      written.push([r.pad.rva, r.pad.rva + REDIRECT_PAD_LENGTH, `${at}.pad`]);
    } else if (r.pad !== null) {
      fail(`${at}: only short-to-pad redirects have a pad`);
    }
  });
  written.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < written.length; i++) {
    const prev = written[i - 1]!;
    const cur = written[i]!;
    if (cur[0] < prev[1]) fail(`${cur[2]}: overwrites bytes that ${prev[2]} also overwrites`);
  }

  const changed = new Set<number>();
  p.functions.forEach((f, i) => {
    const at = `functions[${i}]`;
    if (f.name !== null && f.name.length > MAX_NAME) fail(`${at}.name: too long`);
    if (!codeIds.has(f.blockId)) fail(`${at}.blockId: ${f.blockId} is not a code block`);
    if (f.blockOffset >= blocks.get(f.blockId)!) fail(`${at}.blockOffset: ${f.blockOffset} is outside block ${f.blockId}`);
    if (f.status === 'changed') {
      if (f.oldRva === null) fail(`${at}: a changed function needs its old RVA`);
      // RVA 0 is the DOS header, never a function; since 2.0 a changed function's new RVA of 0 on the wire means "the old RVA".
      if (f.newRva === 0) fail(`${at}.newRva: 0 is not a function's RVA`);
      // Likewise a new size of 0 on the wire means "the old size": a changed function has a body.
      if (f.newSize === 0) fail(`${at}.newSize: a changed function's new body is not empty`);
      if (changed.has(f.oldRva)) fail(`${at}: second record for old RVA 0x${f.oldRva.toString(16)}`);
      changed.add(f.oldRva);
      if (!redirected.has(f.oldRva)) fail(`${at}: changed function at 0x${f.oldRva.toString(16)} has no redirect`);
      inImage(f.oldRva, Math.max(1, f.oldSize), t.sizeOfImage, `${at}.oldRva`);
    } else if (f.oldRva !== null || f.oldSize !== 0) {
      fail(`${at}: an added function has no old RVA or size`);
    }
  });
}

/**
 * Since 2.2 (FORMAT.md, "Sealed bytes"): the sealed frame is there exactly when some block is
 * sealed; its dictionary ranges are sorted, disjoint, inside the image and each inside one
 * relied range (so the relied hash has pinned every dictionary byte before the frame is
 * decoded); the frame's header declares exactly the sum of the sealed lengths and names no
 * dictionary id. The frame's data is decoded at plan time (formats/seal.ts).
 */
function checkSealed(p: HotpatchPackage): void {
  const total = sealedLength(p);
  const z = p.sealed;
  if (z === undefined) return;
  if (total === 0) fail('sealed: a sealed frame, and no block is sealed');
  if (z.dictionary.length > MAX_SEALED_DICTIONARY_RANGES) fail(`sealed.dictionary: ${z.dictionary.length} ranges, at most ${MAX_SEALED_DICTIONARY_RANGES}`);
  let prevEnd = -1;
  z.dictionary.forEach((r, i) => {
    const at = `sealed.dictionary[${i}]`;
    if (r.length === 0) fail(`${at}: empty range`);
    if (r.rva < prevEnd) fail(`${at}: not sorted and disjoint`);
    prevEnd = r.rva + r.length;
    inImage(r.rva, r.length, p.target.sizeOfImage, at);
    if (!coveredByRelied(p.target.reliedRanges, r.rva, r.length)) fail(`${at}: [0x${r.rva.toString(16)}, 0x${(r.rva + r.length).toString(16)}) is not covered by target.reliedRanges`);
  });
  const h = readZstdFrameHeader(z.frame);
  if (!h.ok) fail(`sealed.frame: ${h.error.message}`);
  if (h.value.dictionaryId !== 0) fail(`sealed.frame: names dictionary id ${h.value.dictionaryId}; its dictionary is the stated old-image ranges (id 0)`);
  if (h.value.contentSize !== total) fail(`sealed.frame: declares ${h.value.contentSize ?? 'no'} content bytes, the sealed blocks hold ${total}`);
}

/**
 * Since 2.4 (FORMAT.md, "Quiescent ranges"): sorted, disjoint, non-adjacent, non-empty, inside
 * the image, and each holding a changed function's old entry or lying inside the old body of
 * one (a cold fragment sits elsewhere; the compiler's verifier checks those against the image).
 */
function checkQuiescent(p: HotpatchPackage): void {
  const q = p.quiescent ?? [];
  if (q.length > MAX_QUIESCENT_RANGES) fail(`quiescent: ${q.length} ranges, at most ${MAX_QUIESCENT_RANGES}`);
  const changed = p.functions.filter((f) => f.status === 'changed' && f.oldRva !== null);
  q.forEach((r, i) => {
    const at = `quiescent[${i}]`;
    if (r.length === 0) fail(`${at}: empty range`);
    inImage(r.rva, r.length, p.target.sizeOfImage, at);
    const prev = q[i - 1];
    if (prev !== undefined && r.rva <= prev.rva + prev.length) fail(`${at}: not sorted, disjoint and non-adjacent`);
  });
  if (q.length > 0 && !changed.some((f) => q.some((r) => f.oldRva! >= r.rva && f.oldRva! - r.rva < r.length)))
    fail('quiescent: no changed function\'s old entry lies in a quiescent range');
}

/** Sum of the lengths of every sealed block (code blocks, then data blocks). */
export function sealedLength(p: HotpatchPackage): number {
  let n = 0;
  for (const b of [...p.codeBlocks, ...p.dataBlocks]) {
    if (b.bytes.kind === 'sealed') n += b.bytes.length;
    if (b.bytes.kind === 'delta') for (const op of b.bytes.ops) if (op.kind === 'sealed-literal' || op.kind === 'sealed-add') n += op.length;
  }
  return n;
}

/** Sum of the lengths of the sealed frame's dictionary ranges. */
export function sealedDictionaryLength(p: HotpatchPackage): number {
  return (p.sealed?.dictionary ?? []).reduce((n, r) => n + r.length, 0);
}

/**
 * Checks a decoded package against every rule that needs no image (FORMAT.md,
 * "Validation"). PKG_INVALID with the field path of the first violation.
 */
export function validatePackage(p: HotpatchPackage): Result<void> {
  const budget = checkBudget(p);
  if (!budget.ok) return budget;
  try {
    run(p);
    return ok(undefined);
  } catch (e) {
    if (e instanceof Invalid) return err('PKG_INVALID', e.message);
    throw e;
  }
}

/**
 * The declared expansion of every block, summed before any rule that walks a block and
 * long before the planner materialises one (PKG_BOMB): the sizes are plain numbers in the
 * payload, so a package of a few hundred bytes could otherwise ask for gigabytes.
 */
export function checkBudget(p: HotpatchPackage): Result<void> {
  if (p.target.sizeOfImage > MAX_TARGET_IMAGE) {
    return err('PKG_BOMB', `target.sizeOfImage 0x${p.target.sizeOfImage.toString(16)} is over the 0x${MAX_TARGET_IMAGE.toString(16)}-byte image limit`);
  }
  let total = 0;
  let bases = 0;
  for (const b of [...p.codeBlocks, ...p.dataBlocks]) {
    total += blockSize(b.bytes) + Math.min(b.alignment, MAX_ALIGNMENT);
    if (b.bytes.kind === 'delta') bases += baseLength(b.bytes);
  }
  for (const b of p.codeBlocks) {
    if (b.unwind === null) continue;
    total += unwindInfoLength(b.unwind);
    if (b.unwind.infoDelta !== undefined) bases += baseLength(b.unwind.infoDelta);
  }
  // Decoding the sealed frame (2.2) holds its dictionary and output at once: both counted. A
  // sealed block's length is its size (counted above), but a delta's sealed ops are counted
  // apart from its size: an unvalidated package's ops need not add up to it, and the frame's
  // output is allocated at their sum before any delta is applied.
  bases += sealedDictionaryLength(p);
  for (const b of [...p.codeBlocks, ...p.dataBlocks]) {
    if (b.bytes.kind === 'delta') for (const op of b.bytes.ops) if (op.kind === 'sealed-literal' || op.kind === 'sealed-add') total += op.length;
  }
  if (total > MAX_BLOCK_BYTES) return err('PKG_BOMB', `blocks expand to ${total} bytes, over the ${MAX_BLOCK_BYTES}-byte limit`);
  if (bases > MAX_BLOCK_BYTES) return err('PKG_BOMB', `delta bases read ${bases} bytes of the image, over the ${MAX_BLOCK_BYTES}-byte limit`);
  return ok(undefined);
}

/**
 * Data blocks' `replaces` (2.3): non-empty, inside SizeOfImage and disjoint, so that a moved
 * field's old target has at most one new place (formats/moves.ts).
 */
function checkReplaces(p: HotpatchPackage): void {
  const rs = p.dataBlocks.flatMap((b, i) => (b.replaces === undefined ? [] : [{ r: b.replaces, at: `dataBlocks[${i}].replaces` }])).sort((a, b) => a.r.rva - b.r.rva);
  let end = 0;
  for (const { r, at } of rs) {
    if (r.length === 0) fail(`${at}: an empty range`);
    inImage(r.rva, r.length, p.target.sizeOfImage, at);
    if (r.rva < end) fail(`${at}: overlaps another data block's replaced range`);
    end = r.rva + r.length;
  }
}
