/**
 * argument-uses.ts under the frame-escape policy of frame-slots.ts and loop-trip-slots.ts: an
 * argument spilled to a frame slot whose address is handed out (`lea rcx,[rbp+0x10]; call`, or
 * the frame's own address copied out: `mov rcx,rbp`) is not followed through that slot, since
 * the callee may change it before the reload; the slot's address is named by the argument
 * position it is handed in (`addr@k`). Bytes: gcc -O0 of `int f(int a, int b) { return a - b; }`
 * with the escapes inserted between the spills and the reloads.
 */
import { describe, expect, test } from 'vitest';
import type { FunctionInfo } from '../image/types.ts';
import { argumentUses } from './argument-uses.ts';
import { movedUses } from './argument-moves.ts';
import { encodedBody } from './testing/encoded-body.ts';
import { Mnemonic } from 'iced-x86';

// push rbp; mov rbp,rsp; sub rsp,0x20; mov [rbp+0x10],ecx; mov [rbp+0x18],edx
const HEAD = '55  48 89 e5  48 83 ec 20  89 4d 10  89 55 18';
// mov eax,[rbp+0x10]; sub eax,[rbp+0x18]; add rsp,0x20; pop rbp; ret
const TAIL = '8b 45 10  2b 45 18  48 83 c4 20  5d  c3';
const SUB = `m${Mnemonic.Sub}`;

function uses(mid: string): string[][] {
  const { bytes, insns } = encodedBody(`${HEAD}  ${mid}  ${TAIL}`);
  const f: FunctionInfo = { index: 0, entry: insns[0]!.rva, ranges: [], sources: [], name: null, names: [], pdata: [], decoded: { insns, refs: [], jumpTables: [], gaps: [], externalCodeTargets: [], problems: [], maxEnd: insns.at(-1)!.rva, imageBaseFields: [] } };
  return argumentUses(bytes, f).map((s) => [...s].filter((t) => !/^(call|jmp)@/.test(t)).sort());
}

describe('argument uses through frame slots, and the frame-escape policy', () => {
  test('no escape: each reload is its argument, meeting sub in its role', () => {
    expect(uses('').slice(0, 2)).toEqual([['dret', `g${SUB}@0`], [`g${SUB}@1`]]);
  });

  test('a\'s slot handed to a call (`lea rax,[rbp+0x10]; mov rcx,rax; call`): a\'s reload is no longer a; its address names position 1', () => {
    expect(uses('48 8d 45 10  48 89 c1  e8 00 00 00 00').slice(0, 2)).toEqual([['addr@0'], [`g${SUB}@1`]]);
  });

  test('an address taken 4 bytes past b\'s slot reaches it too (an object it may be part of), not a\'s 12 bytes away', () => {
    expect(uses('48 8d 45 1c  48 89 c2  e8 00 00 00 00').slice(0, 2)).toEqual([['dret', `g${SUB}@0`], ['addr']]);
  });

  test('the frame\'s address copied out (`mov rcx,rbp; call`): no reload is followed, no position named', () => {
    expect(uses('48 89 e9  e8 00 00 00 00').slice(0, 2)).toEqual([['addr'], ['addr']]);
  });

  test('another local handed to a call leaves both reloads', () => {
    expect(uses('48 8d 45 f0  48 89 c1  e8 00 00 00 00').slice(0, 2)).toEqual([['dret', `g${SUB}@0`], [`g${SUB}@1`]]);
  });

  test('two slots handed out in one body only: their uses cannot be compared (kind escape); in both, the positions decide', () => {
    const s = (...x: string[][]): Array<Set<string>> => [0, 1, 2, 3].map((k) => new Set(x[k] ?? []));
    expect(movedUses(s(['addr@0'], ['addr@1']), s([`g${SUB}@0`], [`g${SUB}@1`]))).toMatchObject({ kind: 'escape', a: 0, old: true });
    expect(movedUses(s(['addr@0'], ['addr@1']), s(['addr@1'], ['addr@0']))).toMatchObject({ kind: 'swap', a: 0, b: 1 });
    expect(movedUses(s(['addr@0'], ['addr@1']), s(['addr@0'], ['addr@1']))).toBeNull();
    // One slot handed out alone, the other used alike in both bodies: not two exchanged through the callee.
    expect(movedUses(s(['addr@0'], [`g${SUB}@1`]), s([`g${SUB}@0`], [`g${SUB}@1`]))).toBeNull();
    expect(movedUses(s(['addr@0']), s([`g${SUB}@0`]))).toBeNull();
  });
});
