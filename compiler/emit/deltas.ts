/**
 * Delta encoding of blocks: a block whose bytes are close to a range of OLD (a small change
 * to an old function, a data-only release) is stored as copy/insert operations against that
 * range when that is clearly smaller than the literal bytes (FORMAT.md, "The delta encoding").
 */
import { asRva } from '../../common/types.ts';
import { encodedBlockBytesSize } from '../../formats/codec.ts';
import { encodeDelta } from '../../formats/delta.ts';
import type { CodeBlock, DataBlock, Fixup } from '../../formats/package.ts';
import { FIXUP_WIDTH } from '../../formats/validate.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import type { MappedImage } from '../image/map-image.ts';
import { identityOf } from './identity.ts';
import { unstableOverlap, unstableRanges } from '../image/stable-ranges.ts';
import type { EmittedPackage } from './types.ts';

/** An OLD range [start, end) a block is encoded against; the block's first byte lies at start + shift. */
export interface DeltaBase {
  readonly start: number;
  readonly end: number;
  readonly shift: number;
}

/** What a successful pass leaves for the final step (delta encoding runs once, not per pass). */
export interface PassExtras {
  /** OLD ranges the package relies on so far. */
  readonly relied: Array<[number, number]>;
  /** Block id -> a delta base for it: OLD range [start, end), the block's first byte at start + shift. */
  readonly bases: ReadonlyMap<number, DeltaBase>;
}

/** Bytes of old image kept on each side of a data block's counterpart as delta base. */
export const DATA_BASE_SLACK = 64;

/**
 * A delta wins only when its exact encoded size is under this share of the literal's: a
 * literal compresses (zstd finds repeats across blocks) where a delta's base hash and copy
 * offsets do not, so raw sizes flatter the delta (FORMAT.md, "The delta encoding").
 */
const DELTA_SHARE = 0.8;

/**
 * Stores each block that has a delta base as a delta when that is clearly smaller
 * (blockBytesFor), and pins the bases it used in the target identity.
 */
export function withDeltas(oldImg: MappedImage, moduleName: string, r: { readonly value: EmittedPackage; readonly pass: PassExtras }): EmittedPackage {
  const relied = [...r.pass.relied];
  const unstable = unstableRanges(oldImg);
  const convert = <B extends CodeBlock | DataBlock>(b: B): B => {
    const base = r.pass.bases.get(b.id);
    if (base === undefined || b.bytes.kind !== 'literal') return b;
    // A delta base must be bytes a running process keeps, or the delta would not apply live.
    if (unstableOverlap(base.start, base.end, unstable) !== undefined) return b;
    const bytes = blockBytesFor(oldImg.image, b.bytes.bytes, b.fixups, base.start, base.end, base.shift);
    if (bytes.kind !== 'delta') return b;
    relied.push([base.start, base.end]);
    return { ...b, bytes };
  };
  const pkg = r.value.pkg;
  const codeBlocks = pkg.codeBlocks.map(convert);
  const dataBlocks = pkg.dataBlocks.map(convert);
  return { ...r.value, pkg: { ...pkg, codeBlocks, dataBlocks, target: identityOf(oldImg, moduleName, relied) } };
}

/**
 * How to store block `bytes`: a delta against old range [baseStart, baseEnd) when its exact
 * encoded size is clearly smaller, else the literal. The bytes under a fixup are overwritten
 * when the package is applied, so before encoding they take the base's bytes at the same
 * place (`shift` = where the block's first byte lies in the base): a function that changed
 * only in what its references point at becomes one copy of its old body.
 */
export function blockBytesFor(oldImage: Uint8Array, bytes: Uint8Array, fixups: readonly Fixup[], baseStart: number, baseEnd: number, shift = 0): CodeBlock['bytes'] {
  const literal: CodeBlock['bytes'] = { kind: 'literal', bytes };
  if (baseEnd <= baseStart || bytes.length === 0) return literal;
  const base = oldImage.subarray(baseStart, baseEnd);
  const target = bytes.slice();
  for (const fx of fixups) {
    const w = FIXUP_WIDTH[fx.kind];
    const at = shift + fx.offset;
    if (at >= 0 && at + w <= base.length) target.set(base.subarray(at, at + w), fx.offset);
  }
  const delta: CodeBlock['bytes'] = { kind: 'delta', base: { rva: asRva(baseStart), length: baseEnd - baseStart }, baseSha256: sha256(base), size: target.length, ops: encodeDelta(base, target) };
  return encodedBlockBytesSize(delta) < encodedBlockBytesSize(literal) * DELTA_SHARE ? delta : literal;
}
