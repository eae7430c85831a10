/**
 * Implied delta bases (format 2.7, FORMAT.md "Implied delta bases"): a changed function stored
 * as a delta of its old body leaves the delta's base to its function record. On a compiled
 * sample (inline-fix, GCC, a real PE): the wire has no base, the record writes its old size,
 * the decoder gives back exactly the package the compiler verified, the package loads and
 * verifies signed, and every way the base cannot be implied is refused (PKG_INVALID).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, sealBuilt, verifyPackage } from '../compiler/index.ts';
import { decodePayload, encodePayload } from '../formats/codec.ts';
import { encodePackage, loadPackage } from '../formats/container.ts';
import { hotpatch } from '../formats/generated/hotpatch.js';
import { packageToJson } from '../formats/json.ts';
import { FORMAT_MINOR } from '../formats/package.ts';
import { validatePackage } from '../formats/validate.ts';
import { benchKeys } from '../bench/pairs.ts';
import { scenarioDll } from '../samples/scenarios.ts';

const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll('inline-fix', v)));
const diff = diffFiles(read('v1'), read('v2'));
if (!diff.ok) throw new Error(diff.error.message);
const built = buildFromDiff(diff.value, { moduleName: 'inline-fix.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
if (!built.ok) throw new Error(built.error.message);
const pkg = built.value.emitted.pkg;
const deltaOf = (b: hotpatch.IBlockBytes | null | undefined): hotpatch.IDelta | null | undefined => b?.delta ?? b?.deltaWithImplicitFixups ?? b?.deltaWithIntraRefs ?? b?.deltaWithMovedAbs64 ?? b?.deltaWithRefScan;
const wire = (): hotpatch.Package => hotpatch.Package.decode(encodePayload(pkg));
/** The index of the code block written without a base, and its record's on the wire. */
const implied = (m: hotpatch.Package): { block: number; record: number } => {
  const block = m.codeBlocks.findIndex((b) => { const d = deltaOf(b.bytes); return d !== null && d !== undefined && (d.base === null || d.base === undefined); });
  const id = m.codeBlocks[block]?.id ?? 0;
  const record = pkg.functions.findIndex((f) => f.status === 'changed' && f.blockId === id) + 1;
  return { block, record };
};
const refusal = (m: hotpatch.Package): string => {
  const r = decodePayload(hotpatch.Package.encode(m).finish());
  return r.ok ? 'decoded' : `${r.error.code}: ${r.error.message}`;
};

describe('implied delta bases (format 2.7)', () => {
  it('the compiled package leaves its delta base to the record, which writes its old size; it decodes back exactly and verifies', async () => {
    const m = wire();
    const { block, record } = implied(m);
    expect(block).toBeGreaterThanOrEqual(0);
    expect(m.functions[0]).toEqual({ status: 1 });
    const b = pkg.codeBlocks[block]!.bytes;
    if (b.kind !== 'delta') throw new Error('not a delta');
    const f = pkg.functions[record - 1]!;
    expect([b.base.rva, b.base.length]).toEqual([f.oldRva, f.oldSize]);
    expect(m.functions[record]!.oldSize).toBe(f.oldSize);
    const back = decodePayload(encodePayload(pkg));
    if (!back.ok) throw new Error(back.error.message);
    expect(packageToJson(back.value)).toEqual(packageToJson(pkg));
    expect(validatePackage(back.value).ok).toBe(true);
    expect(verifyPackage(diff.value, back.value).ok).toBe(true);
    // Signed, loaded as a runtime loads it: the same package.
    const sealed = await sealBuilt(built.value);
    if (!sealed.ok) throw new Error(sealed.error.message);
    const { signingKey, publicKey } = await benchKeys();
    const file = await encodePackage(sealed.value.emitted.pkg, { signingKey });
    if (!file.ok) throw new Error(file.error.message);
    expect(file.value[4]).toBe(FORMAT_MINOR); // header minor: the writer this test runs (implied bases since 7)
    const loaded = await loadPackage(file.value, { trusted: [publicKey], allowUnsigned: false });
    if (!loaded.ok) throw new Error(loaded.error.message);
    expect(packageToJson(loaded.value.package)).toEqual(packageToJson(sealed.value.emitted.pkg));
  });

  it('a base that cannot be implied is refused: no marker, no changed record, two records, old size 0, a data block, duplicate ids', () => {
    const noMarker = wire();
    noMarker.functions.shift();
    expect(refusal(noMarker)).toMatch(/^PKG_INVALID: .*base is missing/);
    const noRecord = wire();
    const r0 = implied(noRecord);
    noRecord.functions.splice(r0.record, 1);
    expect(refusal(noRecord)).toMatch(/^PKG_INVALID: .*(no changed function record names block|block_step)/);
    const added = wire();
    const r1 = implied(added);
    added.functions[r1.record]!.status = hotpatch.FunctionStatus.FUNCTION_STATUS_ADDED;
    added.functions[r1.record]!.oldRva = 0;
    added.functions[r1.record]!.newRva = 0x1000;
    expect(refusal(added)).toMatch(/^PKG_INVALID: .*no changed function record names block/);
    const sizeZero = wire();
    sizeZero.functions[implied(sizeZero).record]!.oldSize = 0;
    expect(refusal(sizeZero)).toMatch(/^PKG_INVALID: .*old size is 0/);
    const twice = wire();
    const r2 = implied(twice);
    const dup = { ...twice.functions[r2.record]!, blockStep: -1, shiftChange: 0, name: 'again' } as hotpatch.FunctionRecord;
    twice.functions.splice(r2.record + 1, 0, dup);
    expect(refusal(twice)).toMatch(/^PKG_INVALID: .*two or more changed function records name block/);
    const data = wire();
    const d = data.codeBlocks[implied(data).block]!;
    data.dataBlocks.push({ id: 99, alignment: 8, bytes: d.bytes } as hotpatch.DataBlock);
    expect(refusal(data)).toMatch(/^PKG_INVALID: dataBlocks\[\d+\]\.bytes.*base is missing/);
    const sameId = wire();
    const s = sameId.codeBlocks[implied(sameId).block]!;
    sameId.codeBlocks.push({ id: s.id, bytes: s.bytes } as hotpatch.CodeBlock);
    expect(refusal(sameId)).toMatch(/^PKG_INVALID: .*not unique/);
  });
});
