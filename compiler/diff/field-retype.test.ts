/**
 * findRetypedField on hand-written access lists (the live evidence is test/probe-red-live.test.ts).
 */
import { describe, expect, test } from 'vitest';
import type { ArgAccess } from './added-field.ts';
import { describeRetypedField, findRetypedField } from './field-retype.ts';

const a = (disp: number, size: number, kind: 0 | 1 | 2, move = true, arg = 1): ArgAccess => ({ arg, disp, size, kind, move });

describe('findRetypedField', () => {
  test('int -> float at the same offset and size is a kind change', () => {
    const r = findRetypedField([a(0, 4, 1), a(4, 4, 1)], [a(0, 4, 1), a(4, 4, 2)]);
    expect(r).toMatchObject({ arg: 1, disp: 4, size: 4, how: 'kind', kind: 2 });
    expect(describeRetypedField(r!)).toBe('structure layout changed: accesses [arg1+0x4] (4 bytes) as a float, where the old function accesses +0x4 (4 bytes, as an integer) (a field\'s type changed, int <-> float, or a union read through another member); needs a baseline');
  });
  test('a field accessed both ways on one side says nothing about its kind', () => {
    expect(findRetypedField([a(4, 4, 1), a(4, 4, 2)], [a(4, 4, 2)])).toBeNull();
  });
  test('a new move inside an old int (int -> short + short) is a split', () => {
    expect(findRetypedField([a(0, 4, 1, false), a(4, 4, 1)], [a(0, 2, 1), a(2, 2, 1), a(4, 4, 1)])).toMatchObject({ disp: 2, size: 2, how: 'inside' });
  });
  test('a narrowed test inside an old field is not a split (only moves count)', () => {
    expect(findRetypedField([a(0, 4, 1)], [a(1, 1, 1, false)])).toBeNull();
  });
  test('a wider move at an old offset reaching past every old access is a grown tail; over old tests it is not', () => {
    expect(findRetypedField([a(4, 4, 1), a(8, 4, 1)], [a(4, 16, 0)])).toMatchObject({ disp: 4, size: 16, how: 'past' });
    expect(findRetypedField([a(0x14, 1, 1, false)], [a(0x14, 4, 1)])).toBeNull();
  });
  test('a logic fix keeping every offset, size and kind passes; another argument gives no evidence', () => {
    expect(findRetypedField([a(0, 4, 1), a(4, 4, 1)], [a(4, 4, 1), a(0, 4, 1)])).toBeNull();
    expect(findRetypedField([a(0, 4, 1)], [a(0, 4, 2, true, 2)])).toBeNull();
  });
});
