/**
 * Argument pointers followed through the frame slots -O0 code spills them to (frame-slots.ts,
 * through added-field.ts `argAccessesOf`): gcc's rbp frame and clang's rsp frame give the
 * field accesses of the reloaded pointer; a slot written twice, one whose address is taken,
 * one in a callee's home area across a call, or a frame whose address escapes gives none.
 */
import { describe, expect, test } from 'vitest';
import { argAccessesOf } from './added-field.ts';
import { encodedBody } from './testing/encoded-body.ts';
import { mapFrame } from './frame-slots.ts';

function accesses(hex: string): Array<readonly [number, number, number]> {
  const { bytes, spans } = encodedBody(hex);
  return argAccessesOf(bytes, spans).map((a) => [a.arg, a.disp, a.size] as const);
}

// push rbp; mov rbp,rsp; sub rsp,0x10; mov [rbp+0x10],rcx; mov rax,[rbp+0x10]; mov [rbp-0x8],rax
const GCC_HEAD = '55  48 89 e5  48 83 ec 10  48 89 4d 10  48 8b 45 10  48 89 45 f8';
// mov rax,[rbp-0x8]; mov eax,[rax]; mov rax,[rbp-0x8]; movss xmm1,[rax+0x4]
const GCC_USES = '48 8b 45 f8  8b 00  48 8b 45 f8  f3 0f 10 48 04';
// add rsp,0x10; pop rbp; ret
const GCC_TAIL = '48 83 c4 10  5d  c3';

describe('argument pointers through frame slots', () => {
  test('gcc -O0: spilled to [rbp+0x10], copied to the local [rbp-0x8], reloaded before each access', () => {
    expect(accesses(`${GCC_HEAD}  ${GCC_USES}  ${GCC_TAIL}`)).toEqual([[1, 0, 4], [1, 4, 4]]);
    // The same body after an epilogue in address order (a second exit) still reads the frame right.
    expect(accesses(`${GCC_HEAD}  ${GCC_TAIL}  ${GCC_USES}  ${GCC_TAIL}`)).toEqual([[1, 0, 4], [1, 4, 4]]);
  });

  test('clang -O0: spilled to [rsp+0x8], copied to [rsp], reloaded', () => {
    // sub rsp,0x10; mov [rsp+0x8],rcx; mov rax,[rsp+0x8]; mov [rsp],rax; mov rax,[rsp]; imul eax,[rax],0x3e8; add rsp,0x10; ret
    expect(accesses('48 83 ec 10  48 89 4c 24 08  48 8b 44 24 08  48 89 04 24  48 8b 04 24  69 00 e8 03 00 00  48 83 c4 10  c3')).toEqual([[1, 0, 4]]);
  });

  test('a slot written again anywhere in the body is not followed (the later store may reach the load on a loop)', () => {
    // ... then mov [rbp-0x8],rdx after the uses: the local no longer holds only the argument.
    expect(accesses(`${GCC_HEAD}  ${GCC_USES}  48 89 55 f8  ${GCC_TAIL}`)).toEqual([]);
    // add qword [rbp-0x8],4 (p++) counts as a write too.
    expect(accesses(`${GCC_HEAD}  ${GCC_USES}  48 83 45 f8 04  ${GCC_TAIL}`)).toEqual([]);
  });

  test('a slot whose address is taken, or a frame address copied out, is not followed', () => {
    // lea rcx,[rbp-0x8] (&p handed on): a callee may write the slot.
    expect(accesses(`${GCC_HEAD}  48 8d 4d f8  ${GCC_USES}  ${GCC_TAIL}`)).toEqual([]);
    // mov rax,rbp: any slot may be written through it.
    expect(accesses(`${GCC_HEAD}  48 89 e8  ${GCC_USES}  ${GCC_TAIL}`)).toEqual([]);
  });

  test('a reload from a slot an object handed out may span is uncertain (probe field-box)', () => {
    const uncertain = (hex: string): Array<readonly [number, number, number, boolean]> => {
      const { bytes, spans } = encodedBody(hex);
      return argAccessesOf(bytes, spans).map((a) => [a.arg, a.disp, a.size, a.uncertain === true] as const);
    };
    // gcc -O2: push rbx; sub rsp,0x30; xor eax,eax; mov [rsp+0x28],rcx (b.obj = r); mov rbx,rcx; lea rcx,[rsp+0x20] (&b);
    // mov [rsp+0x20],rax (b.tag); call; mov rdx,[rsp+0x28] (b.obj, replaced by the callee); mov rax,[rbx]; add rax,[rdx+0x10]
    const box = '53  48 83 ec 30  31 c0  48 89 4c 24 28  48 89 cb  48 8d 4c 24 20  48 89 44 24 20  e8 00 00 00 00  48 8b 54 24 28  48 8b 03  48 03 42 10  48 83 c4 30  5b  c3';
    // Still followed (the rules reading ArgAccess keep what they saw), but marked.
    expect(uncertain(box)).toEqual([[1, 0, 8, false], [1, 0x10, 8, true]]);
    // push rbx; sub rsp,0x40; mov rbx,rcx; mov [rsp+0x28],r8 (a key); lea rdx,[rsp+0x28] (&key); call; mov [rsp+0x30],rbx
    // (spilled after the call: another variable); call; mov rax,[rsp+0x30]; mov eax,[rax+0x4]: certain.
    const spill = '48 89 5c 24 30';
    const key = (before: string, late: string, after: string): string =>
      `53  48 83 ec 40  48 89 cb  4c 89 44 24 28  ${before}  48 8d 54 24 28  ${late}  e8 00 00 00 00  ${after}  e8 00 00 00 00  48 8b 44 24 30  8b 40 04  48 83 c4 40  5b  c3`;
    expect(uncertain(key('', '', spill))).toEqual([[1, 4, 4, false]]);
    // The same spill written before the lea, or after it but before the call (gcc stores b.tag there): the 16 bytes
    // may be one object the callee fills.
    expect(uncertain(key(spill, '', ''))).toEqual([[1, 4, 4, true]]);
    expect(uncertain(key('', spill, ''))).toEqual([[1, 4, 4, true]]);
    // clang -O1, probe field-box-call: push rsi; sub rsp,0x30; mov rsi,rcx; mov [rsp+0x28],rcx (b.obj = r, before an
    // earlier call); mov rcx,[rcx+0x8]; call (tag_of); mov [rsp+0x20],rax (b.tag); lea rcx,[rsp+0x20]; call (reroute);
    // mov rax,[rsp+0x28]; mov rax,[rax+0x10]; add rax,[rsi]: the member stored before tag_of is still the box's.
    const early = '56  48 83 ec 30  48 89 ce  48 89 4c 24 28  48 8b 49 08  e8 00 00 00 00  48 89 44 24 20  48 8d 4c 24 20  e8 00 00 00 00  48 8b 44 24 28  48 8b 40 10  48 03 06  48 83 c4 30  5e  c3';
    expect(uncertain(early)).toEqual([[1, 8, 8, false], [1, 0x10, 8, true], [1, 0, 8, false]]);
    // A flag's address at [rsp+0x25] reaches no slot at [rsp+0x30]: a member lies a multiple of 8 bytes into its object.
    expect(uncertain(key(spill.replace('48 89 5c 24 30', '48 89 5c 24 30  c6 44 24 25 00'), '', '').replace('48 8d 54 24 28', '48 8d 54 24 25'))).toEqual([[1, 4, 4, false]]);
  });

  test("a call overwrites the callee's home area, not the caller's slots above it", () => {
    // mov [rsp+0x8],rcx (the caller's home area: entry offset 8); sub rsp,0x28; call; mov rax,[rsp+0x30]; mov eax,[rax+0x4]; add rsp,0x28; ret
    expect(accesses('48 89 4c 24 08  48 83 ec 28  e8 00 00 00 00  48 8b 44 24 30  8b 40 04  48 83 c4 28  c3')).toEqual([[1, 4, 4]]);
    // sub rsp,0x28; mov [rsp+0x8],rcx (inside the callee's home area); call; mov rax,[rsp+0x8]; mov eax,[rax+0x4]
    expect(accesses('48 83 ec 28  48 89 4c 24 08  e8 00 00 00 00  48 8b 44 24 08  8b 40 04  48 83 c4 28  c3')).toEqual([]);
  });
});

