/**
 * Format 1.1 packages still load: the golden packages as the 1.1 writer encoded them
 * (formats/golden/v1.1/, header minor 1, explicit baseline ids, no implicit fixups) load,
 * verify and decode to the JSON committed with them. These files are frozen: never
 * regenerated.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPackage, readHeader } from './container.ts';
import { importPublicKey } from './keys.ts';
import { packageToJson } from './json.ts';

const V11 = fileURLToPath(new URL('./golden/v1.1/', import.meta.url));
const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));

describe('format 1.1 packages', () => {
  for (const [name, signed] of [['minimal', false], ['full', true]] as const) {
    it(`${name}: a 1.1 file loads and decodes to its 1.1 JSON`, async () => {
      const bytes = new Uint8Array(readFileSync(join(V11, `${name}.hpk`)));
      const h = readHeader(bytes);
      if (!h.ok) throw new Error(h.error.message);
      expect([h.value.major, h.value.minor]).toEqual([1, 1]);
      const key = await importPublicKey(readFileSync(join(GOLDEN, 'test-signing.pub'), 'utf8'));
      if (!key.ok) throw new Error(key.error.message);
      const loaded = await loadPackage(bytes, { trusted: [key.value], allowUnsigned: !signed });
      if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}`);
      expect(packageToJson(loaded.value.package)).toEqual(JSON.parse(readFileSync(join(V11, `${name}.json`), 'utf8')));
    });
  }
});
