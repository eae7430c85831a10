/**
 * InstructionMap against the Map it replaced in descent: random adds over two ranges (in
 * and out of address order), the same has/get/size answers, the same insertion-ordered
 * iteration, and inAddressOrder as the values sorted by RVA.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { InstructionMap } from './instruction-map.ts';

interface Step {
  readonly rva: number;
  readonly tag: number;
}

/** Two ranges as decode-function.ts's Coverage lays their cells out: one after the other. */
function cellsOf(ranges: ReadonlyArray<readonly [number, number]>): { cellOf: (rva: number) => number; total: number; cellRanges: Array<{ cell: number; start: number; length: number }> } {
  const cellRanges: Array<{ cell: number; start: number; length: number }> = [];
  let total = 0;
  for (const [s, e] of ranges) {
    cellRanges.push({ cell: total, start: s, length: e - s });
    total += e - s;
  }
  const cellOf = (rva: number): number => {
    for (const r of cellRanges) if (rva >= r.start && rva < r.start + r.length) return r.cell + (rva - r.start);
    return -1;
  };
  return { cellOf, total, cellRanges };
}

describe('InstructionMap', () => {
  test('answers and iterates as a Map, and lists values in address order', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(fc.integer({ min: 0x0ff0, max: 0x1140 }), fc.nat(1000)), { maxLength: 200 }), (swap, adds) => {
        const ranges: Array<readonly [number, number]> = swap ? [[0x1100, 0x1130], [0x1000, 0x1080]] : [[0x1000, 0x1080], [0x1100, 0x1130]];
        const { cellOf, total } = cellsOf(ranges);
        const m = new InstructionMap<Step>(cellOf, total);
        const ref = new Map<number, Step>();
        for (const [rva, tag] of adds) {
          if (cellOf(rva) < 0) {
            expect(() => m.add({ rva, tag })).toThrow();
            continue;
          }
          m.add({ rva, tag });
          ref.set(rva, { rva, tag });
        }
        expect(m.size).toBe(ref.size);
        for (let rva = 0x0ff0; rva < 0x1140; rva++) {
          expect(m.has(rva)).toBe(ref.has(rva));
          expect(m.get(rva)).toEqual(ref.get(rva));
          const c = cellOf(rva);
          if (c >= 0) expect(m.hasAt(c, rva)).toBe(ref.has(rva));
        }
        expect([...m.values()]).toEqual([...ref.values()]);
        expect([...m.keys()]).toEqual([...ref.keys()]);
        expect([...m]).toEqual([...ref]);
        expect(m.inAddressOrder()).toEqual([...ref.values()].sort((a, b) => a.rva - b.rva));
      }),
    );
  });
});
