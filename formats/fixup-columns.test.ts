/**
 * Format 2.0's columns (formats/fixup-columns.ts): fixup lists (through Package.fixups and
 * one marker per list) and relied ranges round-trip exactly, the old one-message-per-entry
 * form still loads, and every column that does not add up (a count the other columns do not
 * hold, a gap past 2^32, a tag naming no kind, a marker with no list or a list with no
 * marker, an entry beside a marker) is refused at decoding with the column named.
 */
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from './codec.ts';
import { loadPackage, type LoadOptions } from './container.ts';
import { hotpatch } from './generated/hotpatch.js';
import type { Fixup, HotpatchPackage } from './package.ts';
import { fullPackage } from './testing/sample-packages.ts';
import { wrapRaw } from './testing/wrap.ts';
import { asRva } from '../common/types.ts';

const ANY: LoadOptions = { trusted: [], allowUnsigned: true, readOnly: true };

async function load(raw: Uint8Array): Promise<string | HotpatchPackage> {
  const r = await loadPackage(await wrapRaw(raw), ANY);
  return r.ok ? r.value.package : `${r.error.code}: ${r.error.message}`;
}

/** The full package's message, edited on the wire side. */
async function edited(edit: (m: hotpatch.Package) => void): Promise<string | HotpatchPackage> {
  const m = hotpatch.Package.decode(encodePayload(await fullPackage()));
  edit(m);
  return load(hotpatch.Package.encode(m).finish());
}

/** Decoding fills in every repeated field; the generated types still say "maybe null". */
interface Cols {
  tags: number[];
  offsetGaps: unknown[];
  targets: number[];
  blockOffsets: number[];
  addends: unknown[];
  counts: number[];
}
interface Target {
  reliedRangeGaps: number[];
  reliedRanges: hotpatch.RvaRange.$Properties[];
}
/** The wire fixup list of code block i. */
const list = (m: hotpatch.Package, i = 0): hotpatch.Fixup.$Properties[] => m.codeBlocks[i]!.fixups!;
/** Package.fixups, the table of every list. */
const cols0 = (m: hotpatch.Package): Cols => m.fixups as Cols;
const target = (m: hotpatch.Package): Target => m.target as Target;

