/**
 * Runtimes with their own code tables: the corpus's Go program (esbuild.exe, stripped: no
 * COFF symbols) is found from the structures its runtime needs (pclntab header, go.buildinfo)
 * and its build is refused with a reason naming the runtime; native MSVC and mingw modules
 * are not. Mutations show each piece of evidence counts on its own and that the detector is
 * not fooled by the magic bytes alone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapImage, readPe, type MappedImage } from '../index.ts';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';
import { runHotpatch } from '../../test/support/cli.ts';
import { findRuntimeTables, refuseRuntimeTables } from './runtime-tables.ts';

function mapped(bytes: Uint8Array): MappedImage {
  const pe = readPe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const img = mapImage(bytes, pe.value.pe);
  if (!img.ok) throw new Error(img.error.message);
  return img.value;
}

const esbuild = realPairs().find((p) => p.label.startsWith('esbuild-'));
const crc32 = realPairs().find((p) => p.label.startsWith('crc32-'));
const goOld = esbuild === undefined ? null : fetchRealFile(esbuild.old);
const goNew = esbuild === undefined ? null : fetchRealFile(esbuild.new);
const native = crc32 === undefined ? null : fetchRealFile(crc32.old);
const noCorpus = goOld === null || !goOld.ok || goNew === null || !goNew.ok ? `corpus esbuild pair unavailable` : undefined;

describe.skipIf(noCorpus !== undefined)(`Go runtime${noCorpus === undefined ? '' : ` (skipped: ${noCorpus})`}`, () => {
  const oldPath = (goOld as { value: string } | null)?.value ?? '';
  const newPath = (goNew as { value: string } | null)?.value ?? '';

  it('finds the stripped esbuild.exe to be Go, with its version, from pclntab and go.buildinfo', () => {
    const img = mapped(new Uint8Array(readFileSync(oldPath)));
    expect(img.pe.symbols.length).toBe(0); // stripped: the detection must not need symbols
    const found = findRuntimeTables(img);
    expect(found.map((f) => f.runtime)).toEqual(['Go']);
    expect(found[0]!.version).toMatch(/^go1\.\d+/);
    const what = found[0]!.evidence.map((e) => e.what).join('; ');
    expect(what).toMatch(/pclntab header \(magic 0xfffffff1, go1\.20\+, \d+ functions, text at RVA 0x1000\) at RVA 0x[0-9a-f]+ \(\.rdata\)/);
    expect(what).toMatch(/go\.buildinfo at RVA 0x[0-9a-f]+/);
  });

  it('refuses a build of the pair, naming the runtime and why (BUILD_RUNTIME_TABLES)', () => {
    const r = refuseRuntimeTables(mapped(new Uint8Array(readFileSync(oldPath))), mapped(new Uint8Array(readFileSync(newPath))));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('BUILD_RUNTIME_TABLES');
    expect(r.error.message).toMatch(/^OLD is built on the Go go1\.\d+\S* runtime \(pclntab header/);
    expect(r.error.message).toContain('pclntab');
    expect(r.error.message).toContain('no redirect into this image is safe');
  });

  it('each piece of evidence is enough on its own; the pclntab magic without a valid header is not', () => {
    const bytes = new Uint8Array(readFileSync(oldPath));
    const img = mapped(bytes);
    const ev = findRuntimeTables(img)[0]!.evidence;
    const rvaOf = (re: RegExp): number => Number.parseInt(/at RVA (0x[0-9a-f]+)/.exec(ev.find((e) => re.test(e.what))!.what.replace(/^.*\) at RVA/, 'at RVA'))![1]!, 16);
    const pcln = rvaOf(/^pclntab/);
    const info = rvaOf(/^go\.buildinfo/);
    const noInfo = mapped(bytes);
    noInfo.image.fill(0, info, info + 16);
    expect(findRuntimeTables(noInfo)[0]?.evidence.map((e) => e.what).join(';')).toMatch(/^pclntab/);
    const noPcln = mapped(bytes);
    noPcln.image[pcln + 7] = 4; // pointer size 4 in a PE32+ image: not a Go 1.20 pclntab
    expect(findRuntimeTables(noPcln)[0]?.evidence.map((e) => e.what).join(';')).toMatch(/^go\.buildinfo/);
    noPcln.image.fill(0, info, info + 16);
    expect(findRuntimeTables(noPcln)).toEqual([]);
    const wrongText = mapped(bytes);
    wrongText.image[pcln + 25] = (wrongText.image[pcln + 25] ?? 0) ^ 0x40; // text start no longer an executable section's start
    wrongText.image.fill(0, info, info + 16);
    expect(findRuntimeTables(wrongText)).toEqual([]);
  });

  it('hotpatch build refuses the pair with exit 31 and the one-line reason, with or without --skip-refused', () => {
    const r = runHotpatch(['build', oldPath, newPath, '-o', '/dev/null', '--unsigned', '--skip-refused'], { timeoutMs: 600_000 });
    expect(r.status).toBe(31);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^hotpatch: BUILD_RUNTIME_TABLES: OLD is built on the Go go1\.\d+\S* runtime \(pclntab header .*fatal error.*\n$/);
  }, 600_000);
});

describe('native modules', () => {
  it.skipIf(native === null || !native.ok)('an MSVC/Rust napi addon (crc32) and the mingw samples hold no such runtime', () => {
    expect(findRuntimeTables(mapped(new Uint8Array(readFileSync((native as { value: string }).value))))).toEqual([]);
    for (const s of ['logic-fix', 'cpp-exceptions', 'switch-table']) expect(findRuntimeTables(mapped(new Uint8Array(readFileSync(`samples/bin/${s}/v1.dll`))))).toEqual([]);
  });
});
