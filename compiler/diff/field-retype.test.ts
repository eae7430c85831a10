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
  test('a wider move at an old offset over bytes no old access reaches, before old accesses, is a widened field', () => {
    // red-widen: v1 {int a; long long b}, v2 {long long a; long long b}: show's loads.
    const r = findRetypedField([a(0, 4, 1), a(8, 8, 1)], [a(0, 8, 1), a(8, 8, 1)]);
    expect(r).toMatchObject({ disp: 0, size: 8, how: 'wider' });
    expect(describeRetypedField(r!)).toBe('structure layout changed: accesses [arg1+0x0] (8 bytes) where the old function accesses only +0x0 (4 bytes, as an integer), over bytes after it that no old access reaches (a field widened over padding); needs a baseline');
    // A qword at an offset 8 does not divide is two fields stored at once, not one widened.
    expect(findRetypedField([a(0xb4, 4, 1), a(0xc0, 8, 1)], [a(0xb4, 8, 1), a(0xc0, 8, 1)])).toBeNull();
    // Two ints loaded as one qword, both read by the old body: no byte is new.
    expect(findRetypedField([a(0, 4, 1), a(4, 4, 1), a(8, 8, 1)], [a(0, 8, 1), a(8, 8, 1)])).toBeNull();
    // Over an old narrowed test: compilers narrow tests (couchbase 4.6.0 `test byte [rcx+0x14], 2`).
    expect(findRetypedField([a(0, 1, 1, false), a(8, 8, 1)], [a(0, 4, 1), a(8, 8, 1)])).toBeNull();
  });
  test('a logic fix keeping every offset, size and kind passes; another argument gives no evidence', () => {
    expect(findRetypedField([a(0, 4, 1), a(4, 4, 1)], [a(4, 4, 1), a(0, 4, 1)])).toBeNull();
    expect(findRetypedField([a(0, 4, 1)], [a(0, 4, 2, true, 2)])).toBeNull();
  });
});
