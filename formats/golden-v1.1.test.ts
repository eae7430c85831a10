/**
 * Format 1.x packages still load: the golden packages as the 1.1 writer encoded them
 * (formats/golden/v1.1/, header minor 1, explicit baseline ids, no implicit fixups) and as
 * the last 1.x writer, 1.3, encoded them (formats/golden/v1.3/: the 32-byte header, every
 * field written out) load, verify and decode to the JSON committed with them; so do the 2.0
 * writer's (formats/golden/v2.0/: the compact header, every delta base with its hash, every
 * redirect with its expected bytes, every unwind entry with its end offset), and the 2.1
 * writer's (formats/golden/v2.1/: no sealed bytes, header minor 1), the 2.2 writer's
 * (formats/golden/v2.2/: sealed bytes, no unwind by reference, header minor 2), and the 2.3
 * writer's (formats/golden/v2.3/: unwind by reference, op columns, no quiescent ranges,
 * header minor 3), and the 2.4 writer's (formats/golden/v2.4/: quiescent ranges, no moved
 * absolute fields, header minor 4), and the 2.5 writer's (formats/golden/v2.5/: moved absolute
 * fields, no scanned references, header minor 5), and the 2.6 writer's (formats/golden/v2.6/:
 * scanned references, every delta base written, header minor 6), and the 2.7 writer's
 * (formats/golden/v2.7/: implied delta bases, 32-byte relied hashes, header minor 7), and the 2.8
 * writer's (formats/golden/v2.8/: no whole ops, unwind bases from .pdata, no scanned literal references,
 * header minor 8). These files are frozen: never regenerated.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPackage, readHeader } from './container.ts';
import { importPublicKey } from './keys.ts';
import { packageToJson } from './json.ts';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));

describe('format 1.x, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7 and 2.8 packages', () => {
  const cases = [[1, 1], [1, 3], [2, 0], [2, 1], [2, 2], [2, 3], [2, 4], [2, 5], [2, 6], [2, 7], [2, 8]] as const;
  const names = (minor: number): ReadonlyArray<readonly [string, boolean]> => [['minimal', false], ['full', true], ...(minor >= 2 ? [['sealed', true] as const] : []), ...(minor >= 3 ? [['unwind-ref', true] as const] : []), ...(minor >= 4 ? [['quiescent', true] as const] : [])];
  for (const [major, minor] of cases) for (const [name, signed] of names(major === 2 ? minor : 0)) {
    it(`${name}: a ${major}.${minor} file loads and decodes to its ${major}.${minor} JSON`, async () => {
      const V1 = join(GOLDEN, `v${major}.${minor}`);
      const bytes = new Uint8Array(readFileSync(join(V1, `${name}.hpk`)));
      const h = readHeader(bytes);
      if (!h.ok) throw new Error(h.error.message);
      expect([h.value.major, h.value.minor]).toEqual([major, minor]);
      // Format 1: the fixed 32-byte header; format 2: the compact one (7 to 18 bytes).
      expect(major === 1 ? h.value.headerLength === 32 : h.value.headerLength >= 7 && h.value.headerLength <= 18).toBe(true);
      const key = await importPublicKey(readFileSync(join(GOLDEN, 'test-signing.pub'), 'utf8'));
      if (!key.ok) throw new Error(key.error.message);
      const loaded = await loadPackage(bytes, { trusted: [key.value], allowUnsigned: !signed });
      if (!loaded.ok) throw new Error(`${loaded.error.code}: ${loaded.error.message}`);
      expect(packageToJson(loaded.value.package)).toEqual(JSON.parse(readFileSync(join(V1, `${name}.json`), 'utf8')));
    });
  }
});
