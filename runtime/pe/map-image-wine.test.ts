/**
 * mapImage against the real loader: a small mingw program (testdata/dump-image.c) loads a
 * sample DLL twice under Wine (two copies, same preferred base, so the second is rebased)
 * and dumps both mapped images. Every section the process cannot write (code, read-only
 * data with relocated pointers, .pdata, .xdata, exports, relocations) and the headers must
 * equal mapImage(file, base the loader chose) byte for byte; writable sections are left out
 * (the CRT and the import binder write them at load). One known difference: Wine keeps the
 * file's OptionalHeader.ImageBase in the mapped headers, while mapImage (like Windows)
 * rewrites it to the actual base; the test checks that field apart.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingTools } from '../../test/support/tools.ts';
import { runWine } from '../../test/support/wine.ts';
import { mapImage } from './map-image.ts';
import { parsePe } from './parse-pe.ts';
import { samplePeFiles } from '../../test/support/test-files.ts';
import { IMAGE_SCN_MEM_WRITE } from './types.ts';

const skip = missingTools(['mingw', 'wine']);
const DUMP_C = fileURLToPath(new URL('./testdata/dump-image.c', import.meta.url));

describe.skipIf(skip !== undefined)('mapImage vs the Wine loader', () => {
  const dlls = samplePeFiles()
    .filter((f) => /[\\/]v1\.dll$/.test(f))
    .slice(0, 3);

  it.skipIf(dlls.length === 0)(`maps ${dlls.length} sample DLLs as Wine does, at the preferred base and rebased`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotpatch-wine-map-'));
    const exe = join(dir, 'dump-image.exe');
    const cc = spawnSync('x86_64-w64-mingw32-gcc', ['-O2', '-o', exe, DUMP_C], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    let rebased = 0;
    let relocsChecked = 0;
    for (const dll of dlls) {
      const bytes = new Uint8Array(readFileSync(dll));
      const pe = parsePe(bytes);
      if (!pe.ok) throw new Error(pe.error.message);
      copyFileSync(dll, join(dir, 'a.dll'));
      copyFileSync(dll, join(dir, 'b.dll'));
      const r = runWine(exe, ['a.dll', 'b.dll', 'out.bin'], { cwd: dir, timeoutMs: 120_000 });
      expect(r.status, `${dll}: ${r.stderr}`).toBe(0);
      const out = readFileSync(join(dir, 'out.bin'));
      let off = 0;
      for (const copy of ['a.dll', 'b.dll']) {
        const base = out.readBigUInt64LE(off);
        const size = out.readUInt32LE(off + 8);
        const loaded = out.subarray(off + 12, off + 12 + size);
        off += 12 + size;
        const m = mapImage(bytes, base);
        if (!m.ok) throw new Error(m.error.message);
        const ours = m.value;
        expect(size).toBe(ours.length);
        if (base !== pe.value.optionalHeader.imageBase) rebased++;
        const where = `${dll} (${copy} at 0x${base.toString(16)})`;
        // Headers, ImageBase aside.
        const ib = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0x3c, true) + 24 + 24;
        const hdr = Buffer.from(ours.subarray(0, pe.value.optionalHeader.sizeOfHeaders));
        expect(hdr.readBigUInt64LE(ib), where).toBe(base);
        hdr.writeBigUInt64LE(loaded.readBigUInt64LE(ib), ib);
        expect(hdr.equals(loaded.subarray(0, hdr.length)), `${where}: headers`).toBe(true);
        let compared = 0;
        for (const s of pe.value.sections) {
          if ((s.characteristics & IMAGE_SCN_MEM_WRITE) !== 0) continue;
          const end = s.virtualAddress + (s.virtualSize === 0 ? s.sizeOfRawData : s.virtualSize);
          const same = Buffer.from(ours.subarray(s.virtualAddress, end)).equals(loaded.subarray(s.virtualAddress, end));
          expect(same, `${where}: section ${s.name}`).toBe(true);
          compared++;
          if (base !== pe.value.optionalHeader.imageBase) {
            relocsChecked += pe.value.relocations.entries.filter((e) => e.rva >= s.virtualAddress && e.rva < end).length;
          }
        }
        expect(compared).toBeGreaterThanOrEqual(4);
      }
    }
    // The second copy of each DLL could not take the preferred base: relocations were really applied.
    expect(rebased).toBeGreaterThanOrEqual(dlls.length);
    // ... and some of them sit in the sections compared.
    expect(relocsChecked).toBeGreaterThan(0);
  }, 300_000);
});
