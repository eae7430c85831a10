/**
 * Planning, the patch region's layout: each block's bytes (literal, or a delta against the
 * old image whose base is hash-checked), then where everything goes in the region: code
 * blocks, then (page-aligned) data blocks, import slots, the RUNTIME_FUNCTION table and the
 * unwind info blobs. Also the two limits on where the region may be: its size, and for
 * packages holding imagerel32 fixups, within 2 GB above the image base.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex, type Va } from '../../common/types.ts';
import { baseRanges, materialiseDelta } from '../../formats/intra-refs.ts';
import { impliedFixups } from '../../formats/implicit-fixups.ts';
import { movesOf } from '../../formats/moves.ts';
import { coveredByRelied } from '../../formats/validate.ts';
import type { BlockBytes, CodeBlock, Fixup, HotpatchPackage } from '../../formats/package.ts';
import { eqBytes } from './check-target.ts';
import { gather } from '../../formats/delta-index.ts';
import { sha256 } from './hash.ts';
import { sectionOf, type MappedSectionHeader } from './identity-mismatch.ts';
import { now } from './timing.ts';
import { PAGE_SIZE } from './write-plan.ts';

/** Largest patch region a plan allocates (a hotpatch carries functions, not programs). */
export const MAX_REGION = 64 * 1024 * 1024;

/** A block's final bytes (before fixups) and where it sits in the region. */
export interface PlacedBlock {
  readonly id: number;
  readonly code: boolean;
  /** Offset in the region. */
  readonly offset: number;
  readonly bytes: Uint8Array;
  /** The block's fixups, then those its delta's implicit fields stand for. */
  readonly fixups: readonly Fixup[];
}

