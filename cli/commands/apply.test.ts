/**
 * `hotpatch apply` and the package-file path behind it, with real signed packages built by
 * the compiler from the new-helper sample pair: the patched image written with --out equals
 * the library's; unsigned, tampered, untrusted and wrong-target packages are refused with a
 * one-line error and their exit code, before any step executes (counted on the backend).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffFiles } from '../../compiler/index.ts';
import { emitPackage } from '../../compiler/emit/emit-package.ts';
import { encodePackage } from '../../formats/container.ts';
import { generateKeyPair, importPublicKey, type PublicKey } from '../../formats/keys.ts';
import { applyPackageFile } from '../../runtime/apply/apply-file.ts';
import { fingerprint, loadSample, ROOT, sampleBytes } from '../../runtime/apply/testing/fixtures.ts';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import { runHotpatch, type CliRun } from '../../test/support/cli.ts';

let dir = '';
let trusted: PublicKey;
const v1 = join(ROOT, 'samples/bin/new-helper/v1.dll');
const otherImage = join(ROOT, 'samples/bin/logic-fix/v1.dll');
const files = { signed: '', unsigned: '', tampered: '', pub: '', otherPub: '' };

const hotpatch = (...args: string[]): CliRun => runHotpatch(args, { timeoutMs: 60_000 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotpatch-apply-'));
  const o = sampleBytes('new-helper', 'v1.dll');
  const n = sampleBytes('new-helper', 'v2.dll');
  const diff = diffFiles(o, n);
  if (!diff.ok) throw new Error(diff.error.message);
  const e = emitPackage(diff.value, { moduleName: 'new-helper.dll', skipRefused: false, series: null, compilerVersion: 'apply test' });
  if (!e.ok) throw new Error(e.error.message);
  const keys = await generateKeyPair();
  const other = await generateKeyPair();
  const signed = await encodePackage(e.value.pkg, { signingKey: keys.signingKey });
  const unsigned = await encodePackage(e.value.pkg, {});
  if (!signed.ok || !unsigned.ok) throw new Error('encode');
  const tampered = signed.value.slice();
  tampered[40] = tampered[40]! ^ 0x01; // inside the payload, covered by the signature
  Object.assign(files, {
    signed: join(dir, 'nh.hpk'),
    unsigned: join(dir, 'nh-unsigned.hpk'),
    tampered: join(dir, 'nh-tampered.hpk'),
    pub: join(dir, 'hotpatch.pub'),
    otherPub: join(dir, 'other.pub'),
  });
  writeFileSync(files.signed, signed.value);
  writeFileSync(files.unsigned, unsigned.value);
  writeFileSync(files.tampered, tampered);
  writeFileSync(files.pub, keys.publicPem);
  writeFileSync(files.otherPub, other.publicPem);
  const k = await importPublicKey(keys.publicPem);
  if (!k.ok) throw new Error(k.error.message);
  trusted = k.value;
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('hotpatch apply', () => {
  it('applies a signed package; --out holds exactly the library-patched image; reports times per function', async () => {
    const out = join(dir, 'patched.bin');
    const r = hotpatch('apply', files.signed, '--image', v1, '--trust', files.pub, '--out', out, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { functions: { name: string; status: string; ms: number }[]; timing: Record<string, number>; out: string };
    expect(j.functions.map((f) => [f.name, f.status]).sort()).toEqual([
      ['average_percent', 'changed'],
      ['clamp_percent', 'added'],
    ]);
    for (const f of j.functions) expect(f.ms).toBeGreaterThan(0);
    expect(j.timing['totalMs']).toBeGreaterThanOrEqual(j.timing['applyMs']!);
    // The same package through the library, on a fresh in-memory image.
    const { image, backend } = loadSample('new-helper', 'v1.dll');
    const lib = await applyPackageFile(new Uint8Array(readFileSync(files.signed)), backend, { trusted: [trusted], allowUnsigned: false });
    if (!lib.ok) throw new Error(lib.error.message);
    expect(Buffer.compare(readFileSync(out), image.space.regionAt(image.base)!.bytes)).toBe(0);
    expect(Buffer.compare(readFileSync(out), readFileSync(v1))).not.toBe(0);
  });

  it('prints a readable summary without --json', () => {
    const r = hotpatch('apply', files.signed, '--image', v1, '--trust', files.pub);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^applied nh\.hpk \(series .* #1\) to v1\.dll loaded at 0x[0-9a-f]+\n/);
    expect(r.stdout).toMatch(/average_percent +changed +0x[0-9a-f]+ -> 0x[0-9a-f]+ +71 B +[0-9.]+ ms/);
    expect(r.stdout).toMatch(/time: load package [0-9.]+ ms, .* apply [0-9.]+ ms \(pause [0-9.]+ ms\), total [0-9.]+ ms/);
  });

  const refusals: [string, () => string[], number, RegExp][] = [
    ['an unsigned package without --allow-unsigned', () => [files.unsigned, '--image', v1], 21, /^hotpatch: SIG_MISSING: .*nh-unsigned\.hpk: package is not signed/],
    ['a tampered package', () => [files.tampered, '--image', v1, '--trust', files.pub], 21, /^hotpatch: SIG_BAD: /],
    ['a package signed by an untrusted key', () => [files.signed, '--image', v1, '--trust', files.otherPub], 21, /^hotpatch: SIG_UNTRUSTED: /],
    ['a package for another build', () => [files.signed, '--image', otherImage, '--trust', files.pub], 40, /^hotpatch: PLAN_IDENTITY: package is for another build: /],
    ['a missing image file', () => [files.signed, '--image', join(dir, 'nope.dll'), '--trust', files.pub], 3, /^hotpatch: IO_NOT_FOUND: /],
  ];
  for (const [what, args, code, message] of refusals) {
    it(`refuses ${what}: one line, exit ${code}, nothing written`, () => {
      const out = join(dir, `refused-${code}.bin`);
      const r = hotpatch('apply', ...args(), '--out', out);
      expect(r.status).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    });
  }

  it('loads OLD at --base (relocated) and refuses an unaligned base in one line', () => {
    const r = hotpatch('apply', files.signed, '--image', v1, '--trust', files.pub, '--base', '0x7ff612340000', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { image: { base: string }; redirects: { functionVa: string }[] };
    expect(j.image.base).toBe('0x7ff612340000');
    expect(BigInt(j.redirects[0]!.functionVa) - 0x7ff612340000n).toBeLessThan(0x10_0000n);
    const bad = hotpatch('apply', files.signed, '--image', v1, '--trust', files.pub, '--base', '0x12345');
    expect(bad.status).toBe(40);
    expect(bad.stderr).toBe(`hotpatch: PLAN_IMAGE: ${v1}: image base 0x12345 is not 64K aligned\n`);
  });

  it('accepts the unsigned package with --allow-unsigned', () => {
    expect(hotpatch('apply', files.unsigned, '--image', v1, '--allow-unsigned').status).toBe(0);
  });

  it('refuses with APPLY_THREAD_BUSY when a simulated thread sits in a redirect site', () => {
    const pe = parsePe(readFileSync(v1));
    if (!pe.ok) throw new Error('parse');
    const sym = pe.value.symbols.find((s) => s.name === 'average_percent')!;
    const entry = pe.value.optionalHeader.imageBase + BigInt(pe.value.sections[sym.sectionNumber - 1]!.virtualAddress + sym.value);
    const r = hotpatch('apply', files.signed, '--image', v1, '--trust', files.pub, '--thread-ip', `0x${(entry + 1n).toString(16)}`);
    expect(r.status).toBe(41);
    expect(r.stderr).toMatch(/^hotpatch: APPLY_THREAD_BUSY: step \d+ \(suspend-threads\): a thread is executing at 0x[0-9a-f]+, inside bytes being replaced, after 50 attempts\n$/);
  });
});

describe('package file refusals execute no step on the backend', () => {
  const cases: [string, () => string, boolean, string][] = [
    ['unsigned', () => files.unsigned, false, 'SIG_MISSING'],
    ['tampered', () => files.tampered, false, 'SIG_BAD'],
  ];
  for (const [what, file, allowUnsigned, code] of cases) {
    it(`${what}: ${code}, zero steps, image identical`, async () => {
      const { image, backend } = loadSample('new-helper', 'v1.dll');
      const before = fingerprint(image);
      const r = await applyPackageFile(new Uint8Array(readFileSync(file())), backend, { trusted: [trusted], allowUnsigned });
      expect(r.ok ? 'applied' : r.error.code).toBe(code);
      expect(backend.executed).toBe(0);
      expect(fingerprint(image)).toBe(before);
    });
  }

  it('wrong target: PLAN_IDENTITY, zero steps, image identical', async () => {
    const { image, backend } = loadSample('logic-fix', 'v1.dll');
    const before = fingerprint(image);
    const r = await applyPackageFile(new Uint8Array(readFileSync(files.signed)), backend, { trusted: [trusted], allowUnsigned: false });
    expect(r.ok ? 'applied' : r.error.code).toBe('PLAN_IDENTITY');
    expect(backend.executed).toBe(0);
    expect(fingerprint(image)).toBe(before);
  });
});
