/**
 * Format 1.1 and 1.3 packages still load: the golden packages as the 1.1 writer encoded them
 * (formats/golden/v1.1/, header minor 1, explicit baseline ids, no implicit fixups) and as
 * the 1.3 writer did (formats/golden/v1.3/, one Fixup message per fixup, relied_ranges as
 * RvaRange messages) load, verify and decode to the JSON committed with them. These files
 * are frozen: never regenerated.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPackage, readHeader } from './container.ts';
import { importPublicKey } from './keys.ts';
import { packageToJson } from './json.ts';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));

describe.each([1, 3])('format 1.%i packages', (minor) => {
  const dir = fileURLToPath(new URL(`./golden/v1.${minor}/`, import.meta.url));
  for (const [name, signed] of [['minimal', false], ['full', true]] as const) {
    it(`${name}: a 1.${minor} file loads and decodes to its 1.${minor} JSON`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, `${name}.hpk`)));
      const h = readHeader(bytes);
      if (!h.ok) throw new Error(h.error.message);
      expect([h.value.major, h.value.minor]).toEqual([1, minor]);
      const key = await importPublicKey(readFileSync(join(GOLDEN, 'test-signing.pub'), 'utf8'));
      if (!key.ok) throw new Error(key.error.message);
      const loaded = await loadPackage(bytes, { trusted: [key.value], allowUnsigned: !signed });
      if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}`);
      expect(packageToJson(loaded.value.package)).toEqual(JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')));
    });
  }
});