/** Where everything goes in the patch region (offsets from its start). */
export interface RegionLayout {
  readonly placed: ReadonlyMap<number, PlacedBlock>;
  /** Bytes of code in use, and the page-aligned code part (data starts there). */
  readonly codeUsed: number;
  readonly codeSize: number;
  readonly importSlotsOffset: number;
  /** The code blocks with RUNTIME_FUNCTION entries, their entry count and table offset. */
  readonly unwindBlocks: readonly CodeBlock[];
  readonly entryCount: number;
  readonly tableOffset: number;
  /** Code block id -> offset of its unwind info blob. */
  readonly unwindInfoOffsets: ReadonlyMap<number, number>;
  readonly usedSize: number;
  readonly regionSize: number;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Block ids are unique across code and data, and alignments are powers of two up to a page. */
export function checkBlocks(pkg: HotpatchPackage): Result<void> {
  const ids = new Set<number>();
  for (const b of [...pkg.codeBlocks, ...pkg.dataBlocks]) {
    if (ids.has(b.id)) return err('PLAN_PACKAGE', `block id ${b.id} is used twice`);
    if (!Number.isInteger(b.alignment) || b.alignment < 1 || b.alignment > PAGE_SIZE || (b.alignment & (b.alignment - 1)) !== 0) {
      return err('PLAN_PACKAGE', `block ${b.id}: alignment ${b.alignment} is not a power of two up to ${PAGE_SIZE}`);
    }
    ids.add(b.id);
  }
  // planPackage opens unwind blobs stored by reference (format 2.3, formats/unwind-ref.ts) right after the relied bytes are checked.
  const byRef = pkg.codeBlocks.find((c) => c.unwind?.infoDelta !== undefined);
  if (byRef !== undefined) return err('PLAN_PACKAGE', `block ${byRef.id}: unwind info by reference that was not opened (openUnwinds before layout)`);
  return ok(undefined);
}

/**
 * A block's bytes and the fixups its delta's implicit fields stand for (format 1.2,
 * formats/implicit-fixups.ts), read from the same hash-checked base in `preferred`. A base
 * without a hash of its own (format 2.1) must lie inside the relied ranges, whose hash
 * checkReliedBytes compared on these same bytes before layout (plan-package.ts): checked
 * here again, since a library caller may hand the planner an unvalidated package.
 */
export async function materialiseBlock(b: BlockBytes, what: string, pkg: HotpatchPackage, preferred: Uint8Array, sections: readonly MappedSectionHeader[]): Promise<Result<{ bytes: Uint8Array; implied: Fixup[] }>> {
  if (b.kind === 'literal') return ok({ bytes: b.bytes.slice(), implied: [] });
  // planPackage unseals (formats/seal.ts) right after the relied bytes are checked.
  if (b.kind === 'sealed') return err('PLAN_PACKAGE', `${what}: sealed bytes that were not unsealed (unsealPackage before layout)`);
  if (b.refScan !== undefined) return err('PLAN_PACKAGE', `${what}: scanned references that were not listed (openRefScans before layout)`);
  // The hash pins `base`; extra base ranges (2.1) are pinned by the relied ranges' hash.
  const baseBytes = gather(preferred, baseRanges(b));
  if (baseBytes === null) return err('PLAN_IDENTITY', `${what}: delta base ${hex(b.base.rva)}+${b.base.length} is outside the image`);
  if (b.baseSha256.length === 0) {
    if (!coveredByRelied(pkg.target.reliedRanges, b.base.rva, b.base.length)) return err('PLAN_PACKAGE', `${what}: delta base ${hex(b.base.rva)}+${b.base.length} has no hash and is not covered by the relied ranges`, b.base.rva);
  } else if (!eqBytes(await sha256(baseBytes.subarray(0, b.base.length)), b.baseSha256)) return err('PLAN_IDENTITY', `${what}: delta base at ${hex(b.base.rva)}+${b.base.length} (section ${sectionOf(sections, b.base.rva)}) differs from the package's`, b.base.rva);
  const bytes = materialiseDelta(b, baseBytes, what);
  if (!bytes.ok) return err('PLAN_PACKAGE', bytes.error.message);
  const implied = impliedFixups(b, bytes.value, pkg.target.imageBase, pkg.target.sizeOfImage, what, movesOf(pkg));
  if (!implied.ok) return err('PLAN_PACKAGE', implied.error.message);
  return ok({ bytes: bytes.value, implied: implied.value });
}

/**
 * Materialises every block and lays out the region (see the module comment). `blockMs`
 * receives each code block's materialise time.
 */
export async function layoutRegion(pkg: HotpatchPackage, preferred: Uint8Array, sections: readonly MappedSectionHeader[], blockMs: Map<number, number>): Promise<Result<RegionLayout>> {
  const placed = new Map<number, PlacedBlock>();
  let off = 0;
  for (const c of pkg.codeBlocks) {
    const ts = now();
    const bytes = await materialiseBlock(c.bytes, `code block ${c.id}`, pkg, preferred, sections);
    if (!bytes.ok) return bytes;
    off = alignUp(off, Math.max(1, c.alignment));
    placed.set(c.id, { id: c.id, code: true, offset: off, bytes: bytes.value.bytes, fixups: [...c.fixups, ...bytes.value.implied] });
    off += bytes.value.bytes.length;
    blockMs.set(c.id, now() - ts);
  }
  const codeUsed = off;
  const codeSize = alignUp(Math.max(off, 1), PAGE_SIZE);
  off = codeSize;
  for (const d of pkg.dataBlocks) {
    const bytes = await materialiseBlock(d.bytes, `data block ${d.id}`, pkg, preferred, sections);
    if (!bytes.ok) return bytes;
    off = alignUp(off, Math.max(1, d.alignment));
    placed.set(d.id, { id: d.id, code: false, offset: off, bytes: bytes.value.bytes, fixups: [...d.fixups, ...bytes.value.implied] });
    off += bytes.value.bytes.length;
  }
  off = alignUp(off, 8);
  const importSlotsOffset = off;
  off += pkg.imports.length * 8;
  off = alignUp(off, 4);
  const unwindBlocks = pkg.codeBlocks.filter((c) => c.unwind !== null && c.unwind.runtimeFunctions.length > 0);
  const entryCount = unwindBlocks.reduce((n, c) => n + (c.unwind?.runtimeFunctions.length ?? 0), 0);
  const tableOffset = off;
  off += entryCount * 12;
  const unwindInfoOffsets = new Map<number, number>();
  for (const c of unwindBlocks) {
    off = alignUp(off, 4);
    unwindInfoOffsets.set(c.id, off);
    off += c.unwind?.unwindInfo.length ?? 0;
  }
  const regionSize = alignUp(off, PAGE_SIZE);
  if (regionSize > MAX_REGION) return err('PLAN_TOO_LARGE', `the patch needs ${regionSize} bytes, more than the ${MAX_REGION}-byte limit`);
  return ok({ placed, codeUsed, codeSize, importSlotsOffset, unwindBlocks, entryCount, tableOffset, unwindInfoOffsets, usedSize: off, regionSize });
}

/**
 * IMAGEREL32 values are `__ImageBase + value` with value in 0..2^31-1: a package holding one
 * needs the whole region above the image base and within 2 GB of it. Backends search upward
 * from the image first, so this only refuses when the space above is taken.
 */
export function checkImageRelativeReach(pkg: HotpatchPackage, base: Va, region: Va, regionSize: number): Result<void> {
  const imageRelative = [...pkg.codeBlocks, ...pkg.dataBlocks].some((b) => b.fixups.some((f) => f.kind === 'imagerel32'));
  if (imageRelative && (region < base || region + BigInt(regionSize) - base > 0x7fff_ffffn)) {
    return err('PLAN_NO_REGION', `the package holds image-relative (imagerel32) fixups, which need the patch region within 2 GB above the image base ${hex(base)}; the free region found is at ${hex(region)}`);
  }
  return ok(undefined);
}
