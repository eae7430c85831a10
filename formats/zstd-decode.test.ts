/**
 * The TypeScript zstd decoder against the reference implementation: frames written by
 * Debian's `zstd` CLI (levels -5 to 22, long windows, with and without checksum) and by
 * zstd-codec (our compressor) decode to the exact input, over real PE files, real package
 * payloads, text-like, sparse and random data. Damaged frames (every byte flipped, every
 * truncation) come back as PKG_ZSTD values, never a throw, and a frame with a checksum never
 * decodes to wrong bytes; bombs stop at the first byte over the bound.
 * Skipped with a reason without the `zstd` CLI, failed instead under HOTPATCH_REQUIRE_WINE=1.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { hasTool, REQUIRE_TOOLS } from '../test/support/tools.ts';
import { encodePayload } from './codec.ts';
import { fullPackage } from './testing/sample-packages.ts';
import { decodeZstdFrame } from './zstd-decode.ts';
import { compressZstd } from './zstd.ts';

const noZstd = !hasTool('zstd', ['--version']);
if (noZstd && REQUIRE_TOOLS) throw new Error('HOTPATCH_REQUIRE_WINE=1 but needs zstd (apt: zstd)');

function zstdCli(args: readonly string[], input: Uint8Array): Uint8Array {
  const r = spawnSync('zstd', ['-q', '-c', ...args], { input, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')} failed: ${r.stderr.toString().split('\n')[0]}`);
  return new Uint8Array(r.stdout);
}

/** Deterministic data: a xorshift stream shaped into the given kind. */
function data(kind: 'text' | 'sparse' | 'random', length: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const out = new Uint8Array(length);
  const words = ['mov ', 'rax, ', 'call ', '[rip+0x', '1f]', 'ret\n', 'jmp ', 'lea ', 'rcx', 'push ', 'rbp\n'];
  for (let i = 0; i < length; ) {
    if (kind === 'random') out[i++] = next() & 0xff;
    else if (kind === 'sparse') out[i++] = next() % 97 === 0 ? next() & 0xff : 0;
    else {
      const r = next();
      const w = r % 13 === 0 ? String.fromCharCode(33 + (r % 90)) : words[r % words.length]!;
      for (let k = 0; k < w.length && i < length; k++) out[i++] = w.charCodeAt(k);
    }
  }
  return out;
}

async function inputs(): Promise<Array<[string, Uint8Array]>> {
  return [
    ['PE v1.dll', sampleBytes('new-helper', 'v1.dll')],
    ['PE v2.dll', sampleBytes('new-helper', 'v2.dll')],
    ['package payload', encodePayload(await fullPackage())],
    ['text 200k', data('text', 200_000, 1)],
    ['sparse 150k', data('sparse', 150_000, 2)],
    ['random 100k', data('random', 100_000, 3)],
    ['text 37', data('text', 37, 4)],
    ['one byte', Uint8Array.of(7)],
    ['empty', new Uint8Array(0)],
  ];
}

/** The parts joined, in a buffer of their own (Buffer.concat may hand out a pooled slice). */
const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

