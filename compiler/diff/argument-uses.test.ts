/**
 * argument-uses.ts' decision on use sets (the probes' real builds are tested in
 * test/probe-args-live.test.ts): two slots that exchanged their distinguishing uses are a
 * swap; the last used slot fallen unused with the slots below it taking the next one's uses is
 * a shift; uses both slots shared, one incidental shared use, or a last parameter dropped while
 * the others keep their own uses are neither.
 */
import { Mnemonic } from 'iced-x86';
import { describe, expect, test } from 'vitest';
import { describeUseMove } from './argument-use-names.ts';
import { movedUses } from './argument-moves.ts';

const sets = (...xs: string[][]): Array<Set<string>> => [0, 1, 2, 3].map((k) => new Set(xs[k] ?? []));
const ST = ['gst+0x0:4', 'gst+0x4:4'];
const LD = ['gld+0x0:4', 'gld+0x4:4'];
const ADDSD = `xm${Mnemonic.Addsd}`;

describe('moved argument uses', () => {
  test('two pointers of one type swapped: stores and loads change registers', () => {
    const m = movedUses(sets(ST, LD), sets(LD, ST));
    expect(m).toMatchObject({ kind: 'swap', a: 0, b: 1 });
    expect(describeUseMove(m!)).toBe('uses argument rdx as its old body used rcx (a store through it at +0x0 (4 bytes), a store through it at +0x4 (4 bytes)) and rcx as it used rdx (a load through it at +0x0 (4 bytes), a load through it at +0x4 (4 bytes)) (two parameters of one type reordered?)');
  });

  test('uses both slots share distinguish nothing; a shared null test does not hide the swap', () => {
    expect(movedUses(sets(LD, LD), sets(LD, LD))).toBeNull();
    expect(movedUses(sets([...ST, 'gm1'], [...LD, 'gm1']), sets([...LD, 'gm1'], [...ST, 'gm1']))).toMatchObject({ kind: 'swap' });
  });

  test('a rewrite sharing one incidental use with the other slot is no swap (7za 5.1.1 0xaee80)', () => {
    const o = sets(['call@0', 'call@1', 'gm7'], ['gm751'], ['call@2', 'gix1:rw:1', 'gix1:ld:1']);
    const n = sets(['gix1:ld:1', 'gm279@0', 'gld+0x0:1'], ['gm751'], ['gm7', 'gm279@0']);
    expect(movedUses(o, n)).toBeNull();
  });

  test('a middle parameter removed: the last slot unused, the ones below it take the next one\'s uses', () => {
    const o = sets(['gm277#100'], ['gmul5+0x0'], ['gm7']);
    const m = movedUses(o, sets(['gm277#100'], ['gm7']));
    expect(m).toMatchObject({ kind: 'shift', from: 1, last: 2 });
    expect(describeUseMove(m!)).toBe('no longer uses argument r8 (its old body\'s add) and uses rdx as its old body used r8 (a parameter before it removed?)');
    expect(describeUseMove(movedUses(sets([`xm${Mnemonic.Mulsd}=00`], [`xm${Mnemonic.Mulsd}=01`], [ADDSD]), sets([`xm${Mnemonic.Mulsd}=00`], [ADDSD]))!)).toBe('no longer uses argument xmm2 (its old body\'s addsd (as a float)) and uses xmm1 as its old body used xmm2 (a parameter before it removed?)');
  });

  test('a last parameter dropped, the others keeping their own uses, is no shift; nor one the liveness still sees read', () => {
    const o = sets(['gm277#100'], ['gmul5+0x0'], ['gm7']);
    expect(movedUses(o, sets(['gm277#100'], ['gmul5+0x0']))).toBeNull();
    expect(movedUses(o, sets(['gm277#100'], ['gm7']), (slot) => slot === 2)).toBeNull();
  });

  test('two slots used alike, handed to calls in the other order: a reorder; the same order, or other uses that differ, are not', () => {
    const at = (...xs: Array<Record<string, number>>): Array<Map<string, number>> => [0, 1, 2, 3].map((k) => new Map(Object.entries(xs[k] ?? {})));
    // order2(a, b) { stamp(a); stamp(b); }: every slot is handed to the first call (call@1 is rdx untouched).
    const o = sets(['call@0'], ['call@1', 'jmp@0']);
    const n = sets(['call@0', 'jmp@0'], ['call@0', 'call@1']);
    const m = movedUses(o, n, undefined, { old: at({ 'gpass@0': 8 }, { 'gpass@0': 21, 'gpass@1': 8 }), new: at({ 'gpass@0': 24 }, { 'gpass@0': 11, 'gpass@1': 11 }) });
    expect(m).toMatchObject({ kind: 'order', a: 0, b: 1, k: 0 });
    expect(describeUseMove(m!)).toBe('hands arguments rcx/xmm0 and rdx/xmm1 on as argument 1 of its calls in the opposite order from its old body, and uses them alike otherwise (two parameters of one type reordered?)');
    expect(movedUses(o, n, undefined, { old: at({ 'gpass@0': 8 }, { 'gpass@0': 21 }), new: at({ 'gpass@0': 8 }, { 'gpass@0': 24 }) })).toBeNull();
    expect(movedUses(sets(['call@0', ...LD], ['call@0']), sets(['call@0', ...LD], ['call@0']), undefined, { old: at({ 'gpass@0': 8 }, { 'gpass@0': 21 }), new: at({ 'gpass@0': 24 }, { 'gpass@0': 11 }) })).toBeNull();
  });
  test('two slots whose uses cannot be told apart, first used in the other order: a reorder; the same order, or uses that differ, are not', () => {
    const at = (...xs: number[]): Array<Map<string, number>> => [0, 1, 2, 3].map((k) => new Map(xs[k] === undefined ? [] : [['use', xs[k]!]]));
    // put(a, b) { *a = 1; *b = 2; } -> put(b, a): one store through each, rdx's first now; a -O0 build leaves the last pointer in rax at the return.
    const m = movedUses(sets(['gst+0x0:4'], ['gst+0x0:4', 'ret']), sets(['gst+0x0:4', 'ret'], ['gst+0x0:4']), undefined, { old: at(4, 9), new: at(9, 4) });
    expect(m).toMatchObject({ kind: 'first', a: 0, b: 1, oldFirst: 0 });
    expect(describeUseMove(m!)).toBe('uses arguments rcx and rdx alike, in the opposite order from its old body (its first use is of rdx where it was of rcx) (two parameters of one type reordered?)');
    // The other way round (rdx used first in the old body): the message names them that way.
    const back = movedUses(sets(['gst+0x0:4'], ['gst+0x0:4', 'ret']), sets(['gst+0x0:4', 'ret'], ['gst+0x0:4']), undefined, { old: at(9, 4), new: at(4, 9) });
    expect(back).toMatchObject({ kind: 'first', a: 0, b: 1, oldFirst: 1 });
    expect(describeUseMove(back!)).toBe('uses arguments rcx and rdx alike, in the opposite order from its old body (its first use is of rcx where it was of rdx) (two parameters of one type reordered?)');
    expect(movedUses(sets(['gst+0x0:4'], ['gst+0x0:4']), sets(['gst+0x0:4'], ['gst+0x0:4']), undefined, { old: at(4, 9), new: at(4, 9) })).toBeNull();
    expect(movedUses(sets(['gst+0x0:4'], ['gst+0x0:4']), sets(['gst+0x0:4'], ['gst+0x4:4']), undefined, { old: at(4, 9), new: at(9, 4) })).toBeNull();
    // Only handed on: the calls' order (kind 'order') decides, not this.
    expect(movedUses(sets(['call@0'], ['call@0']), sets(['call@0'], ['call@0']), undefined, { old: at(4, 9), new: at(9, 4) })).toBeNull();
  });

  test('loaded values: roles that changed places are a swap; loads meeting only commutative operations are not ordered, loads in a role or stored are', () => {
    const at = (...xs: number[]): Array<Map<string, number>> => [0, 1, 2, 3].map((k) => new Map(xs[k] === undefined ? [] : [['use', xs[k]!]]));
    const [SUB0, SUB1, ADD] = [`gvm${Mnemonic.Sub}@0`, `gvm${Mnemonic.Sub}@1`, `gvm${Mnemonic.Add}`];
    // subp(a, b) { return *a - *b; } -> subp(b, a), read in the same order: the minuend moved from rcx to rdx.
    const m = movedUses(sets(['gld+0x0:4', SUB0], ['gld+0x0:4', SUB1]), sets(['gld+0x0:4', SUB1], ['gld+0x0:4', SUB0]), undefined, { old: at(4, 9), new: at(4, 9) });
    expect(m).toMatchObject({ kind: 'swap', a: 0, b: 1 });
    expect(describeUseMove(m!)).toBe('uses argument rdx as its old body used rcx (the value loaded through it meeting sub (operand 1)) and rcx as it used rdx (the value loaded through it meeting sub (operand 2)) (two parameters of one type reordered?)');
    // sum_fix: `*a + *b` -> `*b + *a`, read in the other order: the same sum.
    const sum = sets(['gld+0x0:4', ADD], ['gld+0x0:4', ADD]);
    expect(movedUses(sum, sum, undefined, { old: at(4, 9), new: at(9, 4) })).toBeNull();
    // Loads whose values were not seen meeting anything, or are stored (`mov [r8],eax`), still keep their order.
    const bare = sets(['gld+0x0:4'], ['gld+0x0:4']);
    expect(movedUses(bare, bare, undefined, { old: at(4, 9), new: at(9, 4) })).toMatchObject({ kind: 'first' });
    const stored = sets(['gld+0x0:4', `gvm${Mnemonic.Mov}@1`], ['gld+0x0:4', `gvm${Mnemonic.Mov}@1`]);
    expect(movedUses(stored, stored, undefined, { old: at(4, 9), new: at(9, 4) })).toMatchObject({ kind: 'first' });
    // clang -O2 scmp(a, b) (strcmp) -> scmp(b, a): only one slot's loaded value meets a `test`; the loads alike otherwise keep their order (no swap can be seen).
    const TEST = `gvm${Mnemonic.Test}`;
    const EQ = `gvm${Mnemonic.Cmp}<6>`;
    expect(movedUses(sets(['gld+0x0:1', TEST, EQ], ['gld+0x0:1', EQ]), sets(['gld+0x0:1', EQ], ['gld+0x0:1', TEST, EQ]), undefined, { old: at(0, 16), new: at(16, 0) })).toMatchObject({ kind: 'first' });
    // clang's subp_fix (`*a - *b` -> `*a + ~*b`, b read first): each body tells the loaded values apart, and no role moved between them.
    expect(movedUses(sets(['gld+0x0:4', SUB0], ['gld+0x0:4', SUB1]), sets(['gld+0x0:4', ADD], ['gld+0x0:4', `gvm${Mnemonic.Not}@0`]), undefined, { old: at(0, 3), new: at(3, 0) })).toBeNull();
    // A compare named by its relation: `cmp ecx,edx; setl` gives rcx `<13>` (left of <), rdx `<16>` (left of >).
    const CMP = (c: number): string => `gvm${Mnemonic.Cmp}<${c}>`;
    expect(describeUseMove(movedUses(sets(['gld+0x0:4', CMP(13)], ['gld+0x0:4', CMP(16)]), sets(['gld+0x0:4', CMP(16)], ['gld+0x0:4', CMP(13)]))!)).toContain('(the value loaded through it meeting cmp (left of <))');
    expect(describeUseMove(movedUses(sets([`gm${Mnemonic.Idiv}@d`], [`gm${Mnemonic.Idiv}@0`]), sets([`gm${Mnemonic.Idiv}@0`], [`gm${Mnemonic.Idiv}@d`]))!)).toBe('uses argument rdx as its old body used rcx (idiv (the dividend)) and rcx as it used rdx (idiv (operand 1)) (two parameters of one type reordered?)');
  });
});
