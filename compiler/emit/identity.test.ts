/**
 * bridgeGaps joins relied ranges over any stable gap of up to 4 KiB inside one section, and over
 * int3/nop padding of up to 64 bytes anywhere; a longer gap, or one that leaves the section
 * (where a padding run is the only bridge), keeps its ranges apart. identityOf then takes the
 * unstable ranges out again, so no bridge pins a byte a running process changes.
 */
import { describe, expect, it } from 'vitest';
import { bridgeGaps } from './identity.ts';

/** A 0x3000-byte image of 0x41 bytes: one section [0x0, 0x2000), another [0x2000, 0x3000). */
function image(fill: Array<[number, number, number]>): { image: Uint8Array; sections: Array<{ rva: number; size: number }> } {
  const img = new Uint8Array(0x3000).fill(0x41);
  for (const [s, e, b] of fill) img.fill(b, s, e);
  return { image: img, sections: [{ rva: 0, size: 0x2000 }, { rva: 0x2000, size: 0x1000 }] };
}

describe('bridgeGaps', () => {
  it('joins ranges over any bytes inside one section, up to 4 KiB', () => {
    const img = image([]);
    img.image[0x11f] = 0xc3;
    expect(bridgeGaps(img, [[0x100, 0x110], [0x120, 0x130], [0x1130, 0x1140]])).toEqual([[0x100, 0x1140]]);
  });

  it('keeps ranges apart over a gap that holds an unstable byte (it would be cut there again)', () => {
    const img = image([]);
    expect(bridgeGaps(img, [[0x100, 0x110], [0x200, 0x210]], [{ start: 0x180, end: 0x188, why: 'IAT slot' }])).toEqual([[0x100, 0x110], [0x200, 0x210]]);
  });

  it('keeps ranges apart over more than 4 KiB', () => {
    const img = image([]);
    expect(bridgeGaps(img, [[0x0, 0x10], [0x1011, 0x1020]])).toEqual([[0x0, 0x10], [0x1011, 0x1020]]);
    expect(bridgeGaps(img, [[0x0, 0x10], [0x1010, 0x1020]])).toEqual([[0x0, 0x1020]]);
  });

  it('across two sections joins over int3 and nop padding of up to 64 bytes only', () => {
    const pad = image([[0x1ff0, 0x2000, 0xcc], [0x2000, 0x2010, 0x90]]);
    expect(bridgeGaps(pad, [[0x1f00, 0x1ff0], [0x2010, 0x2020]])).toEqual([[0x1f00, 0x2020]]);
    const code = image([]);
    expect(bridgeGaps(code, [[0x1f00, 0x1ff0], [0x2010, 0x2020]])).toEqual([[0x1f00, 0x1ff0], [0x2010, 0x2020]]);
    const long = image([[0x1f00, 0x2100, 0xcc]]);
    expect(bridgeGaps(long, [[0x1e00, 0x1f00], [0x2041, 0x2050]])).toEqual([[0x1e00, 0x1f00], [0x2041, 0x2050]]);
  });
});
