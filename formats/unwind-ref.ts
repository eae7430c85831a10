/**
 * Unwind by reference (format 2.3, FORMAT.md "Unwind by reference"): a carried function's
 * UNWIND_INFO and handler data are mostly the old function's bytes, so a package may store the
 * blob as a delta against those old-image bytes (`Unwind.infoDelta`) instead of literally.
 *
 * One function turns such a package back into literal unwind blobs, for everyone who
 * materialises them: the runtime's planner (after checkReliedBytes has compared the relied
 * ranges, which cover every base range, with the package's hash) and the compiler's paper
 * image (compiler/verify), so both see exactly the same bytes. The unwind fixups then apply to
 * the blob as to a literal one: every field they name is written, whatever the old bytes held.
 *
 * Since 2.4 (FORMAT.md "Implicit unwind fixups") the delta may name ADDR32NB fields by offset
 * alone (`Unwind.implicitAddr32nb`): each is copied from an old field, and the fixup it stands
 * for is derived from the old value by impliedUnwindFixup, the one function the planner and
 * the compiler (which lists a field only when the derived fixup is the one it would write, and
 * whose verifier opens the package with openUnwinds too) share.
 */
import { err, ok, type Result } from '../common/errors.ts';
import type { Rva } from '../common/types.ts';
import type { CodeBlock, Fixup, HotpatchPackage, Unwind } from './package.ts';
import { copySource, gather, mapBaseOffset, offsetOfRva, rvaInOneRange } from './delta-index.ts';
import { baseRanges, materialiseDelta } from './intra-refs.ts';
import { coveredByRelied } from './validate.ts';
import { changedRecordOfBlock } from './function-records.ts';

/**
 * `pkg` with every unwind blob stored by reference made literal, the delta applied to the bytes
 * of its base ranges in `image` (the old image mapped at its preferred base, whose relied bytes
 * the caller has compared with the package's hash). Unchanged (the same object) when no blob is
 * stored so. PKG_INVALID when a base range is not covered by the relied ranges or lies outside
 * the image, or the delta does not produce its declared size (a library caller may pass an
 * unvalidated package): checked before any byte is read.
 */
export function openUnwinds(pkg: HotpatchPackage, image: Uint8Array): Result<HotpatchPackage> {
  if (!pkg.codeBlocks.some((b) => b.unwind?.infoDelta !== undefined)) return ok(pkg);
  const codeBlocks: CodeBlock[] = [];
  const records = changedRecordOfBlock(pkg.functions);
  for (const b of pkg.codeBlocks) {
    const u = b.unwind;
    if (u === null || u.infoDelta === undefined) {
      codeBlocks.push(b);
      continue;
    }
    const placed = u.basePdata === true ? withPdataBase(u, records.get(b.id)?.oldRva ?? undefined, pkg, image) : u;
    if (typeof placed === 'string') return err('PKG_INVALID', `block ${b.id} unwind: base from the old .pdata: ${placed}`);
    const opened = openUnwind(placed, pkg, image, `block ${b.id} unwind`);
    if (!opened.ok) return opened;
    codeBlocks.push({ ...b, unwind: opened.value });
  }
  return ok({ ...pkg, codeBlocks });
}

/** Bytes of a RUNTIME_FUNCTION entry. */
const PDATA_ENTRY = 12;

/** Where the .pdata entry beginning at `oldRva` lies in `image`, and the bytes read to find it. */
export interface PdataEntryAt {
  /** The ranges whose bytes say where the entry is (e_lfanew, the exception directory entry), then the entry's. */
  readonly read: ReadonlyArray<readonly [rva: number, length: number]>;
  /** The entry's UnwindInfoAddress. */
  readonly unwindRva: number;
}

/**
 * The .pdata entry (RUNTIME_FUNCTION) beginning at `oldRva` in `image` (an image at its
 * preferred base, PE32+; entries sorted by begin address, found by binary search), or why there
 * is none. Whoever trusts the answer checks that `read` is pinned (pdataUnwindRva).
 */
export function findPdataEntry(image: Uint8Array, oldRva: number): PdataEntryAt | string {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < 0x40) return 'no DOS header';
  // The exception directory: data directory 3 of the PE32+ optional header (at e_lfanew + 24).
  const dir = dv.getUint32(0x3c, true) + 24 + 112 + 3 * 8;
  if (dir + 8 > image.length) return 'the exception directory entry lies outside the image';
  const start = dv.getUint32(dir, true);
  const count = Math.floor(dv.getUint32(dir + 4, true) / PDATA_ENTRY);
  if (start + count * PDATA_ENTRY > image.length) return 'the exception directory lies outside the image';
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const at = start + mid * PDATA_ENTRY;
    const begin = dv.getUint32(at, true);
    if (begin < oldRva) lo = mid + 1;
    else if (begin > oldRva) hi = mid - 1;
    else return { read: [[0x3c, 4], [dir, 8], [at, PDATA_ENTRY]], unwindRva: dv.getUint32(at + 8, true) };
  }
  return `no .pdata entry begins at 0x${oldRva.toString(16)}`;
}

