/**
 * Golden packages: the hand-built samples (formats/testing/sample-packages.ts) encode to the
 * committed .hpk bytes exactly (the encoding is deterministic, Ed25519 signatures included),
 * and the committed .hpk files load and decode to the committed JSON. Regenerate with
 * UPDATE_GOLDEN=1 after a deliberate format change (and add a FORMAT.md changelog entry).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodePackage, loadPackage } from './container.ts';
import { importPublicKey, importSigningKey, type PublicKey, type SigningKey } from './keys.ts';
import { packageToJson } from './json.ts';
import type { HotpatchPackage } from './package.ts';
import { fullPackage, minimalPackage, quiescentPackage, sealedPackage, unwindRefPackage } from './testing/sample-packages.ts';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

async function testKeys(): Promise<{ signing: SigningKey; trusted: PublicKey }> {
  const s = await importSigningKey(readFileSync(join(GOLDEN, 'test-signing.key'), 'utf8'));
  const p = await importPublicKey(readFileSync(join(GOLDEN, 'test-signing.pub'), 'utf8'));
  if (!s.ok || !p.ok) throw new Error('golden test key does not load');
  return { signing: s.value, trusted: p.value };
}

const CASES: ReadonlyArray<{ name: string; build: () => Promise<HotpatchPackage>; signed: boolean }> = [
  { name: 'minimal', build: minimalPackage, signed: false },
  { name: 'full', build: fullPackage, signed: true },
  // Format 2.2: the full package with two blocks sealed against the old image.
  { name: 'sealed', build: sealedPackage, signed: true },
  // Format 2.3: the full package with block 0's unwind info by reference to old-image bytes.
  { name: 'unwind-ref', build: unwindRefPackage, signed: true },
  // Format 2.4: the full package with parse_port's old body as a quiescent range.
  { name: 'quiescent', build: quiescentPackage, signed: true },
];

describe('golden packages', () => {
  for (const c of CASES) {
    it(`${c.name}: encodes to the committed bytes and decodes to the committed JSON`, async () => {
      const keys = await testKeys();
      const pkg = await c.build();
      const enc = await encodePackage(pkg, c.signed ? { signingKey: keys.signing } : {});
      if (!enc.ok) throw new Error(`${enc.error.code}: ${enc.error.message}`);
      const hpk = join(GOLDEN, `${c.name}.hpk`);
      const json = join(GOLDEN, `${c.name}.json`);
      if (UPDATE || !existsSync(hpk)) {
        if (!UPDATE) throw new Error(`${hpk} is missing; run with UPDATE_GOLDEN=1 to create it`);
        writeFileSync(hpk, enc.value);
        writeFileSync(json, `${JSON.stringify(packageToJson(pkg), null, 2)}\n`);
      }
      const committed = new Uint8Array(readFileSync(hpk));
      expect(Buffer.from(enc.value).toString('hex')).toBe(Buffer.from(committed).toString('hex'));

      const loaded = await loadPackage(committed, { trusted: [keys.trusted], allowUnsigned: !c.signed });
      if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}`);
      expect(loaded.value.signature.status).toBe(c.signed ? 'verified' : 'unsigned');
      expect(loaded.value.package).toEqual(pkg);
      expect(packageToJson(loaded.value.package)).toEqual(JSON.parse(readFileSync(json, 'utf8')));
    });
  }
});
