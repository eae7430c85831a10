/**
 * Unwind by reference (format 2.3): openUnwinds turns the golden 2.3 package's unwind delta
 * into the literal blob of the full package (equal outside the fixup field, which the runtime
 * writes), leaves packages without one untouched, and refuses what a library caller might pass
 * unvalidated (a range the relied ranges do not cover, a range past the image, a delta of the
 * wrong size) with PKG_INVALID before reading; validation holds an unwind delta to its rules.
 * (The golden 2.3 file, formats/golden/unwind-ref.hpk, round-trips in formats/golden.test.ts.)
 * Format 2.4's implicit ADDR32NB fields derive their fixups from the old fields (an RVA into the
 * delta's base maps into the blob, anything else is an image RVA), travel in
 * `unwind_delta_implicit`, and are held to their rules.
 */
import { describe, expect, it } from 'vitest';
import { asRva } from '../common/types.ts';
import type { HotpatchPackage, Unwind } from './package.ts';
import { fullPackage, oldImage, unwindRefPackage } from './testing/sample-packages.ts';
import { openUnwinds } from './unwind-ref.ts';
import { validatePackage } from './validate.ts';
import { decodePayload, encodePayload, toMessage } from './codec.ts';
import { hotpatch } from './generated/hotpatch.js';

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

/** The 2.3 reference package with its handler field implicit, and an OLD whose old fields imply it. */
async function implicitPackage(): Promise<{ pkg: HotpatchPackage; img: Uint8Array }> {
  const ref = await unwindRefPackage();
  const img = oldImage();
  // The old handler RVA is the one the block's fixup names (0x1e00); the extra range's word
  // is the RVA of base offset 4 (0x1d04), which the blob holds at offset 4.
  new DataView(img.buffer).setUint32(0x1d08, 0x1e00, true);
  new DataView(img.buffer).setUint32(0x1d40, 0x1d04, true);
  const [b0, ...rest] = ref.codeBlocks;
  const unwind: Unwind = { ...b0!.unwind!, unwindFixups: [], implicitAddr32nb: [8, 12] };
  return { pkg: { ...ref, codeBlocks: [{ ...b0!, unwind }, ...rest] }, img };
}

function withUnwind(p: HotpatchPackage, patch: Partial<Unwind>): HotpatchPackage {
  const [b0, ...rest] = p.codeBlocks;
  return { ...p, codeBlocks: [{ ...b0!, unwind: { ...b0!.unwind!, ...patch } }, ...rest] };
}

