/**
 * The per-path proof of a hoisted jump table base (base-paths.ts) on gcc's threaded-switch
 * build: the loop's back edge enters between the table's `lea r9, [rip + T]` and its bound
 * check. The real code is accepted; the same bytes with one instruction changed so that a
 * path reaches the back edge with r9 overwritten, or so that a branch skips the bound, are
 * refused with their reasons. clang's build keeps the base `lea` out of the straight line
 * altogether (the table is found from the function's only `lea` of the register): that base
 * too is trusted only when proven on every path.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { SAMPLES_BIN_DIR, scenarioDll } from '../../samples/scenarios.ts';
import { findFunctions } from '../index.ts';

const v2 = (): Uint8Array => new Uint8Array(readFileSync(scenarioDll('threaded-switch', 'v2')));

/** run_program's decoded form in `bytes`. */
function runProgram(bytes: Uint8Array) {
  const t = findFunctions(bytes);
  if (!t.ok) throw new Error(t.error.message);
  return t.value.functions.find((f) => f.name === 'run_program')!.decoded;
}

/** Replaces the only occurrence of `from` in `bytes` (same length) with `to`. */
function patchOnce(bytes: Uint8Array, from: number[], to: number[]): Uint8Array {
  const hex = (b: ArrayLike<number>): string => Buffer.from(Array.from(b)).toString('hex');
  const text = hex(bytes);
  const at = text.indexOf(hex(from));
  expect(at % 2).toBe(0);
  expect(text.indexOf(hex(from), at + 1)).toBe(-1);
  const out = bytes.slice();
  out.set(to, at / 2);
  return out;
}

// v2 run_program's loop tail: `mov edx, r10d; cmp edx, r11d; jl loop_head` (loop_head sits
// after `lea r9, [rip + T]`, before `cmp byte [r8 + rax], 9; ja`).
const LOOP_TAIL = [0x44, 0x89, 0xd2, 0x44, 0x39, 0xda, 0x7c, 0xc6];

describe('hoisted jump table base', () => {
  test('gcc threaded dispatch: the back edge enters after the base, the base holds on every path', () => {
    for (const v of ['v1', 'v2'] as const) {
      const d = runProgram(new Uint8Array(readFileSync(scenarioDll('threaded-switch', v))));
      expect(d.problems).toEqual([]);
      expect(d.jumpTables.length).toBe(1);
      const t = d.jumpTables[0]!;
      expect(t.baseRva).toBeGreaterThan(0);
      expect(t.boundRva).toBeGreaterThan(t.baseRva);
      const backEdge = d.refs.filter((r) => r.isBranch && r.target > t.baseRva && r.target <= t.boundRva);
      expect(backEdge.length).toBeGreaterThan(0);
    }
  });

  test('a path that overwrites the base register before the back edge is refused', () => {
    // mov edx, r10d -> mov r9d, r10d (same length): r9 no longer holds the table there.
    const bytes = patchOnce(v2(), LOOP_TAIL, [0x45, 0x89, 0xd1, ...LOOP_TAIL.slice(3)]);
    const d = runProgram(bytes);
    expect(d.problems.join('\n')).toMatch(/enters after the table base is set \(0x[0-9a-f]+\) and the base register is not proven on every path/);
  });

  test('a branch past the bound check is still refused', () => {
    // jl loop_head -> jl to the table load `movsxd rax, [r9 + rax*4]`, past the index's
    // bound (the zero-extended byte `movzx eax, byte [r8 + rax]`; 0x23 bytes back).
    const bytes = patchOnce(v2(), LOOP_TAIL, [...LOOP_TAIL.slice(0, 7), 0xdd]);
    const d = runProgram(bytes);
    expect(d.problems.join('\n')).toMatch(/enters between the bound check and the jump/);
  });

  test('clang: a base found only as the function\'s single lea is proven on every path', () => {
    for (const v of ['v1', 'v2'] as const) {
      const d = runProgram(new Uint8Array(readFileSync(scenarioDll('threaded-switch', v, false, SAMPLES_BIN_DIR, 'clang'))));
      expect(d.problems).toEqual([]);
      const t = d.jumpTables[0]!;
      expect(d.jumpTables.length).toBe(1);
      expect(t.baseHoisted).toBe(true);
      expect(t.baseRva).toBeGreaterThan(0);
    }
  });

  test('clang: one instruction overwriting that lea\'s register on the loop path is refused', () => {
    // clang v2 run_program: `lea r9, [rip + T]` once before the loop; the push case ends
    // `mov r10d, r11d; jmp loop` -> `mov r9d, r11d; jmp loop` (same length): the next
    // dispatch would add the table's entry to a stack index.
    const clang = new Uint8Array(readFileSync(scenarioDll('threaded-switch', 'v2', false, SAMPLES_BIN_DIR, 'clang')));
    const bytes = patchOnce(clang, [0x45, 0x89, 0xda, 0xeb, 0xa6], [0x45, 0x89, 0xd9, 0xeb, 0xa6]);
    const d = runProgram(bytes);
    expect(d.problems.join('\n')).toMatch(/its table base is a lea of the register off the straight line \(0x[0-9a-f]+\), and the register is not proven to hold it on every path/);
  });
});
