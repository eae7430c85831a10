/**
 * zstd with a raw-content dictionary (format 2.2's sealed frame), against the reference
 * implementation both ways: Debian's `zstd -D DICT` decodes the frames compressZstdWithDictionary
 * writes, and our decoder decodes frames the CLI writes with `-D` and `--patch-from` (with a
 * checksum, so a wrong dictionary is caught by it). Real code: a sample DLL's .text is the
 * dictionary, another build's .text the content. Damage comes back as PKG_ZSTD, never a throw:
 * an offset before the dictionary's start, a frame that names a dictionary id, every
 * truncation. Skipped with a reason without the `zstd` CLI (failed under HOTPATCH_REQUIRE_WINE=1).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleBytes } from '../runtime/apply/testing/fixtures.ts';
import { hasTool, REQUIRE_TOOLS } from '../test/support/tools.ts';
import { decodeZstdFrame } from './zstd-decode.ts';
import { compressZstdWithDictionary, readZstdFrameHeader, ZSTD_MAX_DICTIONARY } from './zstd.ts';

const noZstd = !hasTool('zstd', ['--version']);
if (noZstd && REQUIRE_TOOLS) throw new Error('HOTPATCH_REQUIRE_WINE=1 but needs zstd (apt: zstd)');

const dir = mkdtempSync(join(tmpdir(), 'hp-zdict-'));
function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
function zstd(args: readonly string[], input: Uint8Array): Uint8Array {
  const r = spawnSync('zstd', ['-q', '-c', ...args], { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`zstd ${args.join(' ')}: ${r.stderr.toString().split('\n')[0]}`);
  return new Uint8Array(r.stdout);
}

/** The first `n` bytes of a sample DLL's file from 0x400 (its .text): real x64 code. */
function code(scenario: string, version: string, n: number): Uint8Array {
  return sampleBytes(scenario, `${version}.dll`).slice(0x400, 0x400 + n);
}

describe.skipIf(noZstd)('zstd with a raw-content dictionary', () => {
  const dict = code('bounds-check', 'v1', 6000);
  const content = new Uint8Array([...code('bounds-check', 'v2', 5000), ...code('logic-fix', 'v2', 3000)]);

  it('our frames decode with `zstd -D` and with our decoder, and are much smaller than without the dictionary', async () => {
    const f = await compressZstdWithDictionary(content, dict);
    if (!f.ok) throw new Error(f.error.message);
    const h = readZstdFrameHeader(f.value);
    expect(h.ok && h.value.contentSize === content.length && h.value.dictionaryId === 0).toBe(true);
    expect(Buffer.from(zstd(['-d', '-D', file('d1', dict)], f.value)).equals(Buffer.from(content))).toBe(true);
    const ours = decodeZstdFrame(f.value, content.length, dict);
    expect(ours.ok && Buffer.from(ours.value).equals(Buffer.from(content))).toBe(true);
    const plain = zstd(['-19'], content);
    expect(f.value.length).toBeLessThan(plain.length * 0.8);
  });

  it('decodes CLI frames made with -D and --patch-from; a wrong dictionary fails their checksum', () => {
    const d = file('d2', dict);
    const size = `--stream-size=${content.length}`; // --patch-from reading stdin needs it
    for (const args of [['-19', '-D', d], ['-3', '-D', d], ['-19', size, '--patch-from', d], ['--ultra', '-22', '--long=27', size, '--patch-from', d]]) {
      const frame = zstd([...args, '--check', '--no-dictID'], content);
      const r = decodeZstdFrame(frame, content.length, dict);
      expect(r.ok && Buffer.from(r.value).equals(Buffer.from(content)), args.join(' ')).toBe(true);
      const wrong = dict.slice();
      for (let i = 0; i < wrong.length; i += 64) wrong[i] = wrong[i]! ^ 0x5a;
      const w = decodeZstdFrame(frame, content.length, wrong);
      expect(w.ok ? 'decoded' : w.error.code, args.join(' ')).toBe('PKG_ZSTD');
    }
  });

  it('refuses an offset before the dictionary, a dictionary id, and every truncation, as PKG_ZSTD values', async () => {
    const f = await compressZstdWithDictionary(content, dict);
    if (!f.ok) throw new Error(f.error.message);
    // The same frame without its dictionary (or with a shorter one) reaches before the history.
    const none = decodeZstdFrame(f.value, content.length);
    expect(none.ok ? 'decoded' : none.error.message).toContain('reaches before the start of the frame and its dictionary');
    const short = decodeZstdFrame(f.value, content.length, dict.subarray(dict.length - 100));
    expect(short.ok ? 'decoded' : short.error.code).toBe('PKG_ZSTD');
    const withId = zstd(['-19', '-D', file('d3', dict)], content); // the CLI writes no id for raw content either
    expect(readZstdFrameHeader(withId).ok && (readZstdFrameHeader(withId) as { value: { dictionaryId: number } }).value.dictionaryId).toBe(0);
    for (let n = 0; n < f.value.length; n++) {
      const r = decodeZstdFrame(f.value.subarray(0, n), content.length, dict);
      expect(r.ok, `cut at ${n}`).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('PKG_ZSTD');
    }
  });

  it('bounds what the codec heap allows and refuses a dictionary zstd would parse as a trained one', async () => {
    const big = await compressZstdWithDictionary(content, new Uint8Array(ZSTD_MAX_DICTIONARY + 1).fill(1));
    expect(big.ok ? 'ok' : big.error.code).toBe('PKG_ZSTD');
    // At the bound, level 19 still fits the 16 MiB heap (with 512 KiB of content).
    const full = new Uint8Array(ZSTD_MAX_DICTIONARY);
    for (let i = 0; i < full.length; i += dict.length) full.set(dict.subarray(0, Math.min(dict.length, full.length - i)), i);
    const many = new Uint8Array(512 * 1024);
    for (let i = 0; i < many.length; i += content.length) many.set(content.subarray(0, Math.min(content.length, many.length - i)), i);
    const atBound = await compressZstdWithDictionary(many, full);
    expect(atBound.ok).toBe(true);
    const magic = dict.slice();
    magic.set([0x37, 0xa4, 0x30, 0xec], 0);
    const m = await compressZstdWithDictionary(content, magic);
    expect(m.ok ? 'ok' : m.error.message).toContain('trained-dictionary magic');
  });
});
