import { describe, expect, test } from 'vitest';
import { movesOf } from './field-moves.ts';
import type { Pairing } from './field-swap.ts';

/** An aligned access: old offset, new offset, size, context kept, the old write of its base register. */
const at = (d: number, e: number, size = 4, ctx = true, def = 0, same = true): Pairing => [d, e, size, false, ctx, e - d, def, same];

describe('movesOf', () => {
  test('one field moved to an offset no old access reaches, its old offset left: a move', () => {
    expect(movesOf([at(0x0, 0x0, 8), at(0x8, 0x10), at(0x8, 0x10)])).toEqual([[0x8, 0x10, 4]]);
  });

  test('an exchange (the new offset is another old field) is not a move', () => {
    expect(movesOf([at(0x0, 0x4), at(0x4, 0x0)])).toEqual([]);
  });

  test('the new body still accesses the old offset: no move', () => {
    expect(movesOf([at(0x8, 0x10), at(0x18, 0x8)])).toEqual([]);
  });

  test('a field whose context changed or whose size changed is no evidence', () => {
    expect(movesOf([at(0x8, 0x10, 4, false)])).toEqual([]);
    expect(movesOf([at(0x8, 0x10, 4), at(0x8, 0x10, 8)])).toEqual([]);
  });

  // libvips 0.34.5 0x307520: the new r14 is a pointer a helper returns (the old one +0x10).
  test('a base register the new body computes otherwise (not the aligned write) is no evidence', () => {
    expect(movesOf([at(0x10, 0x0, 8, true, 5, false)])).toEqual([]);
  });

  test('an old offset reached at two new offsets is code rewritten around it', () => {
    expect(movesOf([at(0x8, 0x10), at(0x8, 0x18)])).toEqual([]);
  });

  // ast-grep 0.51.3 0x1bc120: rcx holds one object read at +0x28 (8 bytes, kept), then the
  // thread loaded from [rax+0x10], whose byte at +0x28 moved to +0x38: told apart by the value.
  test('one register holding two objects: each value is a base of its own', () => {
    const list = [at(0x28, 0x28, 8, true, 3), at(0x28, 0x38, 1, true, 52)];
    expect(movesOf(list)).toEqual([[0x28, 0x38, 1]]);
    expect(movesOf(list.map((p): Pairing => [p[0], p[1], p[2], p[3], p[4], p[5], 0, p[7]]))).toEqual([]);
  });
});
