/**
 * Sealed delta ops (format 2.2, FORMAT.md "Sealed bytes"): sealPackageWith moves a delta
 * block's literal ops into the frame (an add op holding an implicit field stays as it is),
 * unsealPackage gives back exactly the ops it was made of, and a delta that still holds a
 * sealed op is never applied. An implicit field may lie in a sealed add; since 2.4 an add that
 * edits it makes it a placed field, whose value is read from the result once the frame is decoded.
 */
import { describe, expect, it } from 'vitest';
import { asRva } from '../common/types.ts';
import { applyDelta } from './delta.ts';
import type { Fixup, HotpatchPackage, StoredOp } from './package.ts';
import { gather } from './delta-index.ts';
import { impliedFixups } from './implicit-fixups.ts';
import { baseRanges, materialiseDelta } from './intra-refs.ts';
import { sealPackageWith, unsealPackage } from './seal.ts';
import { checkBudget, sealedLength } from './validate.ts';
import { fullPackage, oldImage, sealedPackage, withAddOverImplicit } from './testing/sample-packages.ts';

describe('sealed delta ops', () => {
  it('unsealing the sealed golden package gives back the delta ops of the full package', async () => {
    const full = await fullPackage();
    const sealed = await sealedPackage();
    const d = sealed.codeBlocks[0]!.bytes;
    if (d.kind !== 'delta') throw new Error('delta block expected');
    expect(d.ops.filter((op) => op.kind === 'sealed-literal').length).toBeGreaterThan(0);
    expect(d.ops.some((op) => op.kind === 'literal')).toBe(false);
    const back = unsealPackage(sealed, oldImage());
    if (!back.ok) throw new Error(back.error.message);
    expect(back.value.codeBlocks[0]!.bytes).toEqual(full.codeBlocks[0]!.bytes);
  });

  it('applyDelta refuses a delta that still holds a sealed op', () => {
    const r = applyDelta(new Uint8Array(8), [{ kind: 'copy', offset: 0, length: 4 }, { kind: 'sealed-literal', length: 2 }]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('ops[1] is sealed');
  });

  it('an add holding an implicit field is sealed; an add that edits the field makes it a placed field (2.4), read from the result', async () => {
    const dict = [{ rva: asRva(0x1100), length: 0x80 }];
    // The synthetic old fields made real: a rel32 at 0x1140 to 0x100 bytes ahead, an abs64 at
    // 0x1144 to RVA 0x2000 (at the package's ImageBase), so both targets lie in the image.
    const img = oldImage();
    const full = await withAddOverImplicit(0);
    new DataView(img.buffer, img.byteOffset).setInt32(0x1140, 0x100, true);
    new DataView(img.buffer, img.byteOffset).setBigUint64(0x1144, full.target.imageBase + 0x2000n, true);
    const implied = async (edit: number): Promise<Fixup[]> => {
      const sealed = await sealPackageWith(await withAddOverImplicit(edit), img, dict, () => true);
      if (!sealed.ok) throw new Error(sealed.error.message);
      const d = sealed.value.codeBlocks[0]!.bytes;
      expect(d.kind === 'delta' && d.ops.some((op) => op.kind === 'sealed-add')).toBe(true);
      const open = unsealPackage(sealed.value, img);
      if (!open.ok) throw new Error(open.error.message);
      const b = open.value.codeBlocks[0]!.bytes;
      if (b.kind !== 'delta') throw new Error('delta block expected');
      const base = gather(img, baseRanges(b))!;
      const result = materialiseDelta(b, base);
      if (!result.ok) throw new Error(result.error.message);
      const f = impliedFixups(b, result.value, open.value.target.imageBase, open.value.target.sizeOfImage);
      if (!f.ok) throw new Error(f.error.message);
      return f.value;
    };
    // A 2.3 reader refused the edited add (the field was not copied); since 2.4 the field's
    // value is the result's, so the edit moves the derived target by one byte: the package
    // says so, signed, and the verifier proves every such field against NEW.
    const [copied, edited] = [await implied(0), await implied(1)];
    const at = (fs: Fixup[]): number => { const t = fs.find((x) => x.offset === 0x40)?.target; return t?.kind === 'image' ? t.rva : -1; };
    expect(at(copied)).toBe(0x1140 + 4 + 0x100);
    expect(at(edited)).toBe(at(copied) + 1);
  });

  it('a sealed op whose length runs past its delta (an unvalidated package) is refused before the frame is allocated', async () => {
    // Found by the fuzz harness's planner surface (sealed seeds): a delta of a few hundred
    // bytes whose last sealed op declared 2^31 - 1 bytes, and a frame declaring that sum, made
    // unsealPackage allocate 2 GiB: the budget counted the delta's size, not its sealed ops.
    const sealed = await sealedPackage();
    const b = sealed.codeBlocks[0]!;
    if (b.bytes.kind !== 'delta') throw new Error('delta block expected');
    const at = b.bytes.ops.findIndex((op) => op.kind === 'sealed-literal');
    const ops = b.bytes.ops.map((op, k): StoredOp => (k === at ? { kind: 'sealed-literal', length: 0x7fff_ffff } : op));
    const grown: HotpatchPackage = { ...sealed, codeBlocks: [{ ...b, bytes: { ...b.bytes, ops } }, ...sealed.codeBlocks.slice(1)] };
    const total = sealedLength(grown);
    const frame = new Uint8Array(13 + 3);
    new DataView(frame.buffer).setUint32(0, 0xfd2fb528, true);
    frame[4] = 0xe0; // 8-byte Frame_Content_Size, single segment
    new DataView(frame.buffer).setBigUint64(5, BigInt(total), true);
    frame.set([1, 0, 0], 13); // one empty last raw block
    const r = unsealPackage({ ...grown, sealed: { ...sealed.sealed!, frame } }, oldImage());
    expect(r.ok ? 'unsealed' : r.error.code).toBe('PKG_BOMB');
    expect(checkBudget(grown).ok).toBe(false);
    expect(checkBudget(sealed).ok).toBe(true);
  });
});
