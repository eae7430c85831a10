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
  return usesOf(`${HEAD}  ${mid}  ${TAIL}`);
}

/** Each slot's uses in the body `hex`, calls' own positions left out. */
function usesOf(hex: string): string[][] {
  const { bytes, insns } = encodedBody(hex);
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

/**
 * Slots reached through a register holding their address (frame-escape.ts). Bytes: clang -Os of
 * probe entry-args-escape's `esc_sub` (`xchg(&a, &b); return a - b;`), and variants of it.
 */
describe('argument uses through a register holding a frame slot\'s address', () => {
  // push rsi; push rdi; sub rsp,0x28; lea rsi,[rsp+0x24]; mov [rsi],ecx; lea rdi,[rsp+0x20]; mov [rdi],edx
  const SPILLS = '56  57  48 83 ec 28  48 8d 74 24 24  89 0e  48 8d 7c 24 20  89 17';
  // mov eax,[rsi]; sub eax,[rdi]; add rsp,0x28; pop rdi; pop rsi; ret
  const RELOADS = '8b 06  2b 07  48 83 c4 28  5f  5e  c3';

  test('clang -Os: the stores through rsi and rdi spill a and b, whose addresses are copied to rcx and rdx for the call', () => {
    // mov rcx,rsi; mov rdx,rdi; call
    expect(usesOf(`${SPILLS}  48 89 f1  48 89 fa  e8 00 00 00 00  ${RELOADS}`).slice(0, 2)).toEqual([['addr@0'], ['addr@1']]);
  });

  test('the addresses handed in the other order name the other positions', () => {
    // mov rcx,rdi; mov rdx,rsi; call
    expect(usesOf(`${SPILLS}  48 89 f9  48 89 f2  e8 00 00 00 00  ${RELOADS}`).slice(0, 2)).toEqual([['addr@1'], ['addr@0']]);
  });

  test('a slot reached at a constant from the register (`lea rsi,[rsp+0x20]; mov [rsi+4],ecx`), its address moved for the call (`lea rcx,[rsi+4]`)', () => {
    // push rsi; sub rsp,0x30; lea rsi,[rsp+0x20]; mov [rsi+4],ecx; mov [rsi],edx; lea rcx,[rsi+4]; call; mov eax,[rsi+4]; sub eax,[rsi]; add rsp,0x30; pop rsi; ret
    const body = '56  48 83 ec 30  48 8d 74 24 20  89 4e 04  89 16  48 8d 4e 04  e8 00 00 00 00  8b 46 04  2b 06  48 83 c4 30  5e  c3';
    // b's slot, 4 bytes below a's, is reachable through a's address: not followed, handed in no position of its own.
    expect(usesOf(body).slice(0, 2)).toEqual([['addr@0'], ['addr']]);
  });

  test('a volatile register holding the address is the callee\'s after a call: a store through it is no spill', () => {
    // push rbx; sub rsp,0x30; mov ebx,ecx; lea rax,[rsp+0x24]; call; mov [rax],ebx; mov eax,[rsp+0x24]; add rsp,0x30; pop rbx; ret
    const u = usesOf('53  48 83 ec 30  89 cb  48 8d 44 24 24  e8 00 00 00 00  89 18  8b 44 24 24  48 83 c4 30  5b  c3');
    expect(u[0]).toEqual([`gm${Mnemonic.Mov}@1`]);
  });

  test('rbp in a body that never sets it from rsp is a plain register: a store through an address taken from it is no spill', () => {
    // push rsi; sub rsp,0x28; lea rsi,[rbp+0x10]; mov [rsi],ecx; mov rcx,rsi; call; mov eax,[rsi]; add rsp,0x28; pop rsi; ret
    const u = usesOf('56  48 83 ec 28  48 8d 75 10  89 0e  48 89 f1  e8 00 00 00 00  8b 06  48 83 c4 28  5e  c3');
    expect(u[0]).toEqual([`gm${Mnemonic.Mov}@1`]);
  });
});
