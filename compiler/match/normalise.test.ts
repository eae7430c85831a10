/**
 * The normaliser's fast paths against what they replaced: Hasher.digest's table-made hex
 * against toString(16), latin1 of a Uint8Array against the array-of-numbers path, and
 * sameForm (two forms compared as code units, no strings made) against comparing the
 * functionForm strings, over every matched pair of a real sample build, before and after
 * the forms are memoised; shapeHashes (named forms written only where the shape form meets a
 * TypeDescriptor) against every function's shapeHash and namedHash, over real MSVC builds.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cachePath, realPairs } from '../../samples/real/real-files.ts';
import type { ImageAnalysis } from './analyze-image.ts';
import { cachedAnalysis, sampleAnalysis } from './testing/sample-analysis.ts';
import { matchImages } from './match-images.ts';
import { Hasher, hashString, latin1, Normaliser, type MatchView } from './normalise.ts';

/** The digest as it was made before the hex table. */
function referenceDigest(bytes: Uint8Array): string {
  let h1 = 0x811c9dc5 | 0;
  let h2 = 0x9747b28c | 0;
  for (const c of bytes) {
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  const a = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
  const b = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0') + bytes.length.toString(36);
}

const analysis = sampleAnalysis;

describe('normalise fast paths', () => {
  test('Hasher.digest is the 16 hex digits toString(16) gives, plus the length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(new Hasher().bytes(b).digest()).toBe(referenceDigest(b));
      }),
    );
    expect(new Hasher().digest()).toBe(referenceDigest(new Uint8Array(0)));
  });

  test('latin1 of a Uint8Array is the array path, across the 8192-byte chunks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (b) => {
        expect(latin1(b)).toBe(latin1(Array.from(b)));
        expect(latin1(b.subarray(1))).toBe(latin1(Array.from(b.subarray(1))));
      }),
      { numRuns: 30 },
    );
    expect(latin1(new Uint8Array([0, 0x41, 0xff]))).toBe('\u0000A\u00ff');
  });

  test.each([['cpp-exceptions', ''], ['cpp-exceptions', '.stripped'], ['bounds-check', '.clang.stripped']])('sameForm answers as the functionForm strings compare (%s%s)', (scenario, suffix) => {
    const m = matchImages(analysis(scenario, `v1${suffix}.dll`), analysis(scenario, `v2${suffix}.dll`));
    const pairs = m.new.fns.functions.filter((f) => m.fnNewToOld[f.index]! >= 0).map((f) => [m.old.fns.functions[m.fnNewToOld[f.index]!]!, f] as const);
    expect(pairs.length).toBeGreaterThan(5);
    let differ = 0;
    for (const mode of ['exact', 'code'] as const) {
      // Before any form is memoised (sameForm writes both), then against the strings (memoised).
      const fast = pairs.map(([of, nf]) => m.oldNorm.sameForm(of, m.newNorm, nf, mode));
      const slow = pairs.map(([of, nf]) => m.oldNorm.functionForm(of, mode) === m.newNorm.functionForm(nf, mode));
      expect(fast).toEqual(slow);
      expect(pairs.map(([of, nf]) => m.oldNorm.sameForm(of, m.newNorm, nf, mode))).toEqual(slow);
      differ += slow.filter((x) => !x).length;
    }
    // The sample changes something: both answers occur.
    expect(differ).toBeGreaterThan(0);
  });

  test.each([['cpp-exceptions', ''], ['bounds-check', '.clang.stripped']])('formHash is the hash of the functionForm string, made before or after it (%s%s)', (scenario, suffix) => {
    const m = matchImages(analysis(scenario, `v1${suffix}.dll`), analysis(scenario, `v2${suffix}.dll`));
    for (const norm of [m.oldNorm, m.newNorm]) {
      const fns = (norm === m.oldNorm ? m.old : m.new).fns.functions;
      for (const mode of ['exact', 'code'] as const) {
        // Odd functions hashed before their string is memoised, even ones after.
        const early = fns.map((f) => (f.index % 2 === 1 ? norm.formHash(f, mode) : ''));
        const strings = fns.map((f) => norm.functionForm(f, mode));
        fns.forEach((f) => {
          const want = hashString(strings[f.index]!);
          if (f.index % 2 === 1) expect(early[f.index]).toBe(want);
          expect(norm.formHash(f, mode)).toBe(want);
        });
      }
    }
  });
});

/** The analysis of the NEW file of real pair `label`, or why there is none. */
function realAnalysis(label: string): ImageAnalysis | string {
  const pair = realPairs().find((p) => p.label === label);
  if (pair === undefined) return `${label} not in samples/real/manifest.json`;
  return cachedAnalysis(cachePath(pair.new));
}

const NO_MATCH: MatchView = { fnKey: () => -1, itemKey: () => -1 };

// sharp 0.34.5 has 103 functions whose named form differs from their shape (TypeDescriptors,
// directly and through RTTI data), utf-8-validate 6.0.5 has 4.
describe.each([['sharp-0.34.4-0.34.5', 103], ['utf-8-validate-6.0.4-6.0.5', 4]])('shapeHashes on %s', (label, named) => {
  const a = realAnalysis(label);
  test.skipIf(typeof a === 'string')(`is every shapeHash and namedHash, written one by one${typeof a === 'string' ? ` (skipped: ${a})` : ''}`, { timeout: 120_000 }, () => {
    const an = a as ImageAnalysis;
    const fns = an.fns.functions;
    const folded = new Normaliser(an, 'new', NO_MATCH).shapeHashes(fns);
    const one = new Normaliser(an, 'new', NO_MATCH);
    const shape = fns.map((f) => one.shapeHash(f));
    const namedHashes = fns.map((f) => one.namedHash(f));
    expect(folded.shape).toEqual(shape);
    expect(folded.named).toEqual(namedHashes);
    expect(namedHashes.filter((h, i) => h !== shape[i]).length).toBe(named);
  });
});
