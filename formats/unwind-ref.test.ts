/**
 * Unwind by reference (format 2.3): openUnwinds turns the golden 2.3 package's unwind delta
 * into the literal blob of the full package (equal outside the fixup field, which the runtime
 * writes), leaves packages without one untouched, and refuses what a library caller might pass
 * unvalidated (a range the relied ranges do not cover, a range past the image, a delta of the
 * wrong size) with PKG_INVALID before reading; validation holds an unwind delta to its rules.
 * (The golden 2.3 file, formats/golden/unwind-ref.hpk, round-trips in formats/golden.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { asRva } from '../common/types.ts';
import type { HotpatchPackage, Unwind } from './package.ts';
import { fullPackage, oldImage, unwindRefPackage } from './testing/sample-packages.ts';
import { openUnwinds } from './unwind-ref.ts';
import { validatePackage } from './validate.ts';

type UnwindDelta = NonNullable<Unwind['infoDelta']>;

function withDelta(p: HotpatchPackage, patch: Partial<UnwindDelta>): HotpatchPackage {
  const [b0, ...rest] = p.codeBlocks;
  const u = b0!.unwind!;
  return { ...p, codeBlocks: [{ ...b0!, unwind: { ...u, infoDelta: { ...u.infoDelta!, ...patch } } }, ...rest] };
}

describe('unwind by reference (format 2.3)', () => {
  it('opens to the literal blob, equal outside the fields the unwind fixups write', async () => {
    const literal = (await fullPackage()).codeBlocks[0]!.unwind!;
    const ref = await unwindRefPackage();
    expect(validatePackage(ref).ok).toBe(true);
    const opened = openUnwinds(ref, oldImage());
    if (!opened.ok) throw new Error(opened.error.message);
    const u = opened.value.codeBlocks[0]!.unwind!;
    expect(u.infoDelta).toBeUndefined();
    expect(u.unwindFixups).toEqual(literal.unwindFixups);
    expect(u.runtimeFunctions).toEqual(literal.runtimeFunctions);
    const field = new Set(literal.unwindFixups.flatMap((f) => [0, 1, 2, 3].map((k) => f.offset + k)));
    expect(u.unwindInfo.length).toBe(literal.unwindInfo.length);
    const differs = [...u.unwindInfo.keys()].filter((k) => u.unwindInfo[k] !== literal.unwindInfo[k]);
    // The old handler RVA was copied into the handler field (0x1234): the runtime overwrites it.
    expect(differs).toEqual([8, 9]);
    expect(differs.every((k) => field.has(k))).toBe(true);
    expect(opened.value.codeBlocks[1]).toBe(ref.codeBlocks[1]);
  });

  it('leaves a package without a reference as it is', async () => {
    const p = await fullPackage();
    const r = openUnwinds(p, oldImage());
    expect(r.ok && r.value).toBe(p);
  });

  it('refuses an unvalidated reference outside the relied ranges or the image, or of the wrong size, before reading', async () => {
    const ref = await unwindRefPackage();
    const img = oldImage();
    const uncovered = openUnwinds(withDelta(ref, { base: { rva: asRva(0x2800), length: 12 } }), img);
    expect(uncovered.ok ? 'opened' : `${uncovered.error.code}: ${uncovered.error.message}`).toBe('PKG_INVALID: block 0 unwind: base range 0x2800+12 is not covered by the relied ranges');
    const past = withDelta(ref, { extraBase: [{ rva: asRva(0x3ffc), length: 8 }] });
    const forged = { ...past, target: { ...past.target, reliedRanges: [...past.target.reliedRanges, { rva: asRva(0x3ffc), length: 8 }] } };
    const outside = openUnwinds(forged, img);
    expect(outside.ok ? 'opened' : `${outside.error.code}: ${outside.error.message}`).toBe('PKG_INVALID: block 0 unwind: a base range lies outside the image');
    const size = openUnwinds(withDelta(ref, { size: 24 }), img);
    expect(size.ok ? 'opened' : size.error.code).toBe('PKG_INVALID');
  });

  it('validation holds an unwind delta to its rules', async () => {
    const ref = await unwindRefPackage();
    const cases: Array<[Partial<UnwindDelta>, RegExp]> = [
      [{ baseSha256: new Uint8Array(32) }, /unwindDelta\.baseSha256: an unwind delta carries no hash/],
      [{ implicit: { rel32: [0], abs64: [] } }, /unwindDelta: implicit or intra fields in an unwind delta/],
      [{ ops: [{ kind: 'sealed-literal', length: 16 }] }, /unwindDelta: sealed ops in an unwind delta/],
      [{ base: { rva: asRva(0x2800), length: 12 } }, /unwindDelta\.base: not covered by target\.reliedRanges/],
      [{ size: 0 }, /unwindDelta: block is empty/],
    ];
    for (const [patch, want] of cases) {
      const v = validatePackage(withDelta(ref, patch));
      expect(v.ok ? 'valid' : `${v.error.code}: ${v.error.message}`).toMatch(want);
    }
  });
});
