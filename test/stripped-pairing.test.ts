/**
 * Writable globals paired in a stripped build agree with the build with symbols. Each sample's
 * stripped DLL is the same link with its symbol table dropped (same RVAs), and with symbols
 * every global pairs by name: that pairing is the truth a stripped pairing must not
 * contradict. A stripped pair that does names a different old global, and new code aimed
 * there reads or writes the wrong cell of the running process: a wrong patch, not a refusal.
 *
 * The case that made it: samples/new-catch, GCC, stripped. gcc's new `DW.ref.*` cells push
 * the CRT's .data 0x10 up, and pairing by equal section offset matched new .data+0xd0 (a
 * loader-only cell pointing at a typeinfo) to old .data+0xd0 (libstdc++'s
 * `__terminate_handler`, now at +0xe0). Now the moved globals pair through the `.refptr`
 * cells matched code loads them by (match/match-data-slots.ts), and position pairing needs
 * paired neighbours at the same offsets on both sides (match/match-images.ts, step 6).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { diffFiles, type ImageDiff } from '../compiler/index.ts';
import type { MatchResult } from '../compiler/match/match-images.ts';
import { loaderOnlyCell } from '../compiler/match/loader-only-cells.ts';
import { readScenarios, scenarioDll, TOOLCHAINS, type SampleVersion, type Toolchain } from '../samples/scenarios.ts';

function diffOf(name: string, from: SampleVersion, to: SampleVersion, stripped: boolean, tc: Toolchain): ImageDiff {
  const read = (v: SampleVersion): Uint8Array => new Uint8Array(readFileSync(scenarioDll(name, v, stripped, undefined, tc)));
  const d = diffFiles(read(from), read(to));
  if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
  return d.value;
}

/** New item start -> old item start, for every paired writable item. */
function writablePairs(m: MatchResult): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of m.new.items) {
    const o = m.itemNewToOld[d.index]!;
    if (d.writable && o >= 0) out.set(d.start, m.old.items[o]!.start);
  }
  return out;
}

/** Stripped pairs that contradict the pairs with symbols (either direction), as text. */
function contradictions(stripped: MatchResult, symbols: MatchResult): string[] {
  const truthNew = writablePairs(symbols);
  const truthOld = new Map([...truthNew].map(([n, o]) => [o, n] as const));
  const hex = (x: number | undefined): string => (x === undefined ? '-' : `0x${x.toString(16)}`);
  const out: string[] = [];
  for (const [n, o] of writablePairs(stripped)) {
    const tn = truthNew.get(n);
    const to = truthOld.get(o);
    if ((tn !== undefined && tn !== o) || (to !== undefined && to !== n)) out.push(`new ${hex(n)} -> old ${hex(o)}; with symbols new ${hex(n)} -> old ${hex(tn)}, old ${hex(o)} <- new ${hex(to)}`);
  }
  return out;
}

const cases = TOOLCHAINS.flatMap((tc) => readScenarios().flatMap((s) => s.steps.map((step) => [s.name, step.from, step.to, tc] as const)));

describe('stripped writable pairs agree with the build with symbols', () => {
  test.each(cases)('%s %s->%s (%s)', (name, from, to, tc) => {
    const stripped = diffOf(name, from, to, true, tc).match;
    const symbols = diffOf(name, from, to, false, tc).match;
    expect(contradictions(stripped, symbols)).toEqual([]);
  });
});

describe('new-catch, GCC, stripped: the moved CRT globals', () => {
  const diff = diffOf('new-catch', 'v1', 'v2', true, 'gcc');
  const m = diff.match;
  const oldData = m.old.img.sections.find((s) => s.name === '.data')!.rva;
  const newData = m.new.img.sections.find((s) => s.name === '.data')!.rva;
  const pairAt = (newOff: number): number | null => {
    const d = m.new.itemAt(newData + newOff)!;
    const o = m.itemNewToOld[d.index]!;
    return o < 0 ? null : m.old.items[o]!.start - oldData;
  };

  test('each pairs with its old self, 0x10 lower; the typeinfo cell at +0xd0 never with old +0xd0', () => {
    // _CRT_MT, __native_dllmain_reason, __terminate_handler, __unexpected_handler (the
    // offsets with symbols): reached only through .refptr cells in .rdata.
    expect([0x44, 0x50, 0xe0, 0xf0].map(pairAt)).toEqual([0x34, 0x40, 0xd0, 0xe0]);
    // The loader-only typeinfo cell (.data$.LDFCM0 with symbols) needs no counterpart: it
    // is keyed by what it points at, and pairs with nothing by position.
    const cell = m.new.itemAt(newData + 0xd0)!;
    expect(loaderOnlyCell(m.new, cell)).toBe(true);
    expect(pairAt(0xd0)).toBeNull();
    expect(m.itemsByPosition.size).toBe(0);
  });

  test('.data is the same per matched item: only parse_size changed, hotpatchable', () => {
    expect(diff.data).toEqual([]);
    expect(diff.hotpatchable).toBe(true);
    expect(diff.functions.filter((f) => f.status !== 'unchanged')).toHaveLength(1);
  });
});
