/**
 * The paper image: a package applied on paper to OLD loaded at an arbitrary base, with its
 * blocks at an arbitrary address within ±2 GB (above the image when image-relative fixups
 * require it), import slots after the blocks and imports at fake addresses. Everything the
 * checks read back comes from here: block bytes with their fixups written, OLD bytes as
 * loaded at the base (base relocations applied).
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { baseRanges, materialiseDelta } from '../../formats/intra-refs.ts';
import { gather } from '../../formats/delta-index.ts';
import { impliedFixups } from '../../formats/implicit-fixups.ts';
import { movesOf } from '../../formats/moves.ts';
import { coveredByRelied } from '../../formats/validate.ts';
import type { Fixup, HotpatchPackage } from '../../formats/package.ts';
import { asVa } from '../../common/types.ts';
import { applyFixups, type ResolvedFixup } from '../../runtime/pe/apply-fixups.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import { absTarget, relocsIn, type MappedImage } from '../image/map-image.ts';

/** Where the paper apply puts things (defaults are arbitrary, deliberately not the preferred base). */
export interface VerifyLayout {
  /** Base OLD is loaded at. */
  readonly imageBase: bigint;
  /** Address of the first block; must be within ±2 GB of the image. */
  readonly regionBase: bigint;
}

/** The default paper layout: an odd base and a region 1 GB below it. */
export const DEFAULT_VERIFY_LAYOUT: VerifyLayout = { imageBase: 0x7ff6_5a30_0000n, regionBase: 0x7ff6_1a20_0000n };

/** Where the imports a package adds are assumed to live (each 0x100 apart). */
const FAKE_IMPORTS = 0x7ffd_0000_0000n;

/** One materialised block: its paper address and its bytes (fixups written in place). */
export interface PaperBlock {
  readonly addr: bigint;
  readonly bytes: Uint8Array;
}

/** A verification failure naming the mismatch. */
export function mismatch(message: string): Result<never> {
  return err('VERIFY_MISMATCH', message);
}

type BlockBytes = HotpatchPackage['codeBlocks'][number]['bytes'];

/** OLD with the package's blocks placed and completed on paper. */
export class PaperImage {
  /** Where OLD is loaded (__ImageBase). */
  readonly imageBase: bigint;
  /** Address of the first block. */
  readonly regionBase: bigint;
  /** Base of addr32nb values: the lower of the image and the region. */
  readonly unwindBase: bigint;
  readonly blocks = new Map<number, PaperBlock>();
  /** Address of the IAT slot of each added import (after the blocks). */
  importSlotVa: readonly bigint[] = [];
  /** Address each added import resolves to. */
  readonly importVa: readonly bigint[];
  /** Next free address for a block's unwind info (after the import slots, inside the region). */
  private unwindAt: bigint;

  private constructor(
    readonly old: MappedImage,
    readonly pkg: HotpatchPackage,
    layout: VerifyLayout,
  ) {
    this.imageBase = layout.imageBase;
    // A package with image-relative fixups is placed by the runtime above the image, within
    // 2 GB of its base; so is the paper copy.
    const imageRelative = [...pkg.codeBlocks, ...pkg.dataBlocks].some((b) => b.fixups.some((f) => f.kind === 'imagerel32'));
    const sizeOfImage = BigInt(old.pe.optionalHeader.sizeOfImage);
    this.regionBase = imageRelative && layout.regionBase < this.imageBase + sizeOfImage ? this.imageBase + ((sizeOfImage + 0xffffn) & ~0xffffn) + 0x0123_0000n : layout.regionBase;
    this.unwindBase = this.regionBase < this.imageBase ? this.regionBase : this.imageBase;
    this.importVa = pkg.imports.map((_, i) => FAKE_IMPORTS + BigInt(0x100 * i));
    this.unwindAt = 0n;
  }

  /** Places every block of `pkg` (delta blocks decoded against OLD) and writes their fixups. */
  static build(old: MappedImage, pkg: HotpatchPackage, layout: VerifyLayout): Result<PaperImage> {
    const paper = new PaperImage(old, pkg, layout);
    let at = paper.regionBase;
    // Each block's fixups: its own, then those its delta's implicit fields stand for (1.2).
    const fixupsOf = new Map<number, readonly Fixup[]>();
    for (const b of [...pkg.codeBlocks, ...pkg.dataBlocks]) {
      const bytes = paper.blockBytes(b.id, b.bytes);
      if (!bytes.ok) return bytes;
      fixupsOf.set(b.id, [...b.fixups, ...bytes.value.implied]);
      const a = BigInt(b.alignment);
      at = ((at + a - 1n) / a) * a;
      paper.blocks.set(b.id, { addr: at, bytes: bytes.value.bytes });
      at += BigInt(bytes.value.bytes.length);
    }
    at = (at + 7n) & ~7n;
    paper.importSlotVa = pkg.imports.map((_, i) => at + BigInt(8 * i));
    paper.unwindAt = at + BigInt(8 * pkg.imports.length);
    for (const c of pkg.codeBlocks) {
      const b = paper.blocks.get(c.id)!;
      const r = paper.applyFixups(b.bytes, b.addr, c.id, fixupsOf.get(c.id)!, `block ${c.id}`);
      if (!r.ok) return r;
    }
    for (const d of pkg.dataBlocks) {
      const b = paper.blocks.get(d.id)!;
      const r = paper.applyFixups(b.bytes, b.addr, d.id, fixupsOf.get(d.id)!, `data block ${d.id}`);
      if (!r.ok) return r;
    }
    return ok(paper);
  }

