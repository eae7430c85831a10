/**
 * Since format 2.0 every fixup list of a package (blocks' and unwinds') is written as one
 * table of columns (`Package.fixups`, FORMAT.md "Fixup columns") and relied ranges as
 * (gap, length) pairs: one packed varint array per field instead of one message per entry.
 * Each fixup then costs a few one-byte varints (a tag, a gap, an addend of -4 as one zig-zag
 * byte) where a `Fixup` message cost its field tags, its length, and ten bytes for every
 * negative addend; one table for the package instead of one per list saves the columns'
 * framing per list and puts alike values of all lists next to each other for zstd.
 *
 * Each list that holds fixups keeps one marker entry, a `Fixup` whose target is an empty
 * `columns` and whose kind is 0: a 1.3 reader refuses kind 0, so it never applies a block
 * without its fixups. Decoding checks every column's length and every sum; overlap, range
 * and target rules stay with validatePackage, which sees the same model either way.
 */
import type Long from 'long';
import type { Rva } from '../common/types.ts';
import type { hotpatch } from './generated/hotpatch.js';
import type { Fixup, FixupKind, FixupTarget, RvaRange } from './package.ts';
import { FIXUP_WIDTH as WIDTH } from './validate.ts';
/** Kinds by their FixupKind wire value (index 0 is UNSPECIFIED). */
const KINDS: readonly (FixupKind | undefined)[] = [undefined, 'rel32', 'rel8', 'abs64', 'rip-disp32', 'addr32nb', 'imagerel32'];
const TARGETS: readonly FixupTarget['kind'][] = ['image', 'block', 'import-slot', 'import-address', 'unwind'];

/** A column that does not decode into fixups; the message names the column. */
export class ColumnsInvalid {
  constructor(readonly message: string) {}
}

function targetValue(t: FixupTarget): number {
  switch (t.kind) {
    case 'image':
      return t.rva;
    case 'block':
      return t.blockId;
    case 'import-slot':
    case 'import-address':
      return t.index;
    case 'unwind':
      return t.offset;
  }
}

/** The columns of the non-empty fixup lists, in order; offsets restart at each list (sign-safe: they may go back). */
export function fixupColumnsOf(lists: ReadonlyArray<readonly Fixup[]>, long: (v: bigint) => Long): hotpatch.FixupColumns.$Properties {
  const tags: number[] = [];
  const gaps: Long[] = [];
  const targets: number[] = [];
  const blockOffsets: number[] = [];
  const addends: Long[] = [];
  const counts: number[] = [];
  for (const fixups of lists) {
    let end = 0;
    for (const f of fixups) {
      tags.push(KINDS.indexOf(f.kind) * 8 + TARGETS.indexOf(f.target.kind));
      gaps.push(long(BigInt(f.offset - end)));
      targets.push(targetValue(f.target));
      if (f.target.kind === 'block') blockOffsets.push(f.target.offset);
      addends.push(long(f.addend));
      end = f.offset + WIDTH[f.kind];
    }
    counts.push(fixups.length);
  }
  return { tags, offsetGaps: gaps, targets, blockOffsets, addends, counts };
}

/** A wire uint32 as a number (absent: 0). */
export const u32 = (n: number | null | undefined): number => (n ?? 0) >>> 0;

/** The lists back from columns, one per count; throws ColumnsInvalid (with `path`) on any inconsistency. */
export function fixupListsOfColumns(c: hotpatch.FixupColumns.$Shape, path: string, big: (v: Long | number | null | undefined) => bigint): Fixup[][] {
  const tags = c.tags ?? [];
  const gaps = c.offsetGaps ?? [];
  const targets = c.targets ?? [];
  const blockOffsets = c.blockOffsets ?? [];
  const addends = c.addends ?? [];
  const counts = c.counts ?? [];
  const n = tags.length;
  for (const [name, col] of [['offsetGaps', gaps], ['targets', targets], ['addends', addends]] as const)
    if (col.length !== n) throw new ColumnsInvalid(`${path}.${name}: ${col.length} entries for ${n} tags`);
  let sum = 0;
  counts.forEach((k, j) => {
    if (u32(k) === 0) throw new ColumnsInvalid(`${path}.counts[${j}]: 0 (an empty list has no marker)`);
    sum += u32(k);
  });
  if (sum !== n) throw new ColumnsInvalid(`${path}.counts: they sum to ${sum} for ${n} tags`);
  const lists: Fixup[][] = [];
  let i = 0;
  let nextBlock = 0;
  for (const k of counts) {
    const out: Fixup[] = [];
    let end = 0n;
    for (const stop = i + u32(k); i < stop; i++) {
      const tag = u32(tags[i]);
      const kind = KINDS[tag >>> 3];
      const tk = TARGETS[tag & 7];
      if (kind === undefined || tk === undefined) throw new ColumnsInvalid(`${path}.tags[${i}]: ${tag} names no fixup kind and target`);
      const offset = end + big(gaps[i]);
      if (offset < 0n || offset > 0xffff_ffffn) throw new ColumnsInvalid(`${path}.offsetGaps[${i}]: offset ${offset} outside 0..2^32-1`);
      const v = u32(targets[i]);
      let target: FixupTarget;
      if (tk === 'block') {
        if (nextBlock >= blockOffsets.length) throw new ColumnsInvalid(`${path}.blockOffsets: fewer entries than block targets`);
        target = { kind: 'block', blockId: v, offset: u32(blockOffsets[nextBlock++]) };
      } else if (tk === 'image') target = { kind: 'image', rva: v as Rva };
      else if (tk === 'unwind') target = { kind: 'unwind', offset: v };
      else target = { kind: tk, index: v };
      out.push({ kind, offset: Number(offset), target, addend: big(addends[i]) });
      end = offset + BigInt(WIDTH[kind]);
    }
    lists.push(out);
  }
  if (nextBlock !== blockOffsets.length) throw new ColumnsInvalid(`${path}.blockOffsets: ${blockOffsets.length} entries for ${nextBlock} block targets`);
  return lists;
}

/** Relied ranges as (gap, length) pairs, gap from the previous range's end. */
export function reliedGapsOf(ranges: readonly RvaRange[]): number[] {
  const out: number[] = [];
  let end = 0;
  for (const r of ranges) {
    out.push(r.rva - end, r.length);
    end = r.rva + r.length;
  }
  return out;
}

/** Ranges back from (gap, length) pairs; throws ColumnsInvalid on an odd count, a negative gap or a sum past 2^32. */
export function reliedRangesOfGaps(pairs: readonly number[], path: string): RvaRange[] {
  if (pairs.length % 2 !== 0) throw new ColumnsInvalid(`${path}: ${pairs.length} values, not (gap, length) pairs`);
  const out: RvaRange[] = [];
  let end = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const rva = end + u32(pairs[i]);
    const length = u32(pairs[i + 1]);
    // Gaps are unsigned: ranges out of order would need a negative one and end up here.
    if (rva + length > 0xffff_ffff) throw new ColumnsInvalid(`${path}[${i / 2}]: range ends past 2^32 (ranges must be sorted)`);
    out.push({ rva: rva as Rva, length });
    end = rva + length;
  }
  return out;
}
