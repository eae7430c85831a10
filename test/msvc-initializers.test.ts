/**
 * MSVC's static initialiser arrays as load-time roots, on real corpus modules (each test
 * skipped with the reason when samples/real/cache lacks its file). The expected bounds and
 * first entries were read off `objdump -d` of the stripped modules: the CRT's startup passes
 * them as `lea rdx, [end]; lea rcx, [start]; call _initterm(_e)`, and the first entries are
 * short initialisers (7za: `mov rax, [g]; lea rcx, [dtor]; ...; jmp atexit`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import { prepareImage } from '../compiler/diff/diff-images.ts';
import { loadTimeOnly } from '../compiler/diff/load-time-only.ts';
import { findInittermArrays, findMsvcInitializers } from '../compiler/diff/msvc-initializers.ts';
import type { ImageAnalysis } from '../compiler/match/analyze-image.ts';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { cachePath, realFiles } from '../samples/real/real-files.ts';
import { withChangedFunctions } from './support/change-functions.ts';

/** The cached corpus file of `pkg@version`, or the reason it is unavailable. */
function corpusFile(pkg: string, version: string): { path: string; skip?: string } {
  const f = realFiles().find((x) => x.package === pkg && x.version === version);
  if (f === undefined) return { path: '', skip: `${pkg}@${version} not in samples/real/manifest.json` };
  const path = cachePath(f);
  return existsSync(path) ? { path } : { path, skip: `${pkg}@${version} not in samples/real/cache (run npm run samples:fetch)` };
}

function analyse(path: string): ImageAnalysis {
  const bytes = new Uint8Array(readFileSync(path));
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const a = prepareImage({ bytes, pe: pe.value });
  if (!a.ok) throw new Error(a.error.message);
  return a.value;
}

/** Arrays as `[start, end, caller, count, first targets]`. */
const shape = (xs: ReturnType<typeof findInittermArrays>, first = 4): [number, number, number, number, number[]][] =>
  xs.map((x) => [x.start, x.end, x.caller, x.targets.length, x.targets.slice(0, first).map(Number)]);

const bufferutil = corpusFile('bufferutil', '4.0.8');
const sevenZip = corpusFile('7zip-bin', '5.1.1');
const vipsCpp = corpusFile('@img/sharp-win32-x64', '0.34.4');

describe('MSVC initialiser arrays', () => {
  test.skipIf(bufferutil.skip !== undefined)(`bufferutil 4.0.8: __xc and __xi from the startup, not the exit's terminators${bufferutil.skip ?? ''}`, () => {
    const a = analyse(bufferutil.path);
    // The three `_initterm` arrays: __xc (0x182b8), __xi (0x182d0) passed by 0x1700 (the
    // CRT's process attach), a terminator array (0x182f8) passed by 0x6384 (its exit).
    expect(shape(findInittermArrays(a))).toEqual([
      [0x182b8, 0x182c8, 0x1700, 1, [0x15b0]],
      [0x182d0, 0x182f0, 0x1700, 3, [0xb830, 0x12600, 0x165e0]],
      [0x182f8, 0x18318, 0x6384, 3, [0xb184, 0x15f80, 0xb964]],
    ]);
    expect(shape(findMsvcInitializers(a))).toEqual(shape(findInittermArrays(a)).slice(0, 2));
    // The C++ initialiser (`lea rcx, [x]; jmp [import]`) is a load-time root now.
    const init = a.fns.containing(0x15b0)!;
    expect(loadTimeOnly(a).get(init.index)?.root).toEqual({ kind: 'msvc-initializer', array: 0x182b8, entry: 1, count: 1 });
    // A terminator is not (it runs at exit, after any patch).
    expect(loadTimeOnly(a).has(a.fns.containing(0xb184)!.index)).toBe(false);
  });

  test.skipIf(sevenZip.skip !== undefined)(`7za 5.1.1 (an EXE, older CRT): the 46 C++ initialisers${sevenZip.skip ?? ''}`, () => {
    const a = analyse(sevenZip.path);
    // `_initterm(__xi_a 0xd05d0, __xi_z 0xd05d8)` walks an empty array (no entry: not listed).
    expect(shape(findMsvcInitializers(a))).toEqual([[0xd0450, 0xd05c8, 0xcd730, 46, [0xcec30, 0xcec38, 0xcec44, 0xcec60]]]);
  });

  test.skipIf(vipsCpp.skip !== undefined)(`libvips-cpp 8.17.2 (sharp 0.34.4): __xi only, its __xc empty${vipsCpp.skip ?? ''}`, () => {
    const a = analyse(vipsCpp.path.replace(/[^/]*$/, 'libvips-cpp-8.17.2.dll'));
    expect(shape(findInittermArrays(a))).toEqual([
      [0x33600, 0x33620, 0x21a40, 3, [0x2dc30, 0x2bee0, 0x2f6c0]],
      [0x33628, 0x33648, 0x27b80, 3, [0x28f9c, 0x2f3b4, 0x2c000]],
    ]);
    expect(findMsvcInitializers(a).map((x) => x.start)).toEqual([0x33600]);
  });

  test.skipIf(sevenZip.skip !== undefined)(`7za 5.1.1 with functions only its initialisers reach changed: refused as initialiser code${sevenZip.skip ?? ''}`, () => {
    const o = new Uint8Array(readFileSync(sevenZip.path));
    const memo = new WeakMap<ImageAnalysis, ReturnType<typeof loadTimeOnly>>();
    const only = (a: ImageAnalysis): ReturnType<typeof loadTimeOnly> => memo.get(a) ?? memo.set(a, loadTimeOnly(a)).get(a)!;
    const { bytes: n, changed } = withChangedFunctions(o, (f, m) => only(m.new).get(f.index)?.root.kind === 'msvc-initializer');
    expect(changed.length).toBeGreaterThan(0);
    const d = diffFiles(o, n);
    if (!d.ok) throw new Error(d.error.message);
    const diffed = d.value.functions.filter((f) => f.newRva !== null && changed.includes(f.newRva));
    expect(diffed).toHaveLength(changed.length);
    for (const f of diffed) {
      expect(f.verdict, `0x${f.newRva!.toString(16)}`).toBe('refused');
      expect(f.reason?.code).toBe('INITIALIZER_CHANGED');
      expect(f.reason?.message).toMatch(/MSVC initialiser array at 0xd0450/);
    }
  }, 300_000);
});
