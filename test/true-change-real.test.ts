/**
 * "See only the true change" on the real pair A (sharp 0.34.4 -> 0.34.5, MSVC, stripped):
 * pinned facts a regression would break, checked against the disassembly of both builds.
 * Skipped with the reason when the corpus cannot be fetched.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { diffFiles, type ImageDiff } from '../compiler/index.ts';
import { stillReachable } from '../compiler/diff/still-reachable.ts';
import { Normaliser, type MatchView } from '../compiler/match/normalise.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'sharp-0.34.4-0.34.5')!;
const o = fetchRealFile(pair.old);
const n = fetchRealFile(pair.new);
const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;

describe.skipIf(unavailable !== undefined)(`sharp 0.34.4 -> 0.34.5${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let diff: ImageDiff;
  beforeAll(() => {
    const d = diffFiles(new Uint8Array(readFileSync((o as { value: string }).value)), new Uint8Array(readFileSync((n as { value: string }).value)));
    if (!d.ok) throw new Error(d.error.message);
    diff = d.value;
  }, 300_000);

  test('old 0x1c470, a virtual method reached only through vtable slot .rdata 0x5ac88, is redirected or refused, never left', () => {
    const c = diff.functions.find((f) => f.oldRva === 0x1c470)!;
    expect(c).toBeDefined();
    if (c.status === 'removed') expect(c.verdict).toBe('refused');
    else expect(c.status === 'unchanged' || c.verdict === 'refused' || c.redirect !== null).toBe(true);
  });

  test('an unmatched old function behind a vtable slot is refused as still reachable', () => {
    // Take 0x1c470's pair away, as a weaker matcher would: the slot must still be seen.
    const m = diff.match;
    const oi = m.old.fns.byEntry.get(0x1c470)!.index;
    const fnOldToNew = Int32Array.from(m.fnOldToNew);
    const fnNewToOld = Int32Array.from(m.fnNewToOld);
    const ni = fnOldToNew[oi]!;
    expect(ni).toBeGreaterThanOrEqual(0);
    fnOldToNew[oi] = -1;
    fnNewToOld[ni] = -1;
    const why = stillReachable({ ...m, fnOldToNew, fnNewToOld }, () => true);
    expect(why.get(oi)).toMatch(/a pointer in data \(\.rdata 0x5ac88\)/);
  });

  test('moved-and-unchanged functions are matched, never added or removed', () => {
    // Checked by disassembling both builds: 0x2670 -> 0x2690 (141 B, throws through a
    // ThrowInfo whose CatchableTypeArray RVA moved 0x619e0 -> 0x619f0) and 0x9150 -> 0x9170
    // (4,812 B, imports from libvips-cpp-8.17.2.dll -> -8.17.3.dll) are the same functions.
    const at = (o: number): (typeof diff.functions)[number] | undefined => diff.functions.find((f) => f.oldRva === o);
    expect(at(0x2670)?.newRva).toBe(0x2690);
    expect(at(0x9150)?.newRva).toBe(0x9170);
    // The independent count (functions from .pdata, references resolved, matched by form
    // and order) has 4 added and 1 removed on this pair.
    expect(diff.counts.added).toBeLessThanOrEqual(5);
    expect(diff.counts.removed).toBeLessThanOrEqual(2);
  });

  test('image-relative throw data is keyed by what it names: the moved ThrowInfo at .rdata 0x61a50 matches its old self', () => {
    const m = diff.match;
    const oldItem = m.old.itemAt(0x61a50)!;
    expect(oldItem.start).toBe(0x61a50);
    expect(m.old.rvaFields.get(0x61a50 + 12)).toBe(0x619e0);
    const newKeys = new Set(m.new.items.filter((d) => !d.writable).map((d) => m.newNorm.itemKey(d, 'exact')));
    expect(newKeys.has(m.oldNorm.itemKey(oldItem, 'exact'))).toBe(true);
  });

  test('every removed function that is still reachable is refused', () => {
    const m = diff.match;
    const why = stillReachable(m, (k) => {
      const c = diff.functions.find((f) => f.oldIndex === k);
      return c === undefined || c.status === 'unchanged' || c.verdict === 'refused' || c.redirect === null;
    });
    for (const f of diff.functions.filter((x) => x.status === 'removed')) {
      if (why.has(f.oldIndex!)) expect(f.verdict, `0x${f.oldRva!.toString(16)}`).toBe('refused');
    }
  });

  test('references resolved through the match: unchanged only while their targets stay paired', () => {
    // Each checked by disassembling both builds (only displacements differ):
    // - 0x3050c throws through a ThrowInfo whose pmfnUnwind names a leaf destructor with no
    //   .pdata entry (old 0x304b4, new 0x30514), now a function of its own;
    // - 0x470a0 reads a float just before the debug directory (timestamps, CodeView GUID);
    // - 0x3a034 reads a string just before an MSVC FuncInfo (RVAs).
    const m = diff.match;
    const at = (o: number): (typeof diff.functions)[number] | undefined => diff.functions.find((f) => f.oldRva === o);
    expect([at(0x3050c)?.newRva, at(0x3050c)?.status]).toEqual([0x3056c, 'unchanged']);
    expect([at(0x470a0)?.newRva, at(0x470a0)?.status]).toEqual([0x47100, 'unchanged']);
    expect([at(0x3a034)?.newRva, at(0x3a034)?.status]).toEqual([0x3a094, 'unchanged']);
    const dtor = m.old.fns.byEntry.get(0x304b4)!;
    expect(m.new.fns.functions[m.fnOldToNew[dtor.index]!]?.entry).toBe(0x30514);
    // Unpair the destructor: the thrower's exact forms must differ (the field is mapped, not dropped).
    const fnOldToNew = Int32Array.from(m.fnOldToNew);
    const fnNewToOld = Int32Array.from(m.fnNewToOld);
    fnNewToOld[fnOldToNew[dtor.index]!] = -1;
    fnOldToNew[dtor.index] = -1;
    const view: MatchView = {
      fnKey: (side, i) => (side === 'old' ? (fnOldToNew[i]! >= 0 ? i : -1) : fnNewToOld[i]!),
      itemKey: m.view.itemKey,
    };
    const oldNorm = new Normaliser(m.old, 'old', view);
    const newNorm = new Normaliser(m.new, 'new', view);
    const thrower = diff.functions.find((f) => f.oldRva === 0x3050c)!;
    const of = m.old.fns.functions[thrower.oldIndex!]!;
    const nf = m.new.fns.functions[thrower.newIndex!]!;
    expect(m.oldNorm.functionForm(of, 'exact')).toBe(m.newNorm.functionForm(nf, 'exact'));
    expect(oldNorm.functionForm(of, 'exact')).not.toBe(newNorm.functionForm(nf, 'exact'));
  });
});
