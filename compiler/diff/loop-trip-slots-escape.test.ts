/**
 * -O0 loops counted through frame slots (loop-trip-slots.ts, read by loop-walks.ts) and the
 * frame-escape policy the other frame-slot users apply (frame-slots.ts): a counter or end slot
 * whose address is taken (`lea rax,[rbp-0x8]` handed to a call) or a frame whose address is
 * copied out (`mov rax,rbp`) may be written by a callee, so its compare counts nothing.
 * Bytes: gcc -O0 of `struct t { int n; int arr[16]; }; void fill(struct t *o, int k) { int i = 0;
 * for (int j = k; j != k + 16; j++, i++) o->arr[i] = j; }`, with the escapes inserted in the loop
 * (`bump(&j)`, `bump(&k)`) and the jumps moved over them.
 */
import { describe, expect, test } from 'vitest';
import { encodedBody } from './testing/encoded-body.ts';
import { loopWalksOf } from './loop-walks.ts';

// push rbp; mov rbp,rsp; sub rsp,0x30; mov [rbp+0x10],rcx; mov [rbp+0x18],edx; mov dword [rbp-0x4],0; mov eax,[rbp+0x18]; mov [rbp-0x8],eax
const HEAD = '55  48 89 e5  48 83 ec 30  48 89 4d 10  89 55 18  c7 45 fc 00 00 00 00  8b 45 18  89 45 f8';
// head: mov rax,[rbp+0x10]; mov edx,[rbp-0x4]; movsxd rdx,edx; mov ecx,[rbp-0x8]; mov [rax+rdx*4+0x4],ecx
const STORE = '48 8b 45 10  8b 55 fc  48 63 d2  8b 4d f8  89 4c 90 04';
// add dword [rbp-0x8],1 (j++); add dword [rbp-0x4],1 (i++); mov eax,[rbp+0x18]; add eax,0x10; cmp [rbp-0x8],eax
const STEP = '83 45 f8 01  83 45 fc 01  8b 45 18  83 c0 10  39 45 f8';
// nop; nop; add rsp,0x30; pop rbp; ret
const TAIL = '90 90  48 83 c4 30  5d  c3';

/** The body with `mid` (under 0x5b bytes) between the store and the steps: jmp to the test, jne back to the head. */
const body = (mid: string): string => {
  const n = mid.split(/\s+/).filter((x) => x !== '').length;
  const hex = (x: number): string => (x & 0xff).toString(16).padStart(2, '0');
  return `${HEAD}  eb ${hex(0x19 + n)}  ${STORE}  ${mid}  ${STEP}  75 ${hex(-(0x24 + n))}  ${TAIL}`;
};

function bounds(hex: string): Array<readonly [number, number]> {
  const { bytes, insns } = encodedBody(hex);
  return loopWalksOf(bytes, insns).map((w) => [w.disp, w.bound] as const);
}

describe('loop trips through frame slots, and the frame-escape policy', () => {
  test('gcc -O0: the counter slot copied from k, compared with k + 16: the index slot reaches 15', () => {
    expect(bounds(body(''))).toEqual([[4, 15]]);
  });

  test('the counter slot handed to a call (`bump(&j)`: lea rax,[rbp-0x8]; mov rcx,rax; call): no trip count', () => {
    expect(bounds(body('48 8d 45 f8  48 89 c1  e8 00 00 00 00'))).toEqual([]);
  });

  test('the end slot handed to a call (`bump(&k)`: lea rax,[rbp+0x18]): no trip count', () => {
    expect(bounds(body('48 8d 45 18  48 89 c1  e8 00 00 00 00'))).toEqual([]);
  });

  test('the index slot handed to a call (`bump(&i)`: lea rax,[rbp-0x4]): no bound for it', () => {
    expect(bounds(body('48 8d 45 fc  48 89 c1  e8 00 00 00 00'))).toEqual([]);
  });

  test('the frame address copied out (mov rax,rbp; mov rcx,rax; call): no trip count', () => {
    expect(bounds(body('48 89 e8  48 89 c1  90 e8 00 00 00 00'))).toEqual([]);
  });

  test('the counter slot handed to a call through another local\'s address (`lea rax,[rbp-0x20]; lea rcx,[rax+0x18]`: &j): no trip count', () => {
    // frame-escape.ts: rax holds a frame address; the lea hands out the one 0x18 bytes past it, j's.
    expect(bounds(body('48 8d 45 e0  48 8d 48 18  e8 00 00 00 00'))).toEqual([]);
    // Moved by 0x8 instead (`lea rcx,[rax+0x8]`, a local 0x18 bytes below j): the count stays.
    expect(bounds(body('48 8d 45 e0  48 8d 48 08  e8 00 00 00 00'))).toEqual([[4, 15]]);
  });

  test('another local handed to a call leaves the count', () => {
    // lea rax,[rbp-0x20] (a local 16 bytes below the index): the callee may write it, not j, k or i.
    expect(bounds(body('48 8d 45 e0  48 89 c1  e8 00 00 00 00'))).toEqual([[4, 15]]);
  });
});