  /**
   * A block's bytes (a delta decoded against OLD) and the image fixups its implicit fields
   * stand for, derived by the runtime's own rule (formats/implicit-fixups.ts).
   */
  private blockBytes(id: number, b: BlockBytes): Result<{ bytes: Uint8Array; implied: Fixup[] }> {
    if (b.kind === 'literal') return ok({ bytes: b.bytes.slice(), implied: [] });
    if (b.kind === 'sealed') return mismatch(`block ${id}: sealed bytes that were not unsealed`);
    if (b.refScan !== undefined) return mismatch(`block ${id}: scanned references that were not listed`);
    const base = gather(this.old.image, baseRanges(b));
    if (base === null) return mismatch(`block ${id}: delta base is outside OLD`);
    // Since format 2.1 a base may carry no hash: the relied-bytes hash (checked against OLD
    // before the paper image is built) pins it, so it must lie inside the relied ranges.
    if (b.baseSha256.length === 0) {
      if (!coveredByRelied(this.pkg.target.reliedRanges, b.base.rva, b.base.length)) return mismatch(`block ${id}: delta base without a hash outside the relied ranges`);
    } else if (!sha256(base.subarray(0, b.base.length)).every((x, i) => x === b.baseSha256[i])) return mismatch(`block ${id}: delta base hash does not match OLD`);
    const bytes = materialiseDelta(b, base, `block ${id}`);
    if (!bytes.ok) return bytes;
    const implied = impliedFixups(b, bytes.value, this.pkg.target.imageBase, this.pkg.target.sizeOfImage, `block ${id}`, movesOf(this.pkg));
    if (!implied.ok) return mismatch(implied.error.message);
    return ok({ bytes: bytes.value, implied: implied.value });
  }

  /** Reserves `length` bytes (4-aligned) for a block's unwind info; returns its address. */
  placeUnwindInfo(length: number): bigint {
    this.unwindAt = (this.unwindAt + 3n) & ~3n;
    const addr = this.unwindAt;
    this.unwindAt += BigInt(length);
    return addr;
  }

  /**
   * The address a fixup target names. `infoAddr`: where the unwind info the fixup sits in is
   * placed (null outside unwind data), `infoLength` its length.
   */
  targetAddress(t: Fixup['target'], infoAddr: bigint | null, infoLength: number): bigint | null {
    switch (t.kind) {
      case 'unwind':
        return infoAddr === null || t.offset > infoLength ? null : infoAddr + BigInt(t.offset);
      case 'image':
        return this.imageBase + BigInt(t.rva);
      case 'block': {
        const b = this.blocks.get(t.blockId);
        return b === undefined ? null : b.addr + BigInt(t.offset);
      }
      case 'import-slot':
        return this.importSlotVa[t.index] ?? null;
      case 'import-address':
        return this.importVa[t.index] ?? null;
    }
  }

  /**
   * Writes `fixups` into `bytes` (container `blockId`, placed at `containerVa`; its unwind
   * info when `inUnwind`) with the runtime's own fixup arithmetic (runtime/pe/apply-fixups.ts,
   * the wasm core's formulas and range checks), so the verifier proves the bytes the runtime
   * will write. Returns the target address S of each fixup, in order.
   */
  applyFixups(bytes: Uint8Array, containerVa: bigint, blockId: number, fixups: readonly Fixup[], what: string, inUnwind = false): Result<bigint[]> {
    const targets: bigint[] = [];
    for (const f of fixups) {
      const target = this.targetAddress(f.target, inUnwind ? containerVa : null, bytes.length);
      if (target === null) return mismatch(`${what}: fixup target does not exist`);
      targets.push(target);
    }
    const resolved: ResolvedFixup[] = fixups.map((f, i) => ({ kind: f.kind, offset: f.offset, addend: f.addend, symbol: ok(targets[i]!) }));
    const where = { blockId, container: inUnwind ? ('unwind' as const) : ('block' as const), blockVa: asVa(containerVa), unwindBase: asVa(this.unwindBase), imageBase: asVa(this.imageBase) };
    const written = applyFixups(bytes, resolved, where);
    if (!written.ok) return mismatch(`${what}: ${written.error.message}`);
    bytes.set(written.value);
    return ok(targets);
  }

  /** `len` bytes at paper address `addr`: OLD as loaded, or a block; null elsewhere. */
  readAt(addr: bigint, len: number): Uint8Array | null {
    const B = this.imageBase;
    if (addr >= B && addr + BigInt(len) <= B + BigInt(this.old.image.length)) return this.relocatedOld(Number(addr - B), len);
    for (const b of this.blocks.values()) {
      if (addr >= b.addr && addr + BigInt(len) <= b.addr + BigInt(b.bytes.length)) {
        const o = Number(addr - b.addr);
        return b.bytes.subarray(o, o + len);
      }
    }
    return null;
  }

  /** OLD bytes [rva, rva + len) as loaded at the paper base (base relocations applied). */
  private relocatedOld(rva: number, len: number): Uint8Array {
    const old = this.old;
    const out = old.image.slice(rva, rva + len);
    const delta = this.imageBase - old.imageBase;
    for (const rel of relocsIn(old, rva - 7, rva + len)) {
      if (old.relocs.get(rel) !== 10) continue;
      const full = new DataView(old.image.buffer, old.image.byteOffset).getBigUint64(rel, true) + delta;
      const tmp = new Uint8Array(8);
      new DataView(tmp.buffer).setBigUint64(0, BigInt.asUintN(64, full), true);
      for (let k = 0; k < 8; k++) if (rel + k >= rva && rel + k < rva + len) out[rel + k - rva] = tmp[k]!;
    }
    return out;
  }
}

/** The RVA of NEW a 64-bit pointer at `rva` of NEW holds (base relocation applied), or null. */
export function newPointerTarget(img: MappedImage, rva: number): bigint | null {
  const t = absTarget(img, rva, 10);
  return t < 0 ? null : BigInt(t);
}
