/**
 * Where the emitter sends an address that is both the start of one item and one past the end
 * of the item before it (`&arr[N]`). Item extents are inferred, so both readings must hold in
 * the patched image: the pair adjacent in OLD at the places every other reference goes, or
 * carried together; for writable globals (which cannot be carried) the matched pair adjacent
 * in OLD, or a refusal. The logic-fix DLL diffed with itself gives real items whose OLD
 * counterparts are known; a match or content map pointing elsewhere stands for an OLD whose
 * layout differs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { scenarioDll } from '../../samples/scenarios.ts';
import { diffFiles, type ImageDiff } from '../index.ts';
import { oldRodataByKey } from './diff-images.ts';
import type { DataItem } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { resolveTarget, type ResolveContext } from './resolve-target.ts';

function selfDiff(): ImageDiff {
  const bytes = new Uint8Array(readFileSync(scenarioDll('logic-fix', 'v1', false)));
  const d = diffFiles(bytes, bytes);
  if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
  return d.value;
}

/** A resolve context like the emitter's, recording the pairs it asks to glue. */
function context(m: MatchResult, oldRodata: ReadonlyMap<string, DataItem>, glued: Array<[number, number]>): ResolveContext {
  return {
    m,
    blockOf: new Map(),
    rangeOffsets: new Map(),
    oldRodata,
    carry: () => 99,
    importIndex: () => 0,
    carryGlued: () => null,
    requireGlue: (p, q) => glued.push([p.index, q.index]),
  };
}

/** Two adjacent items of one section, both read-only or both writable, the second one named. */
function adjacentPair(d: ImageDiff, writable: boolean): [DataItem, DataItem] {
  const items = d.match.new.items;
  for (let i = 1; i < items.length; i++) {
    const p = items[i - 1]!;
    const q = items[i]!;
    if (p.writable === writable && q.writable === writable && p.section === q.section && p.end === q.start && p.name !== null && q.name !== null) return [p, q];
  }
  throw new Error('no adjacent pair');
}

describe('read-only: start of one item, end of the one before', () => {
  test('OLD holding the pair adjacent resolves to OLD with no glue; a different OLD copy of the first asks to carry both', () => {
    const d = selfDiff();
    const m = d.match;
    const [p, q] = adjacentPair(d, false);
    const rodata = oldRodataByKey(m);
    const glued: Array<[number, number]> = [];
    const r = resolveTarget(context(m, rodata, glued), q.start, null);
    expect(r).toEqual({ ok: true, target: { kind: 'image', rva: q.start } });
    expect(glued).toEqual([]);
    // An OLD whose copy of `p` lies elsewhere (same content, not before `q`).
    const elsewhere = m.old.items.find((x) => !x.writable && x.end !== q.start && x.index !== p.index)!;
    const moved = new Map(rodata);
    moved.set(m.newNorm.itemKey(p, 'exact'), elsewhere);
    const r2 = resolveTarget(context(m, moved, glued), q.start, null);
    expect(r2.ok).toBe(true);
    expect(glued).toEqual([[p.index, q.index]]);
    // A reference into the middle of `q` is no end pointer: nothing to glue.
    glued.length = 0;
    resolveTarget(context(m, moved, glued), q.start + 1, null);
    expect(glued).toEqual([]);
  });

  test('the end of a section is also the end of its last item: OLD must end the section with it', () => {
    const d = selfDiff();
    const m = d.match;
    const sec = m.new.img.sections.find((s) => {
      const last = m.new.itemAt(s.rva + s.size - 1);
      return !s.writable && last !== undefined && last.end === s.rva + s.size && !last.writable;
    })!;
    expect(sec).toBeDefined();
    const t = sec.rva + sec.size;
    const last = m.new.itemAt(t - 1)!;
    const rodata = oldRodataByKey(m);
    expect(resolveTarget(context(m, rodata, []), t, null)).toEqual({ ok: true, target: { kind: 'image', rva: t } });
    const moved = new Map(rodata);
    moved.set(m.newNorm.itemKey(last, 'exact'), m.old.items.find((x) => !x.writable && x.end !== t)!);
    const r = resolveTarget(context(m, moved, []), t, null);
    expect(r.ok ? 'resolved' : r.reason).toMatch(/is also the end of/);
  });
});

describe('writable: start of one global, end of the one before', () => {
  test('the matched pair adjacent in OLD resolves; matched to an OLD global elsewhere it is refused', () => {
    const d = selfDiff();
    const m = d.match;
    const [p, q] = adjacentPair(d, true);
    const rodata = oldRodataByKey(m);
    expect(resolveTarget(context(m, rodata, []), q.start, null)).toEqual({ ok: true, target: { kind: 'image', rva: q.start } });
    // Match `p` with another writable global of OLD (one not ending where `q` starts).
    const other = m.old.items.find((x) => x.writable && x.end !== q.start && x.index !== p.index)!;
    const itemNewToOld = m.itemNewToOld.slice();
    const itemOldToNew = m.itemOldToNew.slice();
    itemOldToNew[itemNewToOld[p.index]!] = -1;
    itemOldToNew[other.index] = p.index;
    itemNewToOld[p.index] = other.index;
    const swapped: MatchResult = { ...m, itemNewToOld, itemOldToNew };
    const r = resolveTarget(context(swapped, rodata, []), q.start, null);
    expect(r.ok ? 'resolved' : r.reason).toMatch(/also the end of .*not hold the two globals adjacent/);
    // The middle of `q` is not an end pointer.
    expect(resolveTarget(context(swapped, rodata, []), q.start + 1, null).ok).toBe(true);
    // A load or store at `q.start` touches `q`'s bytes only: it names `q`, whatever OLD holds before it.
    expect(resolveTarget(context(swapped, rodata, []), q.start, null, true)).toEqual({ ok: true, target: { kind: 'image', rva: q.start } });
  });
});
