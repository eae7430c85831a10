/**
 * Whole ops (format 2.9, FORMAT.md "Whole ops"): a delta that is one copy or one sealed add
 * over its whole result from base offset 0 writes `Delta.whole_op` instead of ops. On real
 * pairs from the corpus (bufferutil 4.0.8 -> 4.0.9: whole copies in code blocks and unwind
 * deltas; sharp 0.34.4 -> 0.34.5: whole sealed adds): the signed package carries whole ops on
 * the wire, loads as a runtime loads it, applies to the in-memory old image, passes the
 * compiler's verifier at the addresses used and reverts exactly. Each whole op moved on the
 * wire (the other kind, kind 3, none, the block's size - 1 or + 1) is refused by the decoder
 * or validation, or rejected by the verifier. Skipped, with the reason, when the corpus pair
 * is not in samples/real/cache.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, sealBuilt, verifyPackage, type ImageDiff } from '../compiler/index.ts';
import { decodePayload, encodePayload } from '../formats/codec.ts';
import { encodePackage, loadPackage } from '../formats/container.ts';
import { hotpatch } from '../formats/generated/hotpatch.js';
import type { HotpatchPackage } from '../formats/package.ts';
import { validatePackage } from '../formats/validate.ts';
import { benchKeys, corpusPairs } from '../bench/pairs.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { applyPackage, revertPackage } from '../runtime/apply/apply-package.ts';
import { fingerprint } from '../runtime/apply/testing/fixtures.ts';

type WireDelta = hotpatch.IDelta;
const blockDelta = (b: hotpatch.IBlockBytes | null | undefined): WireDelta | null | undefined => b?.delta ?? b?.deltaWithImplicitFixups ?? b?.deltaWithIntraRefs ?? b?.deltaWithMovedAbs64 ?? b?.deltaWithRefScan;
const unwindDelta = (u: hotpatch.IUnwind | null | undefined): WireDelta | null | undefined => u?.unwindDelta ?? u?.unwindDeltaImplicit ?? u?.unwindDeltaPdata;

/** Every delta of the wire message that writes a whole op, with a name. */
function wholeOps(m: hotpatch.Package): Array<{ what: string; d: WireDelta }> {
  const out: Array<{ what: string; d: WireDelta }> = [];
  const see = (what: string, d: WireDelta | null | undefined): void => void (d !== null && d !== undefined && (d.wholeOp ?? 0) !== 0 && out.push({ what, d }));
  m.codeBlocks.forEach((b, i) => {
    see(`code block ${i}`, blockDelta(b.bytes));
    see(`code block ${i} unwind`, unwindDelta(b.unwind));
  });
  m.dataBlocks.forEach((b, i) => see(`data block ${i}`, blockDelta(b.bytes)));
  return out;
}

const PAIRS = [
  { label: 'bufferutil-4.0.8-4.0.9', kinds: ['code block copy', 'unwind copy'] },
  { label: 'sharp-0.34.4-0.34.5', kinds: ['code block sealed add'] },
] as const;

for (const { label, kinds } of PAIRS) {
  const pair = corpusPairs().find((p) => p.label === label);
  const missing = pair === undefined ? 'not in the manifest' : pair.missing;
  describe.skipIf(missing !== null)(`whole ops on ${label}${missing === null ? '' : `: skipped, ${missing}`}`, () => {
    let diff: ImageDiff;
    let pkg: HotpatchPackage;
    const oldBytes = (): Uint8Array => new Uint8Array(readFileSync(pair!.oldPath));

    it(`the signed package writes ${kinds.join(' and ')} as whole ops, loads, applies to the old image, verifies at the addresses used and reverts exactly`, async () => {
      const d = diffFiles(oldBytes(), new Uint8Array(readFileSync(pair!.newPath)));
      if (!d.ok) throw new Error(d.error.message);
      diff = d.value;
      const b = buildFromDiff(diff, { moduleName: pair!.moduleName, skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
      if (!b.ok) throw new Error(`${b.error.code}: ${b.error.message}`);
      const s = await sealBuilt(b.value);
      if (!s.ok) throw new Error(`${s.error.code}: ${s.error.message}`);
      const built = s.value.emitted.pkg;
      const wire = hotpatch.Package.decode(encodePayload(built));
      const found = wholeOps(wire);
      const kindOf = (w: { what: string; d: WireDelta }): string => `${w.what.includes('unwind') ? 'unwind' : w.what.replace(/ \d+$/, '')} ${w.d.wholeOp === 1 ? 'copy' : 'sealed add'}`;
      for (const k of kinds) expect(found.map(kindOf), `a ${k} whole op`).toContain(k);
      // No ops and no columns beside a whole op.
      for (const w of found) expect([(w.d.ops ?? []).length, w.d.opColumns ?? null]).toEqual([0, null]);

      const { signingKey, publicKey } = await benchKeys();
      const file = await encodePackage(built, { signingKey });
      if (!file.ok) throw new Error(file.error.message);
      const loaded = await loadPackage(file.value, { trusted: [publicKey], allowUnsigned: false });
      if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}`);
      pkg = loaded.value.package;

      const img = loadProcessImage(oldBytes(), { name: pair!.moduleName });
      if (!img.ok) throw new Error(img.error.message);
      const backend = new MemoryBackend(img.value);
      const before = fingerprint(img.value);
      const r = await applyPackage(pkg, backend);
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
      const v = verifyPackage(diff, pkg, { imageBase: img.value.base, regionBase: r.value.plan.region.address });
      expect(v.ok ? 'verified' : `${v.error.code}: ${v.error.message}`).toBe('verified');
      expect((await revertPackage(r.value.plan, backend)).ok).toBe(true);
      expect(fingerprint(img.value)).toBe(before);
    }, 300_000);

    it('every whole op moved on the wire is refused or rejected by the verifier', () => {
      const moves: ReadonlyArray<readonly [string, (d: WireDelta) => void]> = [
        ['the other kind', (d) => void (d.wholeOp = d.wholeOp === 1 ? 5 : 1)],
        ['kind 3 (add)', (d) => void (d.wholeOp = 3)],
        ['removed', (d) => void (d.wholeOp = 0)],
        ['size - 1', (d) => void (d.size = (d.size ?? 0) - 1)],
        ['size + 1', (d) => void (d.size = (d.size ?? 0) + 1)],
      ];
      const count = wholeOps(hotpatch.Package.decode(encodePayload(pkg))).length;
      expect(count).toBeGreaterThan(0);
      const missed: string[] = [];
      let refused = 0;
      for (let i = 0; i < count; i++) {
        for (const [what, move] of moves) {
          const m = hotpatch.Package.decode(encodePayload(pkg));
          const w = wholeOps(m)[i]!;
          move(w.d);
          const back = decodePayload(hotpatch.Package.encode(m).finish());
          if (!back.ok || !validatePackage(back.value).ok) {
            refused++;
            continue;
          }
          if (verifyPackage(diff, back.value).ok) missed.push(`${w.what}: ${what}`);
        }
      }
      process.stdout.write(`whole ops (${label}): ${count * moves.length} wire mutations of ${count} whole ops, ${refused} refused at decoding or validation, ${count * moves.length - refused - missed.length} rejected by the verifier\n`);
      expect(missed).toEqual([]);
    }, 300_000);
  });
}
