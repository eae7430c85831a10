/**
 * A global's layout inferred from the code that accesses it: the offsets AND the access sizes
 * of every instruction that reads or writes it, over the whole image.
 *
 * Symbol spacing cannot see a struct that grew inside its alignment padding: COFF symbols
 * carry no size, a 32-byte-aligned 24-byte struct that becomes 32 bytes keeps its section
 * size, its next symbol and (zero-initialised, or with the new field's bytes equal to the old
 * padding) its contents. The code does see it: v1 reads `misses` at +8 (8 bytes) and nothing
 * past +24; v2 writes a field at +8 and reads up to +32. The existing offset-set rule
 * (data-changes.ts `diffOffsetsUsed`) refuses only when offsets both appear and disappear;
 * here they only appear.
 *
 * Rules, for each writable item matched OLD -> NEW (a refusal names the global):
 * - NEW accesses bytes past the end of everything OLD's code touched in it (OLD's inferred
 *   extent): the struct may have grown, and the running image holds the OLD layout. A fix that
 *   only starts reading a field no old code read is refused too (the code alone cannot tell
 *   the two apart; refusing is the safe side).
 * - NEW accesses a field that overlaps an OLD field at another offset (a field straddles an
 *   old one: the fields were rearranged), unless OLD's code makes that same access (offset
 *   and size): wide vector accesses overlap several fields in either layout.
 * Accesses that take the address (`lea`) say nothing about a field: the object escapes, and
 * its extent is then unknown on that side, so the growth rule does not apply to it.
 */
import { Decoder, DecoderOptions, Instruction, MemorySizeExt, Mnemonic } from 'iced-x86';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { reason, type Reason } from './reasons.ts';
import type { DataChange } from './types.ts';

/** One field access: offset into the item and size in bytes. */
interface Access {
  readonly offset: number;
  readonly size: number;
}

/** Every access code makes into each writable item, and whether its address is taken. */
interface ItemAccesses {
  readonly fields: Map<string, Access>;
  addressTaken: boolean;
}

/** Size in bytes of the memory operand of the instruction at `rva`, 0 for lea or unknown. */
function accessSize(a: ImageAnalysis, decoder: Decoder, insn: Instruction, rva: number): number {
  decoder.position = rva;
  decoder.ip = BigInt(rva);
  decoder.decodeOut(insn);
  if (insn.mnemonic === Mnemonic.Lea) return 0;
  return MemorySizeExt.size(insn.memorySize);
}

/** Writable-item accesses of one image, keyed by item index. */
export function collectAccesses(a: ImageAnalysis): Map<number, ItemAccesses> {
  const out = new Map<number, ItemAccesses>();
  const decoder = new Decoder(64, a.img.image, DecoderOptions.None);
  const insn = new Instruction();
  try {
    for (const f of a.fns.functions) {
      for (const r of f.decoded.refs) {
        if (r.isBranch) continue;
        const d = a.itemAt(r.target);
        if (d === undefined || !d.writable) continue;
        let acc = out.get(d.index);
        if (acc === undefined) out.set(d.index, (acc = { fields: new Map(), addressTaken: false }));
        const size = accessSize(a, decoder, insn, r.insnRva);
        if (size === 0) {
          acc.addressTaken = true;
          continue;
        }
        const offset = r.target - d.start;
        acc.fields.set(`${offset}:${size}`, { offset, size });
      }
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return out;
}

const extentOf = (acc: ItemAccesses): number => Math.max(0, ...[...acc.fields.values()].map((x) => x.offset + x.size));

/** Refusals for globals whose layout, as the code accesses it, changed. */
export function diffAccessLayout(m: MatchResult): DataChange[] {
  const oldAcc = collectAccesses(m.old);
  const newAcc = collectAccesses(m.new);
  const out: DataChange[] = [];
  for (const [n, na] of newAcc) {
    const o = m.itemNewToOld[n]!;
    if (o < 0) continue;
    const oa = oldAcc.get(o);
    if (oa === undefined || oa.fields.size === 0) continue;
    const item = m.new.items[n]!;
    const label = item.name ?? `${item.section}+0x${item.start.toString(16)}`;
    const fmt = (xs: Iterable<Access>): string =>
      `{${[...xs]
        .sort((x, y) => x.offset - y.offset || x.size - y.size)
        .map((x) => `+${x.offset}:${x.size}`)
        .join(',')}}`;
    let why: Reason | null = null;
    const oldEnd = extentOf(oa);
    const newEnd = extentOf(na);
    if (!oa.addressTaken && newEnd > oldEnd) {
      why = reason('GLOBAL_ACCESSED_PAST_OLD_EXTENT', `writable global ${label} changed layout: new code accesses it up to +${newEnd}, old code only up to +${oldEnd} (a struct grown inside its alignment padding looks like this): accesses ${fmt(na.fields.values())} instead of ${fmt(oa.fields.values())}`, item.start);
    } else {
      for (const x of na.fields.values()) {
        // An access old code makes too, at the same offset and size, is a field of the old
        // layout: what it overlaps there (a 16-byte vector store zeroing two 8-byte elements,
        // bss-array-grow's ring_reset) overlapped it in OLD as well, so it shows no rearrangement.
        // Without this a DLL diffed with itself was refused.
        if (oa.fields.has(`${x.offset}:${x.size}`)) continue;
        const clash = [...oa.fields.values()].find((y) => y.offset !== x.offset && x.offset < y.offset + y.size && y.offset < x.offset + x.size);
        if (clash === undefined) continue;
        why = reason('GLOBAL_FIELD_STRADDLES_OLD', `writable global ${label} changed layout: new code accesses +${x.offset} (${x.size} bytes), which straddles the old field at +${clash.offset} (${clash.size} bytes)`, item.start);
        break;
      }
    }
    if (why === null) continue;
    out.push({ name: item.name, section: item.section, oldRva: m.old.items[o]!.start, newRva: item.start, size: item.end - item.start, status: 'changed', verdict: 'refused', reason: why });
  }
  return out;
}