describe('fixup columns (format 2.0)', () => {
  it('writes each fixup list as one kind-0 marker, which a 1.3 reader refuses, and the fixups in one table', async () => {
    const pkg = await fullPackage();
    const m = hotpatch.Package.decode(encodePayload(pkg));
    for (const i of m.codeBlocks.keys()) {
      expect(list(m, i).length).toBe(pkg.codeBlocks[i]!.fixups.length === 0 ? 0 : 1);
      for (const f of list(m, i)) {
        expect(f.target).toBe('columns');
        expect(hotpatch.FixupColumns.encode(f.columns!).finish().length).toBe(0);
        // FIXUP_KIND_UNSPECIFIED: a 1.3 reader refuses "kind 0 is not a fixup kind".
        expect(f.kind).toBe(hotpatch.FixupKind.FIXUP_KIND_UNSPECIFIED);
      }
    }
    // Block 0's fixups, block 0's unwind fixups, block 1's, data block 2's.
    expect(cols0(m).counts).toEqual([6, 1, 1, 1]);
    expect(cols0(m).tags.length).toBe(9);
    expect(target(m).reliedRanges.length).toBe(0);
    expect(target(m).reliedRangeGaps.length).toBe(2 * pkg.target.reliedRanges.length);
  });

  it('round-trips every kind, target, extreme addend and an out-of-order list exactly', async () => {
    const pkg = await fullPackage();
    const fixups: Fixup[] = [
      { kind: 'abs64', offset: 8, target: { kind: 'image', rva: asRva(0x1000) }, addend: -(2n ** 63n) },
      { kind: 'rel32', offset: 0, target: { kind: 'block', blockId: pkg.codeBlocks[1]!.id, offset: 3 }, addend: -4n },
      { kind: 'rip-disp32', offset: 20, target: { kind: 'import-slot', index: 0 }, addend: 2n ** 63n - 1n },
      { kind: 'rel8', offset: 16, target: { kind: 'import-address', index: 0 }, addend: -1n },
      { kind: 'imagerel32', offset: 24, target: { kind: 'block', blockId: pkg.codeBlocks[1]!.id, offset: 0 }, addend: 0n },
    ];
    const one = { ...pkg, codeBlocks: [{ ...pkg.codeBlocks[0]!, fixups }, ...pkg.codeBlocks.slice(1)] };
    expect(cols0(hotpatch.Package.decode(encodePayload(one))).counts).toEqual([5, 1, 1, 1]);
    // Decoding only: validation would refuse this list (it overlaps the block's implicit fixups).
    const d = decodePayload(encodePayload(one));
    expect(d.ok && d.value.codeBlocks[0]!.fixups).toEqual(fixups);
    expect(d.ok && d.value.target.reliedRanges).toEqual(pkg.target.reliedRanges);
  });

  it('still loads 1.0-1.3 fixup messages and relied range messages', async () => {
    const pkg = await fullPackage();
    const legacy = (f: Fixup): hotpatch.Fixup => {
      const t = f.target;
      const kind = ['rel32', 'rel8', 'abs64', 'rip-disp32', 'addr32nb', 'imagerel32'].indexOf(f.kind) + 1;
      const base = { kind, offset: f.offset, addend: Number(f.addend) } as unknown as hotpatch.Fixup;
      if (t.kind === 'image') return Object.assign(base, { imageRva: t.rva, target: 'imageRva' });
      if (t.kind === 'block') return Object.assign(base, { block: { blockId: t.blockId, offset: t.offset }, target: 'block' });
      if (t.kind === 'import-slot') return Object.assign(base, { importSlot: t.index, target: 'importSlot' });
      if (t.kind === 'import-address') return Object.assign(base, { importAddress: t.index, target: 'importAddress' });
      return Object.assign(base, { unwindOffset: t.offset, target: 'unwindOffset' });
    };
    const r = await edited((m) => {
      m.codeBlocks.forEach((b, i) => {
        const c = pkg.codeBlocks[i]!;
        b.fixups = c.fixups.map(legacy);
        if (b.unwind && c.unwind) b.unwind.unwindFixups = c.unwind.unwindFixups.map(legacy);
      });
      m.dataBlocks.forEach((b, i) => void (b.fixups = pkg.dataBlocks[i]!.fixups.map(legacy)));
      m.fixups = null;
      target(m).reliedRangeGaps = [];
      target(m).reliedRanges = pkg.target.reliedRanges.map((x) => ({ rva: x.rva, length: x.length }) as hotpatch.RvaRange.$Properties);
    });
    expect(r).toEqual(pkg);
  });

  const refusals: ReadonlyArray<readonly [string, (m: hotpatch.Package) => void, string]> = [
    ['a targets column shorter than the tags', (m) => void cols0(m).targets.pop(), 'PKG_INVALID: fixups.targets: 8 entries for 9 tags'],
    ['an addends column longer than the tags', (m) => void cols0(m).addends.push(0), 'PKG_INVALID: fixups.addends: 10 entries for 9 tags'],
    ['an offset gap column shorter than the tags', (m) => void (cols0(m).offsetGaps = []), 'PKG_INVALID: fixups.offsetGaps: 0 entries for 9 tags'],
    ['a tag with kind 0', (m) => void (cols0(m).tags[1] = 0), 'PKG_INVALID: fixups.tags[1]: 0 names no fixup kind and target'],
    ['a tag with kind 7', (m) => void (cols0(m).tags[0] = 7 * 8), 'PKG_INVALID: fixups.tags[0]: 56 names no fixup kind and target'],
    ['a tag with target 5', (m) => void (cols0(m).tags[0] = 8 + 5), 'PKG_INVALID: fixups.tags[0]: 13 names no fixup kind and target'],
    ['an offset gap before 0', (m) => void (cols0(m).offsetGaps[0] = -1), 'PKG_INVALID: fixups.offsetGaps[0]: offset -1 outside 0..2^32-1'],
    ['an offset gap past 2^32', (m) => void (cols0(m).offsetGaps[2] = 2 ** 32), 'PKG_INVALID: fixups.offsetGaps[2]: offset'],
    ['more block offsets than block targets', (m) => void cols0(m).blockOffsets.push(0), 'PKG_INVALID: fixups.blockOffsets:'],
    ['counts that sum to fewer fixups than the tags', (m) => void (cols0(m).counts[0] = 5), 'PKG_INVALID: fixups.counts: they sum to 8 for 9 tags'],
    ['a count of 0', (m) => void cols0(m).counts.push(0), 'PKG_INVALID: fixups.counts[4]: 0 (an empty list has no marker)'],
    ['fewer lists than markers', (m) => void (cols0(m).counts = [6, 1, 2]), 'PKG_INVALID: dataBlocks[0].fixups[0]: a marker beyond the 3 lists of Package.fixups'],
    ['more lists than markers', (m) => void (cols0(m).counts = [5, 1, 1, 1, 1]), 'PKG_INVALID: fixups: 5 lists for 4 markers'],
    ['markers without the table', (m) => void (m.fixups = null), 'PKG_INVALID: codeBlocks[0].fixups[0]: a marker beyond the 0 lists of Package.fixups'],
    ['an entry beside the marker', (m) => void list(m).push(list(m)[0]!), "PKG_INVALID: codeBlocks[0].fixups[0]: a fixup marker must be the list's only entry (2 entries)"],
    ['a marker with a kind', (m) => void (list(m)[0]!.kind = hotpatch.FixupKind.FIXUP_KIND_REL32), 'PKG_INVALID: codeBlocks[0].fixups[0]: a fixup marker with a kind, offset or addend'],
    ['a marker holding columns', (m) => void (list(m)[0]!.columns = { tags: [8] }), "PKG_INVALID: codeBlocks[0].fixups[0].columns: a marker's columns must be empty"],
    // A negative gap decodes (lists may go back); validation then sees the overlap.
    ['overlapping fixups (a gap that goes back)', (m) => void (cols0(m).offsetGaps[1] = -2), 'PKG_INVALID: codeBlocks[0].fixups[1]: overlaps codeBlocks[0].fixups[0]'],
    ['relied gaps that are not pairs', (m) => void target(m).reliedRangeGaps.pop(), 'PKG_INVALID: target.reliedRangeGaps: 7 values, not (gap, length) pairs'],
    ['a relied range past 2^32', (m) => void (target(m).reliedRangeGaps[2] = 0xffff_ff00), 'PKG_INVALID: target.reliedRangeGaps[1]: range ends past 2^32'],
    ['relied ranges in both forms', (m) => void target(m).reliedRanges.push({ rva: 0x1000, length: 1 }), 'PKG_INVALID: target: both reliedRanges and reliedRangeGaps'],
    ['overlapping relied ranges (gap 0 then a range inside)', (m) => void (target(m).reliedRangeGaps[2] = 0), 'PKG_INVALID: target.reliedRanges[1]: not sorted, disjoint and non-adjacent'],
    ['an empty relied range', (m) => void (target(m).reliedRangeGaps[3] = 0), 'PKG_INVALID: target.reliedRanges[1]: empty range'],
  ];
  for (const [name, edit, want] of refusals)
    it(`refuses ${name}`, async () => {
      const r = await edited(edit);
      expect(typeof r === 'string' ? r : 'loaded').toContain(want);
    });
});
