/**
 * The discovery roots FH4 data gives: unwind funclets and leaf destructors with no .pdata
 * entry become functions, in the MSVC C++ modules that have them, and nothing changes for
 * modules without FH4 data. Files the cache cannot provide are skipped with the reason.
 */
import { describe, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { discoverFunctions } from './discover-functions.ts';
import { mapImage, sectionAt } from '../image/map-image.ts';
import { fetchRealFile, realFiles } from '../../samples/real/real-files.ts';
import { findFh4FuncletRoots } from './fh4-funclets.ts';

const pick = (pkg: string, version: string) => realFiles().find((f) => f.package === pkg && f.version === version && f.path.endsWith('.node'));

const cases = [
  ['watcher 2.5.1', pick('@parcel/watcher-win32-x64', '2.5.1'), true],
  ['sharp 0.34.5', pick('@img/sharp-win32-x64', '0.34.5'), true],
  // Rust, FH3 and scope tables only: no FH4 data, so no roots.
  ['crc32 1.10.4', pick('@node-rs/crc32-win32-x64-msvc', '1.10.4'), false],
] as const;

describe.each(cases)('%s', (_label, file, hasFh4) => {
  const got = file === undefined ? undefined : fetchRealFile(file);
  const why = got === undefined ? 'not in the manifest' : got.ok ? undefined : got.error.message;
  test.skipIf(why !== undefined)(`roots are pdata-less code entries that discovery keeps as functions${why === undefined ? '' : ` (skipped: ${why})`}`, { timeout: 120_000 }, () => {
    if (got === undefined || !got.ok) return;
    const bytes = new Uint8Array(readFileSync(got.value));
    const pe = parsePe(bytes);
    expect(pe.ok).toBe(true);
    if (!pe.ok) return;
    const img = mapImage(bytes, pe.value);
    expect(img.ok).toBe(true);
    if (!img.ok) return;
    const roots = findFh4FuncletRoots(img.value, pe.value.exceptions);
    if (!hasFh4) {
      expect(roots).toEqual([]);
      return;
    }
    expect(roots.length).toBeGreaterThan(0);
    const ranges = pe.value.exceptions.map((r) => [r.beginAddress, r.endAddress] as const);
    for (const r of roots) {
      expect(sectionAt(img.value, r)?.executable).toBe(true);
      // Not a .pdata start, and not inside a .pdata function: code of its own.
      expect(ranges.some(([b, e]) => r >= b && r < e)).toBe(false);
    }
    const fns = discoverFunctions(img.value);
    expect(fns.ok).toBe(true);
    if (!fns.ok) return;
    for (const r of roots) {
      const f = fns.value.byEntry.get(r);
      expect(f?.sources).toContain('descent');
      expect(f?.decoded.insns.length).toBeGreaterThan(0);
      expect(f?.decoded.problems).toEqual([]);
    }
  });
});
