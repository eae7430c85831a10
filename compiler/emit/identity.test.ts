/**
 * bridgePadding joins relied ranges over the int3/nop padding between them, and over nothing
 * else: a gap holding any other byte, or longer than the bridge, keeps its ranges apart.
 */
import { describe, expect, it } from 'vitest';
import { bridgePadding } from './identity.ts';

function image(fill: Array<[number, number, number]>): Uint8Array {
  const img = new Uint8Array(0x400).fill(0x41);
  for (const [s, e, b] of fill) img.fill(b, s, e);
  return img;
}

describe('bridgePadding', () => {
  it('joins ranges over int3 and nop padding', () => {
    const img = image([[0x110, 0x120, 0xcc], [0x130, 0x134, 0x90], [0x134, 0x140, 0xcc]]);
    expect(bridgePadding(img, [[0x100, 0x110], [0x120, 0x130], [0x140, 0x150]])).toEqual([[0x100, 0x150]]);
  });

  it('keeps ranges apart over a gap with any other byte', () => {
    const img = image([[0x110, 0x120, 0xcc]]);
    img[0x11f] = 0xc3;
    expect(bridgePadding(img, [[0x100, 0x110], [0x120, 0x130]])).toEqual([[0x100, 0x110], [0x120, 0x130]]);
  });

  it('keeps ranges apart over more than 64 bytes of padding', () => {
    const img = image([[0x110, 0x200, 0xcc]]);
    expect(bridgePadding(img, [[0x100, 0x110], [0x151, 0x160]])).toEqual([[0x100, 0x110], [0x151, 0x160]]);
    expect(bridgePadding(img, [[0x100, 0x110], [0x150, 0x160]])).toEqual([[0x100, 0x160]]);
  });
});