describe('the frame read for a search by paths (mapFrame)', () => {
  test("clang's 8-byte frame: `push rax` allocates, the spill is the slot's only write, its halves are read as ints", () => {
    // push rax; mov [rsp],rcx; imul eax,[rsp],0xa; add eax,[rsp+0x4]; pop rcx; ret (red-byval weigh, clang -O0)
    const { bytes, spans } = encodedBody('50  48 89 0c 24  6b 04 24 0a  03 44 24 04  59  c3');
    const m = mapFrame(bytes, spans);
    expect([...m.accesses.values()]).toEqual([{ at: -8, size: 8, write: true }, { at: -8, size: 4, write: false }, { at: -4, size: 4, write: false }]);
    expect(m.holdsOne(-8)).toBe(true);
  });

  test('a push of a register holding a value, a second store, or a taken address: the slot holds more than one value', () => {
    // push rbx (a callee-saved value, not an allocation); mov [rsp],rcx; mov eax,[rsp]; pop rbx; ret
    expect(mapFrame(...args('53  48 89 0c 24  8b 04 24  5b  c3')).holdsOne(-8)).toBe(false);
    // push rax after the prologue (mov eax,1 first): a value, not an allocation
    expect(mapFrame(...args('b8 01 00 00 00  50  48 89 0c 24  8b 04 24  59  c3')).holdsOne(-8)).toBe(false);
    // gcc: push rbp; mov rbp,rsp; mov [rbp+0x10],rcx; mov edx,[rbp+0x10]; then mov [rbp+0x10],rdx again
    expect(mapFrame(...args('55  48 89 e5  48 89 4d 10  8b 55 10  48 89 55 10  5d  c3')).holdsOne(8)).toBe(false);
    // lea rax,[rbp+0x10] (&v taken)
    expect(mapFrame(...args('55  48 89 e5  48 89 4d 10  48 8d 45 10  8b 55 10  5d  c3')).holdsOne(8)).toBe(false);
    // the same body without them: one value
    expect(mapFrame(...args('55  48 89 e5  48 89 4d 10  8b 55 10  5d  c3')).holdsOne(8)).toBe(true);
  });
});

function args(hex: string): [Uint8Array, Array<{ readonly rva: number; readonly length: number }>] {
  const { bytes, spans } = encodedBody(hex);
  return [bytes, spans];
}