/**
 * The RVA of the UNWIND_INFO that the .pdata entry beginning at `oldRva` names in `image` (the
 * checked old image), when the relied ranges cover e_lfanew, the exception directory entry and
 * the entry: the relied hash then pins every byte the answer rests on (a search steered by
 * other bytes finds no entry, or this one). A string says why there is none.
 */
export function pdataUnwindRva(image: Uint8Array, oldRva: number, relied: HotpatchPackage['target']['reliedRanges']): number | string {
  const found = findPdataEntry(image, oldRva);
  if (typeof found === 'string') return found;
  const loose = found.read.find(([at, len]) => !coveredByRelied(relied, at, len));
  return loose === undefined ? found.unwindRva : `0x${loose[0].toString(16)}+${loose[1]} (read to find the entry of 0x${oldRva.toString(16)}) is not covered by the relied ranges`;
}

/** `u` with its delta's first base range placed at the old .pdata's UNWIND_INFO of `oldRva` (2.8). */
function withPdataBase(u: Unwind, oldRva: number | undefined, pkg: HotpatchPackage, image: Uint8Array): Unwind | string {
  if (oldRva === undefined) return 'no one changed record names the block';
  const rva = pdataUnwindRva(image, oldRva, pkg.target.reliedRanges);
  if (typeof rva === 'string') return rva;
  const d = u.infoDelta!;
  return { ...u, infoDelta: { ...d, base: { rva: rva as Rva, length: d.base.length } } };
}

function openUnwind(u: Unwind, pkg: HotpatchPackage, image: Uint8Array, what: string): Result<Unwind> {
  const d = u.infoDelta!;
  if (u.unwindInfo.length > 0) return err('PKG_INVALID', `${what}: both a literal blob and a delta`);
  if (d.baseSha256.length > 0) return err('PKG_INVALID', `${what}: an unwind delta carries no hash`);
  const ranges = baseRanges(d);
  for (const r of ranges) {
    if (r.length === 0 || !coveredByRelied(pkg.target.reliedRanges, r.rva, r.length)) {
      return err('PKG_INVALID', `${what}: base range 0x${r.rva.toString(16)}+${r.length} is not covered by the relied ranges`);
    }
  }
  const base = gather(image, ranges);
  if (base === null) return err('PKG_INVALID', `${what}: a base range lies outside the image`);
  const bytes = materialiseDelta(d, base, what);
  if (!bytes.ok) return err('PKG_INVALID', bytes.error.message);
  const implied: Fixup[] = [];
  for (const o of u.implicitAddr32nb ?? []) {
    const f = impliedUnwindFixup(d, base, o, pkg.target.sizeOfImage);
    if (typeof f === 'string') return err('PKG_INVALID', `${what}: implicit ADDR32NB field at ${o}: ${f}`);
    implied.push(f);
  }
  const unwindFixups = implied.length === 0 ? u.unwindFixups : [...u.unwindFixups, ...implied].sort((a, b) => a.offset - b.offset);
  return ok({ runtimeFunctions: u.runtimeFunctions, unwindInfo: bytes.value, unwindFixups });
}

/** Bytes of an implicit ADDR32NB field. */
const ADDR32NB_WIDTH = 4;

/**
 * The ADDR32NB fixup the implicit field at blob offset `o` of unwind delta `d` stands for,
 * read from `base` (the delta's base ranges, gathered from the old image at its preferred
 * base): the field lies inside one copy op (or an add op adding 0 to it) within one base
 * range, and the old field there holds an RVA v of OLD. When a base range holds v (an old
 * handler structure the blob copies), the fixup targets the blob where base offset v maps
 * (formats/delta-index.ts mapBaseOffset, as intra references map); otherwise image RVA v
 * (an unchanged handler, funclet or type), which must lie inside `sizeOfImage`. Addend 0.
 * A string says why the field derives nothing (the package is then invalid).
 */
export function impliedUnwindFixup(d: NonNullable<Unwind['infoDelta']>, base: Uint8Array, o: number, sizeOfImage: number): Fixup | string {
  const ranges = baseRanges(d);
  const src = copySource(d.ops, o, ADDR32NB_WIDTH);
  if (src === null || o + ADDR32NB_WIDTH > d.size) return 'not inside one copy op';
  if (src + ADDR32NB_WIDTH > base.length || rvaInOneRange(ranges, src, ADDR32NB_WIDTH) === null) return 'copied across base ranges';
  const v = new DataView(base.buffer, base.byteOffset, base.byteLength).getUint32(src, true);
  const q = offsetOfRva(ranges, v);
  if (q !== null) {
    const at = mapBaseOffset(d.ops, q);
    if (at === null || at > d.size) return `the old field points at base offset ${q}, which the delta does not copy`;
    return { kind: 'addr32nb', offset: o, target: { kind: 'unwind', offset: at }, addend: 0n };
  }
  if (v >= sizeOfImage) return `the old field holds 0x${v.toString(16)}, outside the image`;
  return { kind: 'addr32nb', offset: o, target: { kind: 'image', rva: v as Rva }, addend: 0n };
}
