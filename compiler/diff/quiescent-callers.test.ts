/**
 * Which redirected old callers must be quiescent, on the caller samples' real builds (GCC and
 * clang, symbols and stripped): caller-loop (the callee reads one more register), caller-loop-order
 * (the callee reads fewer, with another meaning: a middle parameter removed, shown by the
 * caller's own call sites), caller-loop-same (the same arguments: none).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { scenarioDll, TOOLCHAINS, type Toolchain } from '../../samples/scenarios.ts';
import { diffFiles, type ImageDiff } from '../index.ts';
import { findQuiescentCallers } from './quiescent-callers.ts';
import { regNames } from './register-effects.ts';

const read = (s: string, v: 'v1' | 'v2', stripped: boolean, tc: Toolchain): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s, v, stripped, undefined, tc)));
function diffOf(s: string, stripped: boolean, tc: Toolchain): ImageDiff {
  const d = diffFiles(read(s, 'v1', stripped, tc), read(s, 'v2', stripped, tc));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}
/** Every changed function counts as redirected (what the package of a hotpatchable sample does). */
function callers(d: ImageDiff): Array<readonly [number, number, string, string | null]> {
  const changed = (i: number): boolean => {
    const n = d.match.fnOldToNew[i] ?? -1;
    return n >= 0 && d.newStatus[n] === 'changed';
  };
  return findQuiescentCallers(d.match, changed).map((q) => [q.caller.entry, q.callee.entry, regNames(q.regs), q.meaning] as const);
}

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('%s, stripped: %s', (tc, stripped) => {
  test('caller-loop: old run calls step, whose new entry reads rdx', () => {
    const q = callers(diffOf('caller-loop', stripped, tc));
    expect(q.map(([, , regs, meaning]) => [regs, meaning])).toEqual([['rdx', null]]);
  });

  test('caller-loop-order: old run passes b in rdx, which the new step reads as c (a middle parameter removed)', () => {
    const q = callers(diffOf('caller-loop-order', stripped, tc));
    expect(q.length).toBe(1);
    expect(q[0]![2]).toBe('');
    expect(q[0]![3]).toMatch(/^stops reading r8, and its callers in the module now pass in rdx what they passed in r8 \(old (run|0x[0-9a-f]+) passed 3, 1 in rdx, r8; its new body 1 in rdx: a parameter removed\?\)$/);
  });

  test('caller-loop-same: the same argument, no quiescent caller', () => {
    expect(callers(diffOf('caller-loop-same', stripped, tc))).toEqual([]);
  });
});
