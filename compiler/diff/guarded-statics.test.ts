/**
 * What counts as checking a guard-acquiring call's result: the Itanium ABI's
 * `test eax, eax` (or `test al, al`) on __cxa_guard_acquire's return, and MSVC's
 * `cmp dword [guard], -1` after _Init_thread_header (the guard is -1 while this thread
 * initialises the static). The regions themselves are tested on the samples in
 * load-time-only.test.ts.
 */
import { Decoder, DecoderOptions, Instruction } from 'iced-x86';
import { expect, test } from 'vitest';
import { checksAcquire } from './guarded-statics.ts';

/** The first instruction of `bytes`, decoded at RVA 0x1000. */
function decode(bytes: readonly number[]): Instruction {
  const d = new Decoder(64, Uint8Array.from(bytes), DecoderOptions.None);
  d.ip = 0x1000n;
  const insn = new Instruction();
  d.decodeOut(insn);
  d.free();
  return insn;
}

test.each([
  ['test eax, eax', [0x85, 0xc0], 'result'],
  ['test al, al', [0x84, 0xc0], 'result'],
  ['test ecx, ecx (not the result)', [0x85, 0xc9], null],
  ['test eax, ecx', [0x85, 0xc8], null],
  // cmp dword [rip+0x10], -1: the address is 0x1000 + 7 + 0x10 = 0x1017.
  ['cmp dword [guard], -1', [0x83, 0x3d, 0x10, 0, 0, 0, 0xff], 'guard'],
  ['cmp dword [guard], 0', [0x83, 0x3d, 0x10, 0, 0, 0, 0x00], null],
  ['cmp eax, [guard]', [0x3b, 0x05, 0x10, 0, 0, 0], null],
] as const)('%s -> %s', (_, bytes, want) => {
  const insn = decode(bytes);
  expect(checksAcquire(insn, 0x1017)).toBe(want);
  insn.free();
});

test('cmp dword [other], -1 checks no guard of ours', () => {
  const insn = decode([0x83, 0x3d, 0x10, 0, 0, 0, 0xff]);
  expect(checksAcquire(insn, 0x2000)).toBeNull();
  insn.free();
});
