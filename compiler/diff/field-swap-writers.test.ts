/**
 * storesExchange on hand-written store maps (the probes and their live checks are in
 * test/probe-red-live.test.ts: red-swap-writer, red-swap-writer-fix).
 */
import { describe, expect, test } from 'vitest';
import { storesExchange, type ExchangeShape, type StoreValues } from './field-swap-writers.ts';

/** Store maps from `[base, offset, size, value...]` rows. */
const stores = (...rows: ReadonlyArray<readonly [string, number, number, ...string[]]>): StoreValues =>
  new Map(rows.map(([base, offset, size, ...values]) => [`${base}|${offset}|${size}`, new Set(values)]));

const SWAP_0_4: ExchangeShape = { global: false, moves: [[0, 4, 4], [4, 0, 4]] };
const A = 'lea(a1,a1,2,0)';
const B = 'inc(lea(a1,a1,4,0))';

describe('storesExchange', () => {
  test('each value stored at the other field\'s offset through one base is an exchange', () => {
    expect(storesExchange(stores(['a0', 0, 4, A], ['a0', 4, 4, B], ['a0', 8, 8, 'a1']), stores(['a0', 4, 4, A], ['a0', 0, 4, B], ['a0', 8, 8, 'c1000']), SWAP_0_4)).toBe(true);
  });
  test('each value stored where it was (a reader\'s fix, red-swap-writer-fix) is none', () => {
    expect(storesExchange(stores(['a0', 0, 4, A], ['a0', 4, 4, B]), stores(['a0', 0, 4, A], ['a0', 4, 4, B]), SWAP_0_4)).toBe(false);
  });
  test('one value stored to both fields says nothing about their order', () => {
    expect(storesExchange(stores(['a0', 0, 4, 'a1'], ['a0', 4, 4, 'a1']), stores(['a0', 0, 4, 'a1'], ['a0', 4, 4, 'a1']), SWAP_0_4)).toBe(false);
  });
  test('one field exchanged and the other rewritten is no exchange; nor through two bases; nor of another size', () => {
    expect(storesExchange(stores(['a0', 0, 4, A], ['a0', 4, 4, B]), stores(['a0', 4, 4, A], ['a0', 0, 4, 'c7']), SWAP_0_4)).toBe(false);
    expect(storesExchange(stores(['a0', 0, 4, A], ['a0', 4, 4, B]), stores(['a2', 4, 4, A], ['a0', 0, 4, B]), SWAP_0_4)).toBe(false);
    expect(storesExchange(stores(['a0', 0, 8, A], ['a0', 4, 8, B]), stores(['a0', 4, 8, A], ['a0', 0, 8, B]), SWAP_0_4)).toBe(false);
  });
  test('global fields are matched only against a global exchange', () => {
    const g = (at: number): number => 0x3000 + at;
    const olds = stores(['G', g(0), 4, A], ['G', g(4), 4, B]);
    const news = stores(['G', g(4), 4, A], ['G', g(0), 4, B]);
    expect(storesExchange(olds, news, { global: true, moves: [[g(0), g(4), 4], [g(4), g(0), 4]] })).toBe(true);
    expect(storesExchange(olds, news, { global: false, moves: [[g(0), g(4), 4], [g(4), g(0), 4]] })).toBe(false);
  });
});
