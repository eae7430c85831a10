/**
 * Round trip over random valid packages (fast-check): encodePackage then loadPackage gives
 * back the same model, signed and unsigned, and encoding is deterministic. Also: every
 * package the compiler builds from the sample pairs passes the same round trip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePackage, loadPackage } from './container.ts';
import { validatePackage } from './validate.ts';
import { arbitraryPackage } from './testing/arbitrary.ts';
import { goldenKeys } from './testing/wrap.ts';
import { buildPackage } from '../compiler/index.ts';
import { expectationOf, readScenarios } from '../samples/scenarios.ts';

const keys = await goldenKeys();

describe('package round trip', () => {
  it('arbitrary valid packages validate (the generator is sound)', () => {
    fc.assert(
      fc.property(arbitraryPackage(), (p) => {
        const v = validatePackage(p);
        expect(v.ok ? 'ok' : v.error.message).toBe('ok');
      }),
      { numRuns: 200 },
    );
  });

  it('encode -> load returns the same package, signed or not (property)', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryPackage(), fc.boolean(), async (p, signed) => {
        const enc = await encodePackage(p, signed ? { signingKey: keys.signing } : {});
        if (!enc.ok) throw new Error(`${enc.error.code}: ${enc.error.message}`);
        const again = await encodePackage(p, signed ? { signingKey: keys.signing } : {});
        expect(again.ok && Buffer.from(again.value).equals(Buffer.from(enc.value))).toBe(true);
        const l = await loadPackage(enc.value, { trusted: [keys.trusted], allowUnsigned: !signed });
        if (!l.ok) throw new Error(`${l.error.code}: ${l.error.message}`);
        expect(l.value.signature.status).toBe(signed ? 'verified' : 'unsigned');
        expect(l.value.package).toEqual(p);
        expect(l.value.sizes.file).toBe(enc.value.length);
      }),
      { numRuns: 150 },
    );
  });

  it('packages the compiler builds from the sample pairs round-trip', async () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    let built = 0;
    for (const s of readScenarios().filter((x) => x.expect === 'hotpatchable')) {
      for (const step of s.steps) {
        // A known miss of the compiler (gcc, with symbols) is refused, not built.
        if (expectationOf(s, step, 'gcc', false).expect === 'refused') continue;
        const a = new Uint8Array(readFileSync(join(root, 'samples/bin', s.name, `${step.from}.dll`)));
        const b = new Uint8Array(readFileSync(join(root, 'samples/bin', s.name, `${step.to}.dll`)));
        const r = buildPackage(a, b, { moduleName: `${s.name}.dll`, skipRefused: false, series: null, compilerVersion: 'formats-test' });
        if (!r.ok) throw new Error(`${s.name} ${step.from}->${step.to}: ${r.error.code}: ${r.error.message}`);
        const pkg = r.value.emitted.pkg;
        const enc = await encodePackage(pkg, { signingKey: keys.signing });
        if (!enc.ok) throw new Error(`${s.name}: ${enc.error.code}: ${enc.error.message}`);
        const l = await loadPackage(enc.value, { trusted: [keys.trusted], allowUnsigned: false });
        if (!l.ok) throw new Error(`${s.name}: ${l.error.code}: ${l.error.message}`);
        expect(l.value.package).toEqual(pkg);
        built++;
      }
    }
    expect(built).toBeGreaterThanOrEqual(8);
  });
});