describe('implicit unwind fixups (format 2.4)', () => {
  it('derive an image RVA, or the place in the blob an RVA into the base maps to', async () => {
    const { pkg, img } = await implicitPackage();
    expect(validatePackage(pkg).ok).toBe(true);
    const opened = openUnwinds(pkg, img);
    if (!opened.ok) throw new Error(opened.error.message);
    const u = opened.value.codeBlocks[0]!.unwind!;
    expect(u.implicitAddr32nb).toBeUndefined();
    expect(u.unwindFixups).toEqual([
      { kind: 'addr32nb', offset: 8, target: { kind: 'image', rva: 0x1e00 }, addend: 0n },
      { kind: 'addr32nb', offset: 12, target: { kind: 'unwind', offset: 4 }, addend: 0n },
    ]);
    // An old field outside the image derives nothing.
    const far = img.slice();
    new DataView(far.buffer).setUint32(0x1d08, 0x7fff_0000, true);
    const bad = openUnwinds(pkg, far);
    expect(bad.ok ? 'opened' : `${bad.error.code}: ${bad.error.message}`).toBe('PKG_INVALID: block 0 unwind: implicit ADDR32NB field at 8: the old field holds 0x7fff0000, outside the image');
  });

  it('travel in unwind_delta_implicit and decode back', async () => {
    const { pkg } = await implicitPackage();
    const msg = toMessage(pkg).codeBlocks![0]!.unwind!;
    expect(msg.unwindDelta ?? null).toBeNull();
    expect(msg.unwindDeltaImplicit?.implicitAddr32nb).toEqual([8, 0]);
    const back = decodePayload(encodePayload(pkg));
    if (!back.ok) throw new Error(back.error.message);
    expect(back.value.codeBlocks[0]!.unwind!.implicitAddr32nb).toEqual([8, 12]);
    expect(encodePayload(back.value)).toEqual(encodePayload(pkg));
  });

  it('the wire refuses them anywhere else, and both delta fields at once', async () => {
    const { pkg } = await implicitPackage();
    const decode = (edit: (m: hotpatch.Package.$Properties) => void): string => {
      const m = toMessage(pkg);
      edit(m);
      const r = decodePayload(hotpatch.Package.encode(m).finish());
      return r.ok ? 'decoded' : `${r.error.code}: ${r.error.message}`;
    };
    const u = (m: hotpatch.Package.$Properties): hotpatch.Unwind.$Properties => m.codeBlocks![0]!.unwind!;
    expect(decode((m) => (u(m).unwindDelta = u(m).unwindDeltaImplicit ?? null))).toMatch(/PKG_INVALID: .*both unwindDelta and unwindDeltaImplicit/);
    expect(decode((m) => (u(m).unwindDeltaImplicit = { ...u(m).unwindDeltaImplicit, implicitAddr32nb: [] }))).toMatch(/PKG_INVALID: .*unwindDeltaImplicit: no implicitAddr32nb field/);
    expect(decode((m) => {
      u(m).unwindDelta = u(m).unwindDeltaImplicit ?? null;
      u(m).unwindDeltaImplicit = null;
    })).toMatch(/PKG_INVALID: .*implicitAddr32nb: only in an unwind delta/);
    // 2.8 (FORMAT.md "Unwind base from .pdata"): field 6 alone, with its base's length only.
    const pdata = (m: hotpatch.Package.$Properties, rva: number): void => {
      const d = u(m).unwindDeltaImplicit!;
      u(m).unwindDeltaPdata = { ...d, base: { length: d.base!.length ?? 0, ...(rva === 0 ? {} : { rva }) } };
      u(m).unwindDeltaImplicit = null;
    };
    expect(decode((m) => pdata(m, 0))).toBe('decoded');
    expect(decode((m) => pdata(m, 0x2000))).toMatch(/PKG_INVALID: .*unwindDeltaPdata\.base: needs a length and no rva/);
    expect(decode((m) => {
      const d = u(m).unwindDeltaImplicit!;
      pdata(m, 0);
      u(m).unwindDelta = { ...d, implicitAddr32nb: [] };
    })).toMatch(/PKG_INVALID: .*unwindDeltaPdata beside unwindDelta or unwindDeltaImplicit/);
  });

  it('validation holds them to their rules', async () => {
    const { pkg } = await implicitPackage();
    const handler = { kind: 'addr32nb' as const, offset: 8, target: { kind: 'image' as const, rva: asRva(0x1e00) }, addend: 0n };
    const cases: Array<[Partial<Unwind>, RegExp]> = [
      [{ implicitAddr32nb: [4] }, /implicit ADDR32NB field at 4 is not inside one copy op/],
      [{ implicitAddr32nb: [14] }, /implicit ADDR32NB field at 14 is not inside one copy op of the 16-byte blob/],
      [{ implicitAddr32nb: [8, 10] }, /implicit ADDR32NB field at 10 overlaps the previous one/],
      [{ unwindFixups: [handler], implicitAddr32nb: [8] }, /implicit ADDR32NB field at 8 overlaps an unwind fixup/],
    ];
    for (const [patch, want] of cases) {
      const v = validatePackage(withUnwind(pkg, patch));
      expect(v.ok ? 'valid' : `${v.error.code}: ${v.error.message}`).toMatch(want);
    }
    const { infoDelta: _, ...literal } = pkg.codeBlocks[0]!.unwind!;
    const [b0, ...rest] = pkg.codeBlocks;
    const noDelta = validatePackage({ ...pkg, codeBlocks: [{ ...b0!, unwind: { ...literal, unwindInfo: new Uint8Array(16) } }, ...rest] });
    expect(noDelta.ok ? 'valid' : noDelta.error.message).toMatch(/implicit ADDR32NB fields without an unwind delta/);
  });
});
