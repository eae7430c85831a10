/**
 * An image-relative RVA field of MSVC throw data names the structure its role says, never the
 * end of the global before it, in the verifier as in the planner: 7za 5.1.1 -> 5.2.0
 * (samples/real; skipped with the reason when the cache lacks it). NEW's added function 0x237b4
 * throws with the ThrowInfo at .rdata 0x11a698 (lea at +0x354), whose CatchableType 0x11a630
 * has pType -> `.?AVUString@@` (NEW .data 0x11c6b0, OLD 0x109618, paired by decorated name).
 * The planner places the throw data at OLD's copy of equal content, whose pType names OLD's
 * descriptor. The verifier also read that RVA as a possible end pointer of NEW's unpaired
 * 8-byte global before the descriptor (0x11c6a8; OLD has a 1-byte one before its descriptor)
 * and failed the whole --skip-refused package (BUILD_VERIFY_FAILED), although the C++ runtime
 * only ever reads pType as a TypeDescriptor. An address taken as a value (a `lea`) of the same
 * descriptor stays ambiguous and is still refused that way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, DEFAULT_VERIFY_LAYOUT, diffFiles } from '../compiler/index.ts';
import { PaperImage } from '../compiler/verify/paper-image.ts';
import { TargetChecker } from '../compiler/verify/check-target.ts';
import type { ImageDiff } from '../compiler/diff/types.ts';
import type { DataItem } from '../compiler/image/types.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { openForPaper } from './support/paper-package.ts';

const pair = realPairs().find((p) => p.label === '7za-5.1.1-5.2.0');
const paths = pair === undefined ? null : [cachePath(pair.old), cachePath(pair.new)];
const unavailable = paths === null ? 'pair not in samples/real/manifest.json' : paths.some((p) => !existsSync(p)) ? '7za 5.1.1 / 5.2.0 not in samples/real/cache (run npm run samples:fetch)' : undefined;

/** The OLD read-only items whose content key equals NEW item `n`'s (what the planner reuses). */
function oldCopies(d: ImageDiff, n: DataItem): DataItem[] {
  const m = d.match;
  const key = m.newNorm.itemKey(n, 'exact');
  return m.old.items.filter((o) => !o.writable && o.end - o.start === n.end - n.start && m.oldNorm.itemKey(o, 'exact') === key);
}

describe.skipIf(unavailable !== undefined)(`MSVC throw data RVA fields name their structure${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('the --skip-refused package carrying a function that throws a paired type verifies; a value reading stays strict', () => {
    const d = diffFiles(new Uint8Array(readFileSync(paths![0]!)), new Uint8Array(readFileSync(paths![1]!)));
    if (!d.ok) throw new Error(d.error.message);
    const m = d.value.match;
    // The shape the fix is about: pType -> a paired descriptor, after an unpaired global
    // whose OLD neighbour has another size.
    expect(m.new.rvaFields.get(0x11a634)).toBe(0x11c6b0);
    const td = m.new.itemAt(0x11c6b0)!;
    const oldTd = m.old.items[m.itemNewToOld[td.index]!]!;
    expect(oldTd.start).toBe(0x109618);
    const before = m.new.items[td.index - 1]!;
    expect([before.writable, before.end, m.itemNewToOld[before.index]]).toEqual([true, 0x11c6b0, -1]);
    const oldBefore = m.old.items[oldTd.index - 1]!;
    expect(oldBefore.end - oldBefore.start).not.toBe(before.end - before.start);

    const b = buildFromDiff(d.value, { moduleName: '7za.exe', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) throw new Error(b.error.message);
    const pkg = openForPaper(b.value.emitted.pkg, m.old.img.image);
    expect(pkg.functions.some((f) => f.newRva === 0x237b4)).toBe(true);

    const paper = PaperImage.build(m.old.img, pkg, DEFAULT_VERIFY_LAYOUT);
    if (!paper.ok) throw new Error(paper.error.message);
    const base = paper.value.imageBase;
    const checker = (): TargetChecker => new TargetChecker(d.value, pkg, paper.value, new Map(), new Set());
    const throwInfo = oldCopies(d.value, m.new.itemAt(0x11a698)!);
    expect(throwInfo.length).toBeGreaterThan(0);
    expect(checker().check(0x11a698, base + BigInt(throwInfo[0]!.start), 'lea rdx').ok).toBe(true);
    // As a value, the descriptor's start may be the end of the global before it: refused.
    const asValue = checker().check(0x11c6b0, base + 0x109618n, 'lea rcx');
    expect(asValue.ok ? '' : asValue.error.message).toMatch(/is not the end of an unmatched old global/);
    // A field still has to reach the right structure: OLD's copy of the other CatchableType
    // (0x11a658, pType -> CMessagePathException) is no image of 0x11a630.
    const other = oldCopies(d.value, m.new.itemAt(0x11a658)!);
    expect(other.length).toBeGreaterThan(0);
    const wrong = checker().check(0x11a630, base + BigInt(other[0]!.start), 'catchable type');
    expect(wrong.ok).toBe(false);
  }, 240_000);
});
