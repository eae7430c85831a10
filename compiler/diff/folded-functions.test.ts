/**
 * Identical code folding on the icf-fold sample's real builds. clang's v1 (lld --icf=all) has
 * scale_a and scale_b at one address X; v2 changes scale_a only. The matcher leaves X unnamed
 * (its names split in NEW) and pairs it with scale_b, whose code it still is: nothing is
 * redirected at X. The rule refuses the pairing the name-first matcher made (X -> the changed
 * scale_a), with symbols and stripped. GCC's build (GNU ld, no ICF) is a plain change of
 * scale_a; icf-safe (folded in both versions, another function changes) passes.
 */
import { describe, expect, test } from 'vitest';
import { diffFiles } from '../index.ts';
import type { FunctionInfo } from '../image/types.ts';
import { sampleBytes } from '../../runtime/apply/testing/fixtures.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import { sampleAnalysis } from '../match/testing/sample-analysis.ts';
import { matchImages, type MatchResult } from '../match/match-images.ts';
import { foldedFunctionProblems } from './folded-functions.ts';
import type { FunctionStatus } from './types.ts';

const analysis = sampleAnalysis;

/** The entry RVA of a function by its symbol name, in the symbols build. */
function entryOf(scenario: string, version: string, name: string): number {
  const f = analysis(scenario, `${version}.clang.dll`).fns.functions.find((x) => x.names.includes(name));
  if (f === undefined) throw new Error(`${name} not found`);
  return f.entry;
}

const statusOf = (m: MatchResult): FunctionStatus[] =>
  m.new.fns.functions.map((f) => {
    const o = m.fnNewToOld[f.index]!;
    return o < 0 ? 'added' : m.oldNorm.sameForm(m.old.fns.functions[o]!, m.newNorm, f, 'exact') ? 'unchanged' : 'changed';
  });

const at = (a: ImageAnalysis, rva: number): FunctionInfo => a.fns.byEntry.get(rva)!;

describe('identical code folding (icf-fold, clang + lld --icf=all)', () => {
  const x = entryOf('icf-fold', 'v1', 'scale_a');
  const newA = entryOf('icf-fold', 'v2', 'scale_a');
  const newB = entryOf('icf-fold', 'v2', 'scale_b');
  test('the sample is folded: v1 scale_a and scale_b are one address, v2 two', () => {
    expect(entryOf('icf-fold', 'v1', 'scale_b')).toBe(x);
    expect(newA).not.toBe(newB);
  });

  test.each(['.clang', '.clang.stripped'])('the folded body stays scale_b, the new scale_a is added, only use_a changes (%s)', (suffix) => {
    const m = matchImages(analysis('icf-fold', `v1${suffix}.dll`), analysis('icf-fold', `v2${suffix}.dll`));
    const o = at(m.old, x).index;
    expect(m.fnOldToNew[o]).toBe(at(m.new, newB).index);
    expect(m.fnNewToOld[at(m.new, newA).index]).toBe(-1);
    const status = statusOf(m);
    expect(status[at(m.new, newB).index]).toBe('unchanged');
    expect(foldedFunctionProblems(m, status).size).toBe(0);
    const d = diffFiles(sampleBytes('icf-fold', `v1${suffix}.dll`), sampleBytes('icf-fold', `v2${suffix}.dll`));
    if (!d.ok) throw new Error(d.error.message);
    expect(d.value.hotpatchable).toBe(true);
    expect(d.value.functions.filter((f) => f.status !== 'unchanged').map((f) => [f.status, f.newRva])).toEqual([
      ['added', newA],
      ['changed', entryOf('icf-fold', 'v2', 'use_a')],
    ]);
  });

  test.each(['.clang', '.clang.stripped'])('pairing the folded body with the changed scale_a (as names first did) is refused (%s)', (suffix) => {
    const m = matchImages(analysis('icf-fold', `v1${suffix}.dll`), analysis('icf-fold', `v2${suffix}.dll`));
    const o = at(m.old, x).index;
    const a = at(m.new, newA).index;
    const b = at(m.new, newB).index;
    (m.fnNewToOld as Int32Array)[b] = -1;
    (m.fnNewToOld as Int32Array)[a] = o;
    (m.fnOldToNew as Int32Array)[o] = a;
    const status = statusOf(m);
    expect(status[a]).toBe('changed');
    expect(status[b]).toBe('added');
    const r = foldedFunctionProblems(m, status);
    expect([...r.keys()]).toEqual([a]);
    expect(r.get(a)!.code).toBe('FOLDED_FUNCTION_CHANGED');
    const other = suffix === '.clang' ? 'scale_b' : `0x${newB.toString(16)}`;
    const how = suffix === '.clang' ? 'identical code folding' : 'its exact old body: identical code folding, or its pairing with the changed function is wrong';
    expect(r.get(a)!.message).toContain(`is both the changed ${suffix === '.clang' ? 'scale_a' : `0x${newA.toString(16)}`} and, in NEW, ${other} at 0x${newB.toString(16)} (${how})`);
  });

  test('the fold in NEW (v2 -> v1: two old functions, one new body) matches the unchanged one and drops the other', () => {
    for (const suffix of ['.clang', '.clang.stripped']) {
      const d = diffFiles(sampleBytes('icf-fold', `v2${suffix}.dll`), sampleBytes('icf-fold', `v1${suffix}.dll`));
      if (!d.ok) throw new Error(d.error.message);
      expect(d.value.hotpatchable).toBe(true);
      expect(d.value.functions.filter((f) => f.status !== 'unchanged').map((f) => [f.status, f.oldRva])).toEqual([
        ['changed', entryOf('icf-fold', 'v2', 'use_a')],
        ['removed', newA],
      ]);
    }
  });

  test('icf-safe: folded in both versions, only offset_of changes', () => {
    for (const suffix of ['.clang', '.clang.stripped']) {
      const d = diffFiles(sampleBytes('icf-safe', `v1${suffix}.dll`), sampleBytes('icf-safe', `v2${suffix}.dll`));
      if (!d.ok) throw new Error(d.error.message);
      expect(d.value.hotpatchable).toBe(true);
      expect(d.value.functions.filter((f) => f.status !== 'unchanged').map((f) => f.newRva)).toEqual([entryOf('icf-safe', 'v2', 'offset_of')]);
    }
  });
});
