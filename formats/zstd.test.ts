/** The zstd wrapper: round trips, the frame-header reader, and the bounds it promises. */
import { describe, expect, it } from 'vitest';
import { pseudoCode } from './testing/sample-packages.ts';
import { frameWithoutSize, rleFrame } from './testing/wrap.ts';
import { compressZstd, decompressZstd, readZstdFrameHeader, ZSTD_MAX_CONTENT, zstdLevelFor } from './zstd.ts';

async function roundTrip(data: Uint8Array, level: number): Promise<Uint8Array> {
  const c = await compressZstd(data, level);
  if (!c.ok) throw new Error(c.error.message);
  const h = readZstdFrameHeader(c.value);
  expect(h.ok && h.value.contentSize).toBe(data.length);
  const d = await decompressZstd(c.value, data.length);
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}

describe('zstd', () => {
  it('round-trips at the level chosen for each size, up to ZSTD_MAX_CONTENT of incompressible data', async () => {
    for (const size of [1, 1000, 300_000, 512 * 1024, 1_500_000, 2 * 1024 * 1024, ZSTD_MAX_CONTENT]) {
      const data = pseudoCode(size, size);
      const back = await roundTrip(data, zstdLevelFor(size));
      expect(Buffer.from(back).equals(Buffer.from(data)), `size ${size}`).toBe(true);
    }
  });

  it('refuses more than ZSTD_MAX_CONTENT instead of running the wasm heap out of memory', async () => {
    const r = await compressZstd(new Uint8Array(ZSTD_MAX_CONTENT + 1), 3);
    expect(r.ok ? 'ok' : r.error.code).toBe('PKG_ZSTD');
    // And the instance still works afterwards.
    expect((await roundTrip(Uint8Array.of(1, 2, 3), 19)).length).toBe(3);
  });

  it('decodes a hand-built RLE frame that tells the truth', async () => {
    const d = await decompressZstd(rleFrame(300_000, 300_000, 0xcc), 300_000);
    expect(d.ok && d.value.length).toBe(300_000);
    expect(d.ok && d.value.every((b) => b === 0xcc)).toBe(true);
  });

  it('refuses frames over the bound or without a size, before expanding them', async () => {
    const big = await decompressZstd(rleFrame(3_000_000, 3_000_000), 1_000_000);
    expect(big.ok ? 'ok' : big.error.code).toBe('PKG_BOMB');
    const noSize = await decompressZstd(frameWithoutSize(Uint8Array.of(1, 2, 3)), 1000);
    expect(noSize.ok ? 'ok' : noSize.error.code).toBe('PKG_BOMB');
    const lying = await decompressZstd(rleFrame(100, 200_000), 1000);
    expect(lying.ok ? 'ok' : lying.error.code).toBe('PKG_ZSTD');
  });

  it('reads frame headers and refuses what is not a frame', () => {
    expect(readZstdFrameHeader(Uint8Array.of(1, 2, 3)).ok).toBe(false);
    expect(readZstdFrameHeader(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x08)).ok).toBe(false); // reserved bit
    expect(readZstdFrameHeader(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xc0, 1)).ok).toBe(false); // truncated 8-byte FCS
    const h = readZstdFrameHeader(rleFrame(123_456, 123_456));
    expect(h.ok && h.value).toEqual({ contentSize: 123_456, hasChecksum: false, dictionaryId: 0, headerLength: 9 });
  });
});
