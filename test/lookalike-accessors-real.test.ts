/**
 * Look-alike functions pair by the TypeDescriptor they reference, not by order: couchbase
 * 4.6.0 -> 4.7.0 (samples/real; skipped with the reason when the cache lacks it). MSVC emits
 * one std::function `target_type` accessor per wrapped type, `lea rax, [TypeDescriptor]; ret`,
 * laid out by the types' decorated names; 4.7.0 inserts lambdas. Paired by neighbours, old
 * 0x4f47d0 (`wrapper<lambda_0064d462...>`) landed on new 0x576fe0 (`lambda_00525aa6...`, a
 * type 4.6.0 does not have) while new 0x576ff0 returns `lambda_0064d462...`: with the
 * descriptors paired by name, a redirect would make an old wrapper report another lambda's
 * type_info (the s16sizew revert, ad7f484). match/name-evidence.ts pairs them by name.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import type { ImageAnalysis } from '../compiler/match/analyze-image.ts';
import { typeDescriptorName } from '../compiler/image/type-descriptors.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'couchbase-4.6.0-4.7.0');
const paths = pair === undefined ? null : [cachePath(pair.old), cachePath(pair.new)];
const unavailable = paths === null ? 'pair not in samples/real/manifest.json' : paths.some((p) => !existsSync(p)) ? 'couchbase 4.6.0 / 4.7.0 not in samples/real/cache (run npm run samples:fetch)' : undefined;

/** The decorated name function `i` returns when it is `lea rax, [TypeDescriptor]; ret`, else null. */
function accessorType(a: ImageAnalysis, i: number): string | null {
  const f = a.fns.functions[i]!;
  const { insns, refs } = f.decoded;
  const b = a.img.image;
  if (insns.length !== 2 || b[f.entry] !== 0x48 || b[f.entry + 1] !== 0x8d || b[f.entry + 2] !== 0x05 || b[f.entry + 7] !== 0xc3) return null;
  const d = refs.length === 1 ? a.itemAt(refs[0]!.target) : undefined;
  return d === undefined || !d.writable ? null : typeDescriptorName(a.img, d.start, d.end);
}

describe.skipIf(unavailable !== undefined)(`look-alike accessors pair by the type they return${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('old 0x4f47d0 pairs with new 0x576ff0 (same lambda), unchanged; no accessor pair contradicts a name both builds have', { timeout: 900_000 }, () => {
    const d = diffFiles(new Uint8Array(readFileSync(paths![0]!)), new Uint8Array(readFileSync(paths![1]!)));
    if (!d.ok) throw new Error(d.error.message);
    const m = d.value.match;
    const oldAt = m.old.fns.byEntry.get(0x4f47d0)!;
    const newSame = m.new.fns.byEntry.get(0x576ff0)!;
    const newOther = m.new.fns.byEntry.get(0x576fe0)!;
    const name = accessorType(m.old, oldAt.index);
    expect(name).toMatch(/^\.\?AU\?\$wrapper@V<lambda_0064d462447bc426c0c945e0aa3a1ba6>/);
    expect(accessorType(m.new, newSame.index)).toBe(name);
    expect(accessorType(m.new, newOther.index)).toMatch(/<lambda_00525aa67ba78d49c19f3b703b2f5918>/);
    expect(m.fnOldToNew[oldAt.index]).toBe(newSame.index);
    expect(m.fnNewToOld[newOther.index]).not.toBe(oldAt.index);
    const change = d.value.functions.find((f) => f.oldRva === 0x4f47d0)!;
    expect([change.newRva, change.status]).toEqual([0x576ff0, 'unchanged']);

    // The class: every paired accessor returns the same type, or a type neither build shares.
    const names = (a: ImageAnalysis): Set<string> => new Set(a.fns.functions.map((f) => accessorType(a, f.index)).filter((x): x is string => x !== null));
    const oldNames = names(m.old);
    const newNames = names(m.new);
    const contradicting: string[] = [];
    let accessors = 0;
    m.fnOldToNew.forEach((n, o) => {
      if (n < 0) return;
      const on = accessorType(m.old, o);
      const nn = accessorType(m.new, n);
      if (on === null || nn === null) return;
      accessors++;
      if (on !== nn && (newNames.has(on) || oldNames.has(nn))) contradicting.push(`old 0x${m.old.fns.functions[o]!.entry.toString(16)} -> new 0x${m.new.fns.functions[n]!.entry.toString(16)}`);
    });
    expect(accessors).toBeGreaterThan(500);
    expect(contradicting).toEqual([]);
  });
});
