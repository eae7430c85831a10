/**
 * Fuzzing the wasm parser (parsePe, parsePeOverview and mapImage), the attack surface every package build
 * and apply goes through: truncated and mutated variants of real PE files. A few thousand
 * cases by default, 100,000 with HOTPATCH_FUZZ=full (`npm run fuzz`). Every case must end
 * in a PeFile or a PE_* error value: no trap (PE_INTERNAL), no exception, no hang, and no
 * output out of proportion to the input.
 *
 * Reproduce a failure with the seed and case number it prints:
 *   HOTPATCH_FUZZ_SEED=<seed> HOTPATCH_FUZZ_ONLY=<case> npx vitest run runtime/pe/fuzz
 * (the failing input is also written to the temp directory it names).
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { HotpatchError } from '../../common/errors.ts';
import { mapImage } from './map-image.ts';
import { parsePe, parsePeOverview, parsePeParts, type PePart } from './parse-pe.ts';
import { expectedOverview } from './testing/overview-of.ts';
import { realCorpusFiles, samplePeFiles } from '../../test/support/test-files.ts';
import { fullFile } from './testdata/crafted-cases.ts';
import { mulberry32 as prng } from '../../test/support/prng.ts';

const FULL = process.env['HOTPATCH_FUZZ'] === 'full';
const CASES = Number(process.env['HOTPATCH_FUZZ_CASES'] ?? (FULL ? 100_000 : 3_000));
const SEED = Number(process.env['HOTPATCH_FUZZ_SEED'] ?? 0x5eed_2026);
const ONLY = process.env['HOTPATCH_FUZZ_ONLY'] === undefined ? undefined : Number(process.env['HOTPATCH_FUZZ_ONLY']);


const INTERESTING_U32 = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x1000, 0x7fff, 0xffff, 0x10000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

/** Offsets of the structures that steer the parse: the places mutations matter most. */
function hotSpots(bytes: Uint8Array): number[] {
  const spots = [0, 0x3c];
  const pe = parsePe(bytes);
  if (!pe.ok) return spots;
  const v = pe.value;
  const lfanew = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0x3c, true);
  const oh = lfanew + 24;
  spots.push(lfanew, lfanew + 6, lfanew + 12, lfanew + 16, lfanew + 20, oh, oh + 56, oh + 60);
  const dirs = oh + (v.format === 'PE32+' ? 112 : 96);
  for (let i = 0; i < 16; i++) spots.push(dirs + i * 8, dirs + i * 8 + 4);
  const sec = oh + v.fileHeader.sizeOfOptionalHeader;
  for (let i = 0; i < v.sections.length; i++) for (const f of [0, 8, 12, 16, 20, 36]) spots.push(sec + i * 40 + f);
  for (const d of v.dataDirectories) {
    if (d.virtualAddress === 0) continue;
    for (const s of v.sections) {
      const delta = d.virtualAddress - s.virtualAddress;
      if (delta >= 0 && delta < s.sizeOfRawData) {
        const at = s.pointerToRawData + delta;
        for (let k = 0; k < 64; k += 4) spots.push(at + k);
      }
    }
  }
  return spots.filter((o) => o + 4 <= bytes.length);
}

interface Seedling {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly spots: number[];
}

function mutate(s: Seedling, rnd: () => number): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const kind = Math.floor(rnd() * 5);
  if (kind === 0) {
    // Truncation: anywhere, but more often inside the headers.
    const len = rnd() < 0.5 ? Math.floor(rnd() * Math.min(s.bytes.length, 4096)) : Math.floor(rnd() * s.bytes.length);
    return s.bytes.slice(0, len);
  }
  const b = s.bytes.slice();
  const dv = new DataView(b.buffer);
  const n = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) {
    if (kind === 1) {
      // Random bytes anywhere.
      const o = Math.floor(rnd() * b.length);
      b[o] = Math.floor(rnd() * 256);
    } else if (kind === 2 || kind === 3) {
      // Interesting or random values in the fields that steer the parse.
      const o = pick(s.spots) + (kind === 3 ? Math.floor(rnd() * 4) - 2 : 0);
      if (o < 0 || o + 4 > b.length) continue;
      dv.setUint32(o, rnd() < 0.6 ? pick(INTERESTING_U32) : Math.floor(rnd() * 0x1_0000_0000), true);
    } else {
      // Bit flips near a hot spot.
      const o = pick(s.spots) + Math.floor(rnd() * 64);
      if (o >= b.length) continue;
      b[o] = (b[o] as number) ^ (1 << Math.floor(rnd() * 8));
    }
  }
  if (kind !== 1 && rnd() < 0.15) return b.slice(0, Math.floor(rnd() * b.length));
  return b;
}