function expectDecodes(frame: Uint8Array, want: Uint8Array, label: string): void {
  const r = decodeZstdFrame(frame, want.length);
  expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`, label).toBe('ok');
  if (r.ok) expect(Buffer.from(r.value).equals(Buffer.from(want)), label).toBe(true);
}

describe.skipIf(noZstd)(`zstd decoder (TypeScript) against the reference${noZstd ? ' (skipped: needs the zstd CLI)' : ''}`, () => {
  it('decodes what the zstd CLI writes, at every kind of setting', async () => {
    const settings = [['--fast=5'], ['-1'], ['-3'], ['-9', '--no-check'], ['-19'], ['--ultra', '-22', '--long=24'], ['-6', '--zstd=wlog=10']];
    let frames = 0;
    for (const [name, bytes] of await inputs()) {
      for (const s of settings) {
        expectDecodes(zstdCli(s, bytes), bytes, `${name} zstd ${s.join(' ')}`);
        frames++;
      }
    }
    expect(frames).toBe(63);
  }, 300_000);

  it('decodes what zstd-codec (our compressor) writes, levels 1 to 22', async () => {
    for (const [name, bytes] of await inputs()) {
      for (const level of [1, 4, 12, 19, 22]) {
        if (bytes.length > 256 * 1024 && level > 19) continue; // the 16 MiB wasm heap (zstd.ts)
        const c = await compressZstd(bytes, level);
        if (!c.ok) throw new Error(c.error.message);
        expectDecodes(c.value, bytes, `${name} zstd-codec level ${level}`);
      }
    }
  }, 300_000);

  it('turns every flipped byte and every truncation into PKG_ZSTD (or, without checksum, some bytes), never a throw', async () => {
    const text = data('text', 3000, 9);
    const withSum = zstdCli(['-19'], text);
    const noSum = zstdCli(['-19', '--no-check'], text);
    const pe = sampleBytes('new-helper', 'v1.dll').subarray(0, 4096);
    const codec = await compressZstd(pe, 19);
    if (!codec.ok) throw new Error(codec.error.message);
    const counts = { ok: 0, refused: 0, wrongWithChecksum: 0 };
    const codes = new Set<string>();
    for (const [frame, want, checked] of [[withSum, text, true], [noSum, text, false], [codec.value, pe, false]] as const) {
      for (let i = 0; i < frame.length; i++) {
        for (const x of [0x01, 0x80, 0xff]) {
          const bad = frame.slice();
          bad[i] = bad[i]! ^ x;
          const r = decodeZstdFrame(bad, want.length);
          if (!r.ok) {
            counts.refused++;
            codes.add(r.error.code);
            expect(r.error.offset).toBeGreaterThanOrEqual(0);
            expect(r.error.offset).toBeLessThanOrEqual(bad.length);
            continue;
          }
          counts.ok++;
          expect(r.value.length).toBe(want.length);
          if (checked && !Buffer.from(r.value).equals(Buffer.from(want))) counts.wrongWithChecksum++;
        }
      }
      for (let n = 0; n < frame.length; n++) {
        const r = decodeZstdFrame(frame.subarray(0, n), want.length);
        expect(r.ok, `truncated to ${n}`).toBe(false);
      }
    }
    expect([...codes]).toEqual(['PKG_ZSTD']);
    expect(counts.wrongWithChecksum).toBe(0);
    expect(counts.refused).toBeGreaterThan(counts.ok);
  }, 120_000);

  it('survives 4,000 seeded random edits (byte writes, cuts, insertions, size lies) of frames from three settings', async () => {
    const code = sampleBytes('new-helper', 'v2.dll').subarray(0, 24_576);
    const frames: Array<[Uint8Array, number]> = [
      [zstdCli(['-19'], code), code.length], // Huffman-coded literals, FSE-coded tables
      [zstdCli(['--fast=3'], code), code.length], // raw literals, predefined tables
      [zstdCli(['-12', '--zstd=wlog=10'], data('text', 20_000, 6)), 20_000], // many small blocks: tables and literals reused
    ];
    let x = 12345;
    const rnd = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const seen = { ok: 0, refused: 0 };
    for (let i = 0; i < 4000; i++) {
      const [frame, size] = frames[i % frames.length]!;
      let bad: Uint8Array = frame.slice();
      for (let k = 1 + rnd(8); k > 0; k--) {
        const op = rnd(3);
        const at = rnd(bad.length);
        if (op === 0) bad[at] = rnd(256);
        else if (op === 1) bad = concat(bad.subarray(0, at), bad.subarray(at + 1 + rnd(4)));
        else bad = concat(bad.subarray(0, at), Uint8Array.of(rnd(256)), bad.subarray(at));
      }
      const claimed = rnd(4) === 0 ? rnd(2 * size + 1) : size;
      const r = decodeZstdFrame(bad, claimed);
      if (r.ok) {
        seen.ok++;
        expect(r.value.length).toBe(claimed);
      } else {
        seen.refused++;
        expect(r.error.code).toBe('PKG_ZSTD');
      }
    }
    expect(seen.refused).toBeGreaterThan(3000);
  }, 120_000);

  it('stops a bomb at the first block over the bound instead of expanding it', () => {
    const zeros = new Uint8Array(4 * 1024 * 1024);
    const frame = zstdCli(['-19'], zeros); // ~130 bytes for 4 MiB
    expect(frame.length).toBeLessThan(1000);
    const r = decodeZstdFrame(frame, 100_000);
    expect(r.ok ? 'ok' : r.error.code).toBe('PKG_ZSTD');
    if (!r.ok) expect(r.error.message).toContain('expands past its declared 100000 bytes');
    // And the honest size decodes.
    expectDecodes(frame, zeros, '4 MiB of zeros');
  });

  it('decodes RLE-mode sequence tables (no encoder setting forces them; hand-built, checked by zstd -d)', () => {
    // One compressed block: 8 raw literals, 2 sequences, all three tables RLE (LL code 4,
    // OF code 2, ML code 0), each sequence reading offset bits 0b11: literals 4, offset 4, match 3.
    const block = Uint8Array.of(8 << 3, ...new TextEncoder().encode('abcdEFGH'), 2, 0x54, 4, 2, 0, 0x1f);
    const frame = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x20, 14, 1 | (2 << 1) | (block.length << 3), 0, 0, ...block);
    const want = new TextEncoder().encode('abcdabcEFGHEFG');
    const r = spawnSync('zstd', ['-d', '-q', '-c'], { input: frame });
    expect(Buffer.from(r.stdout).equals(Buffer.from(want))).toBe(true);
    expectDecodes(frame, want, 'RLE tables');
  });

  it('refuses trailing bytes, a dictionary, a bad checksum, a reserved block type, by name', () => {
    const text = data('text', 2000, 5);
    const frame = zstdCli(['-3'], text);
    const msg = (f: Uint8Array, size = text.length): string => {
      const r = decodeZstdFrame(f, size);
      return r.ok ? 'ok' : r.error.message;
    };
    expect(msg(Uint8Array.of(...frame, 0))).toContain('1 bytes follow the frame');
    const sum = frame.slice();
    sum[sum.length - 1] = sum[sum.length - 1]! ^ 1;
    expect(msg(sum)).toContain('content checksum does not match');
    expect(msg(frame, text.length + 1)).toContain(`regenerates ${text.length} bytes, not the declared ${text.length + 1}`);
    // Frame header with a 1-byte dictionary id 5, then an empty raw last block.
    expect(msg(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x21, 5, 0, 1, 0, 0), 0)).toContain('needs a dictionary');
    // Single segment, content size 0, then a block of reserved type 3.
    expect(msg(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x20, 0, 0x07, 0, 0), 0)).toContain('reserved block type');
    expect(msg(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x20, 0, 0x01, 0, 0), 0)).toBe('ok');
  });
});
