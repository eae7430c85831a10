/**
 * Format 2.1 leaves out what the relied ranges already pin: a delta base's own SHA-256 and a
 * covered redirect site's expected bytes. On a real sample pair in the in-memory process image:
 * such a package still applies (through the container, as a file) and reads through to NEW;
 * built for another build whose bytes differ only inside the delta base, it is refused at the
 * relied-bytes hash with the same error its 2.0 form (hash and expected bytes written out) gets,
 * before any write; and a package handed to the planner unvalidated, whose left-out hash or
 * bytes nothing else pins, is refused before any write.
 */
import { describe, expect, it } from 'vitest';
import { asRva } from '../../common/types.ts';
import { encodePackage, loadPackage } from '../../formats/container.ts';
import { encodeDelta } from '../../formats/delta.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { mapImage } from '../pe/map-image.ts';
import { parsePe } from '../pe/parse-pe.ts';
import { sha256 } from '../pe/sha256.ts';
import { applyPackage } from './apply-package.ts';
import { checkThroughRedirects } from './testing/check-redirects.ts';
import { loadSample, refusedUntouched, sampleBytes } from './testing/fixtures.ts';
import { buildHandPackage } from './testing/hand-package.ts';

const v1 = sampleBytes('new-helper', 'v1.dll');
const v2 = sampleBytes('new-helper', 'v2.dll');

function must<T>(r: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** v1 mapped at its preferred base, with `flip` (an RVA) changed: another build of the module. */
function mappedOld(flip: number | null): Uint8Array {
  const pe = must(parsePe(v1));
  const img = must(mapImage(v1, pe.optionalHeader.imageBase)).slice();
  if (flip !== null) img[flip] = img[flip]! ^ 0x01;
  return img;
}

/** The changed function's old .pdata extent. */
function oldExtent(pkg: HotpatchPackage): { start: number; end: number } {
  const oldRva = pkg.functions[0]!.oldRva!;
  const rf = must(parsePe(v1)).exceptions.find((e) => e.beginAddress === oldRva);
  if (rf === undefined) throw new Error('no .pdata entry');
  return { start: rf.beginAddress, end: rf.endAddress };
}

/**
 * The hand-built package with the changed function stored as a delta against its old body
 * (read from `old`), which the relied ranges then cover (hash over `old`); in the 2.1 form the
 * base has no hash and the covered redirect site no expected bytes, in the 2.0 form both are
 * written out.
 */
function asDelta(form: '2.0' | '2.1', old: Uint8Array): HotpatchPackage {
  const pkg = buildHandPackage(v1, v2, { changed: ['average_percent'], added: ['clamp_percent'] });
  const { start, end } = oldExtent(pkg);
  const base = old.subarray(start, end);
  const first = pkg.codeBlocks[0]!;
  if (first.bytes.kind !== 'literal') throw new Error('literal expected');
  const bytes = { kind: 'delta' as const, base: { rva: asRva(start), length: end - start }, baseSha256: form === '2.0' ? sha256(base) : new Uint8Array(0), size: first.bytes.bytes.length, ops: encodeDelta(base, first.bytes.bytes) };
  const site = pkg.redirects[0]!;
  expect(site.oldRva).toBe(start);
  return {
    ...pkg,
    target: { ...pkg.target, reliedRanges: [{ rva: asRva(start), length: end - start }], reliedSha256: sha256(base) },
    codeBlocks: [{ ...first, bytes }, ...pkg.codeBlocks.slice(1)],
    redirects: [{ ...site, expected: form === '2.0' ? old.slice(start, start + 5) : new Uint8Array(0) }],
  };
}

/** Through the container: encoded (validated) and loaded back, as `hotpatch apply` gets it. */
async function viaFile(pkg: HotpatchPackage): Promise<HotpatchPackage> {
  const file = must(await encodePackage(pkg));
  return must(await loadPackage(file, { trusted: [], allowUnsigned: true })).package;
}

const refusal = (pkg: HotpatchPackage): Promise<string> => refusedUntouched(pkg);

describe('what the relied ranges cover needs no hash or copy of its own (format 2.1)', () => {
  it('a package without base hash and expected bytes applies, and reads through to NEW', async () => {
    const pkg = await viaFile(asDelta('2.1', mappedOld(null)));
    const b = pkg.codeBlocks[0]!.bytes;
    expect(b.kind === 'delta' && b.baseSha256.length).toBe(0);
    expect(pkg.redirects[0]!.expected.length).toBe(0);
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const r = await applyPackage(pkg, backend);
    if (!r.ok) throw new Error(r.error.message);
    expect(checkThroughRedirects(image, r.value.plan, v1, v2, ['average_percent'])).toEqual([]);
    // The redirect's undo bytes are the site's original bytes, taken from the checked image.
    const { start } = oldExtent(pkg);
    expect(r.value.plan.redirects[0]!.writes[0]!.original).toEqual(mappedOld(null).slice(start, start + 5));
  });

  it('built for another build whose bytes differ inside the delta base only: refused at the relied hash, as the 2.0 form is', async () => {
    const { start } = oldExtent(asDelta('2.1', mappedOld(null)));
    const other = mappedOld(start + 8);
    const msg21 = await refusal(await viaFile(asDelta('2.1', other)));
    const msg20 = await refusal(await viaFile(asDelta('2.0', other)));
    expect(msg21).toMatch(/^PLAN_IDENTITY: package is for another build: relied-on bytes hash /);
    expect(msg21).toBe(msg20);
  });

  it('a site that differs right at the entry is refused at the relied hash too (no expected bytes to compare)', async () => {
    const { start } = oldExtent(asDelta('2.1', mappedOld(null)));
    expect(await refusal(await viaFile(asDelta('2.1', mappedOld(start))))).toMatch(/^PLAN_IDENTITY: package is for another build: relied-on bytes hash /);
  });

  it('unvalidated, a base without hash outside the relied ranges is refused before any write', async () => {
    const pkg = asDelta('2.1', mappedOld(null));
    const site = pkg.redirects[0]!;
    const uncovered = { ...pkg, target: { ...pkg.target, reliedRanges: [], reliedSha256: new Uint8Array(0) }, redirects: [{ ...site, expected: mappedOld(null).slice(site.oldRva, site.oldRva + 5) }] };
    expect(await refusal(uncovered)).toMatch(/^PLAN_PACKAGE: code block 0: delta base 0x[0-9a-f]+\+\d+ has no hash and is not covered by the relied ranges$/);
  });

  it('unvalidated, a redirect without expected bytes outside the relied ranges is refused before any write', async () => {
    const pkg = buildHandPackage(v1, v2, { changed: ['average_percent'], added: ['clamp_percent'] });
    const site = pkg.redirects[0]!;
    const bare = { ...pkg, target: { ...pkg.target, reliedRanges: [], reliedSha256: new Uint8Array(0) }, redirects: [{ ...site, expected: new Uint8Array(0) }] };
    expect(await refusal(bare)).toMatch(/^PLAN_PACKAGE: redirect site 0x[0-9a-f]+: no expected bytes, and the relied ranges do not cover it$/);
  });
});
