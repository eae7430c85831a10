/**
 * The sample build is reproducible: two fresh builds in different temp folders are byte for
 * byte the same, and the same as the committed samples/bin. Needs mingw-w64.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { missingTools } from '../test/support/tools.ts';
import { buildSamples } from './build.ts';
import { SAMPLES_BIN_DIR, SAMPLES_DIR, TOOLCHAINS, readScenarios, scenarioDll } from './scenarios.ts';

const skip = missingTools(['mingw', 'clang']);
const dirs: string[] = [];

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p).split('\\').join('/'));
    }
  };
  walk(root);
  return out.sort();
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip !== undefined)(`sample build${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('two builds from different checkout paths are byte-identical and equal the committed binaries', async () => {
    // Build B compiles a copy of the sources at another path, into another folder. Different
    // path lengths on purpose: a leaked path would also shift sizes and offsets.
    const a = mkdtempSync(join(tmpdir(), 'hp-samples-a-'));
    const b = mkdtempSync(join(tmpdir(), 'hp-samples-bb-long-name-'));
    const src = join(mkdtempSync(join(tmpdir(), 'hp-checkout-elsewhere-')), 'some', 'other', 'samples');
    dirs.push(a, b, dirname(dirname(dirname(src))));
    for (const d of ['common', 'host', ...readScenarios().map((s) => s.name)]) cpSync(join(SAMPLES_DIR, d), join(src, d), { recursive: true });
    const ra = await buildSamples(a);
    const rb = await buildSamples(b, { srcDir: src });
    expect(ra.ok ? 'ok' : ra.error.message).toBe('ok');
    expect(rb.ok ? 'ok' : rb.error.message).toBe('ok');

    const expected = ['host.exe'];
    for (const s of readScenarios()) for (const v of s.versions) for (const tc of ['', '.clang']) expected.push(`${s.name}/${v}${tc}.dll`, `${s.name}/${v}${tc}.stripped.dll`);
    expect(listFiles(a)).toEqual(expected.sort());
    expect(listFiles(b)).toEqual(expected.sort());

    const committed = new Set(listFiles(SAMPLES_BIN_DIR));
    for (const f of expected) {
      const fa = readFileSync(join(a, f));
      expect(Buffer.compare(fa, readFileSync(join(b, f))), `${f}: build A vs build B`).toBe(0);
      expect(committed.has(f), `${f} is committed`).toBe(true);
      expect(Buffer.compare(fa, readFileSync(join(SAMPLES_BIN_DIR, f))), `${f}: rebuild vs committed (run npm run samples:build)`).toBe(0);
      // No build path leaks into the binary (the checkout, the temp work folder, $HOME).
      const text = fa.toString('latin1');
      for (const leak of [a, src, SAMPLES_DIR, tmpdir(), '/home/', '/work/']) expect(text.includes(leak), `${f} contains ${leak}`).toBe(false);
    }
  }, 900_000);

  test('a scenario that fails to compile is an error value naming the compiler, not a throw', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hp-samples-bad-'));
    dirs.push(out);
    const r = await buildSamples(out, { only: ['logic-fix'], extraFlags: ['-include', '/nonexistent/header.h'] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('SAMPLES_BUILD_FAILED');
      expect(r.error.message).toMatch(/^x86_64-w64-mingw32-gcc .*: .*nonexistent\/header\.h: No such file or directory/);
      expect(r.error.message).not.toContain('\n');
    }
    expect(listFiles(out).filter((f) => f.endsWith('.dll'))).toEqual([]);
  });

  test('the stripped form has the same sections as the symbols form and no symbol table; neither has a debug directory', () => {
    for (const s of readScenarios()) {
      for (const [v, tc] of s.versions.flatMap((x) => TOOLCHAINS.map((t) => [x, t] as const))) {
        const full = readFileSync(scenarioDll(s.name, v, false, undefined, tc));
        const stripped = readFileSync(scenarioDll(s.name, v, true, undefined, tc));
        const coff = (buf: Buffer): { symPtr: number; nSyms: number; sections: string[] } => {
          const pe = buf.readUInt32LE(0x3c);
          const nSec = buf.readUInt16LE(pe + 6);
          const optSize = buf.readUInt16LE(pe + 20);
          const secs: string[] = [];
          for (let i = 0; i < nSec; i++) {
            const h = pe + 24 + optSize + i * 40;
            const rawSize = buf.readUInt32LE(h + 16);
            const rawPtr = buf.readUInt32LE(h + 20);
            secs.push(`${buf.subarray(h, h + 8).toString('latin1')}:${buf.subarray(rawPtr, rawPtr + rawSize).toString('hex')}`);
          }
          return { symPtr: buf.readUInt32LE(pe + 12), nSyms: buf.readUInt32LE(pe + 16), sections: secs };
        };
        const a = coff(full);
        const b = coff(stripped);
        expect(a.nSyms, `${s.name}/${v}.dll has COFF symbols`).toBeGreaterThan(0);
        // No debug directory (so no CodeView record naming a PDB path) in either form.
        for (const buf of [full, stripped]) {
          const opt = buf.readUInt32LE(0x3c) + 24;
          expect(buf.readUInt16LE(opt), 'PE32+').toBe(0x20b);
          expect([buf.readUInt32LE(opt + 112 + 6 * 8), buf.readUInt32LE(opt + 112 + 6 * 8 + 4)], `${s.name}/${v}: debug directory`).toEqual([0, 0]);
        }
        expect([b.symPtr, b.nSyms], `${s.name}/${v}.stripped.dll has none`).toEqual([0, 0]);
        expect(b.sections, `${s.name}/${v}: same section contents`).toEqual(a.sections);
      }
    }
  });
});
