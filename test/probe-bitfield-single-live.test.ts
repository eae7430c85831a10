/**
 * Bit-field words that a reader decodes one field of, and words cleared by memset then set
 * field by field, in a real process under Wine (issue #14).
 * - bitfield-single-revalue (test/probes/bitfield-single-revalue.c): init stores the word whole
 *   from a literal; its fields swap places AND level's value changes (0x15b -> 0x16c), and
 *   unpack decodes level alone. The reader's one group moved with another value: no field kept
 *   its value, and one group is no permutation, so init and unpack were hotpatchable at gcc
 *   -O1 and clang -O0..-Os (clang's `add eax,eax` also ended the reader's bits there). Carried,
 *   the patched process prints neither version's line. Now refused (bitfield-immediates.ts
 *   tradedPlaces: the bits beside the moved group keep their value, moved across; bitfield-bits.ts:
 *   `add r,r` is a shift by one).
 * - bitfield-single-revalue-fix (the twin): another level, the layout kept, unpack's formula
 *   changes: hotpatchable, and patched live it prints v2's formula over old init's level.
 * - bitfield-memset-object: memset of the object, then each member stored into it, the word's
 *   fields swapped: refused at all 8 builds (each field's read-modify-write, or the merged
 *   immediate); carried anyway, neither line.
 * gcc -O2 (and -O0 for the twin's init) keeps a read-modify-write with changed constants,
 * refused there before; gcc -Os keeps the literal in .data: GLOBAL_INITIAL_VALUE_CHANGED.
 */
import { describe, expect, test } from 'vitest';
import type { Toolchain } from '../samples/scenarios.ts';
import { carriedNeither, changedVerdicts, startLayoutProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const suite = liveSuite('hp-probe-bitfield-single-', skip);
const CODE = 'STRUCTURE_BITFIELD_CHANGED';
const ALL: ReadonlyArray<readonly [Toolchain, string]> = (['gcc', 'clang'] as const).flatMap((tc) => ['-O0', '-O1', '-O2', '-Os'].map((o) => [tc, o] as const));
/** Where bitfield-single-revalue was hotpatchable before: the store an immediate (gcc -O1, clang -O1..-Os) or a stack literal (clang -O0). */
const SINGLE: ReadonlyArray<readonly [Toolchain, string]> = [['gcc', '-O1'], ['clang', '-O0'], ['clang', '-O1'], ['clang', '-O2'], ['clang', '-Os']];

describe.skipIf(skip !== undefined)(`bit-field single-field readers live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(SINGLE)('bitfield-single-revalue (%s %s): one field moved and revalued, read alone; writer and reader refused; carried anyway, the patched process prints neither version', async (tc, opt) => {
    await carriedNeither(suite, 'bitfield-single-revalue', tc, opt, CODE, /^it stores the word at \+0x20 .*\(old 0x1?5b; new 0x1?6c\), and unpack now decodes bits 0-4 where its old body decoded bits 3-7/);
  }, 120_000);

  test.each(SINGLE)('bitfield-single-revalue-fix (%s %s): another level, the layout kept: hotpatchable, and patched live the new unpack reads the old level', async (tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, 'bitfield-single-revalue-fix', tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['init: hotpatchable', 'unpack: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, 'bitfield-single-revalue-fix.dll', `bitfield-single-revalue-fix-${tc}${opt}.hpk`);
    // init ran once before the patch: the word holds level 11, read by v2's formula (11 * 3 + 7001 - 7079).
    expect(await patchedRound(h, pkg, 'bitfield-single-revalue-fix.dll')).toBe('unpack() = -45\n');
  }, 120_000);

  test.each(ALL)('bitfield-memset-object (%s %s): memset, then the fields stored one by one, their places swapped: refused; carried anyway, neither version', async (tc, opt) => {
    await carriedNeither(suite, 'bitfield-memset-object', tc, opt, CODE, /(^it |^bit-field layout changed at \+0x40: it )/);
  }, 120_000);
});