function loadSeeds(): Seedling[] {
  const paths = samplePeFiles().slice(0, 6);
  // Small real files keep the case rate high; the big ones are covered by the differential test.
  const corpus = realCorpusFiles().files.map((f) => f.path);
  const small = corpus.filter((p) => readFileSync(p).length <= 600_000).slice(0, 6);
  const files: Array<{ name: string; bytes: Uint8Array }> = [...paths, ...small].map((p) => ({ name: p, bytes: new Uint8Array(readFileSync(p)) }));
  // The crafted PE32 and PE32+ files carry every directory (VA-based delay imports, TLS, load config).
  files.push({ name: 'crafted pe32-full', bytes: fullFile(true).build() }, { name: 'crafted pe32plus-full', bytes: fullFile(false).build() });
  return files.map((f) => ({ ...f, spots: hotSpots(f.bytes) }));
}

describe('pe-parser fuzz', () => {
  const seeds = loadSeeds();

  it(`${CASES} mutated/truncated PE files: only PeFiles or PE_ errors (seed 0x${SEED.toString(16)})`, () => {
    expect(seeds.length).toBeGreaterThanOrEqual(3);
    const failDir = mkdtempSync(join(tmpdir(), 'hotpatch-fuzz-'));
    const rnd = prng(SEED);
    const codes = new Map<string, number>();
    let parsed = 0;
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const seed = seeds[Math.floor(rnd() * seeds.length)] as Seedling;
      const input = mutate(seed, rnd);
      const base = rnd() < 0.5 ? 0x1_8000_0000n : BigInt(Math.floor(rnd() * 0x7fff_ffff)) << 16n;
      const doMap = rnd() < 0.2;
      const ALL_PARTS: PePart[] = ['exports', 'imports', 'relocations', 'exceptions', 'debug', 'loadConfig', 'tls', 'symbols'];
      const parts = rnd() < 0.2 ? ALL_PARTS.filter(() => rnd() < 0.5) : null;
      if (ONLY !== undefined && i !== ONLY) continue;
      const fail = (why: string): never => {
        const f = join(failDir, `case-${i}.bin`);
        writeFileSync(f, input);
        throw new Error(`case ${i} (seed 0x${SEED.toString(16)}, from ${seed.name}): ${why}; input saved to ${f}`);
      };
      const t = performance.now();
      let r: ReturnType<typeof parsePe>;
      try {
        r = parts === null ? parsePe(input) : parsePeParts(input, parts);
      } catch (e) {
        return fail(`parsePe threw ${(e as Error).message}`);
      }
      slowest = Math.max(slowest, performance.now() - t);
      // The counts-only parse (`hotpatch pe`) must reach the same outcome on the same input.
      if (parts === null) {
        let o: ReturnType<typeof parsePeOverview>;
        try {
          o = parsePeOverview(input);
        } catch (e) {
          return fail(`parsePeOverview threw ${(e as Error).message}`);
        }
        if (!isDeepStrictEqual(o, expectedOverview(r))) fail('parsePeOverview differs from parsePe');
      }
      if (!r.ok) {
        const e: HotpatchError = r.error;
        if (!/^PE_[A-Z_]+$/.test(e.code) || e.code === 'PE_INTERNAL') fail(`error ${e.code}: ${e.message}`);
        if (e.message.includes('\n') || e.message.length === 0) fail(`error message not one line: ${JSON.stringify(e.message)}`);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      } else {
        parsed++;
        const pe = r.value;
        const items = [
          pe.relocations.entries.length,
          pe.exceptions.length,
          pe.exports?.entries.length ?? 0,
          pe.imports.reduce((n, d) => n + d.symbols.length, 0),
          pe.symbols.length,
          pe.loadConfig?.guardCfFunctions.length ?? 0,
        ];
        if (items.some((n) => n > input.length)) fail(`output out of proportion: ${items.join(',')} items from ${input.length} bytes`);
      }
      if (doMap) {
        let m: ReturnType<typeof mapImage>;
        try {
          m = mapImage(input, base);
        } catch (e) {
          return fail(`mapImage threw ${(e as Error).message}`);
        }
        if (!m.ok && (!m.error.code.startsWith('PE_') || m.error.code === 'PE_INTERNAL')) fail(`mapImage error ${m.error.code}: ${m.error.message}`);
        if (m.ok && r.ok && m.value.length !== r.value.optionalHeader.sizeOfImage) fail(`mapped ${m.value.length} bytes, SizeOfImage ${r.value.optionalHeader.sizeOfImage}`);
      }
    }
    // Both outcomes must be well exercised, or the mutations are too weak or too strong.
    if (ONLY === undefined) {
      expect(parsed).toBeGreaterThan(CASES / 10);
      expect(CASES - parsed).toBeGreaterThan(CASES / 10);
    }
    console.log(`fuzz: ${CASES} cases, ${parsed} parsed, errors ${JSON.stringify(Object.fromEntries(codes))}, slowest ${slowest.toFixed(1)} ms`);
  }, 3_600_000);
});
