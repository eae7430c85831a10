/**
 * Issue #17, items 1-7: each hostile input (derived from samples/bin/logic-fix/v1.dll by
 * test/support/hostile-inputs.ts) is refused with its code, and the case ends. No timing
 * thresholds here: the fuzz harness's watchdog and the bench measure time and memory.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffFiles, findFunctions } from '../compiler/index.ts';
import { loadPackage } from '../formats/container.ts';
import { generateKeyPair, importPublicKey, type PublicKey, type SigningKey } from '../formats/keys.ts';
import { encodePackage } from '../formats/container.ts';
import { applyPackageFile } from '../runtime/apply/apply-file.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { parsePe } from '../runtime/pe/parse-pe.ts';
import { runHotpatch, type CliRun } from './support/cli.ts';
import { aliasedRawData, deltaBombPackage, farSection, hugeZeroFill, machine, pdataEnd, ROOT, SAMPLE_V1, SAMPLE_V2, sampleV1, samplePackage, sizeOfImage } from './support/hostile-inputs.ts';

const BIN = join(ROOT, 'bin/hotpatch.cjs');
let dir = '';
let signing: SigningKey;
let trusted: PublicKey;
const files = { key: '', pub: '', signed: '', unsigned: '' };

const code = <T>(r: { ok: true; value: T } | { ok: false; error: { code: string } }): string => (r.ok ? 'ok' : r.error.code);
const hotpatch = (...args: string[]): CliRun => runHotpatch(args, { timeoutMs: 120_000 });
/** One line on stderr, `hotpatch: CODE: ...`, and nothing else. */
function refused(r: CliRun, c: string): void {
  expect(r.stderr).toMatch(new RegExp(`^hotpatch: ${c}: [^\\n]*\\n$`));
}
function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotpatch-hostile-'));
  const pair = await generateKeyPair();
  signing = pair.signingKey;
  const k = await importPublicKey(pair.publicPem);
  if (!k.ok) throw new Error(k.error.message);
  trusted = k.value;
  files.key = join(dir, 'hotpatch.key');
  writeFileSync(files.key, pair.privatePem, { mode: 0o600 });
  chmodSync(files.key, 0o600);
  files.pub = join(dir, 'hotpatch.pub');
  writeFileSync(files.pub, pair.publicPem);
  const pkg = samplePackage();
  const s = await encodePackage(pkg, { signingKey: signing });
  const u = await encodePackage(pkg, {});
  if (!s.ok || !u.ok) throw new Error('encode');
  files.signed = write('p.hpk', s.value);
  files.unsigned = write('p-unsigned.hpk', u.value);
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('1: a .pdata entry that ends far outside its section', () => {
  for (const end of [0x1000_0000, 0x7fff_ffff]) {
    it(`EndAddress 0x${end.toString(16)}: PE_PDATA_RANGE from discovery and diff (old or new)`, () => {
      const bad = pdataEnd(end);
      expect(code(findFunctions(bad))).toBe('PE_PDATA_RANGE');
      expect(code(diffFiles(sampleV1(), bad))).toBe('PE_PDATA_RANGE');
      expect(code(diffFiles(bad, sampleV1()))).toBe('PE_PDATA_RANGE');
    });
  }
  it('an EndAddress at or before BeginAddress is refused too; the sample itself passes', () => {
    expect(code(findFunctions(pdataEnd(0)))).toBe('PE_PDATA_RANGE');
    expect(code(findFunctions(sampleV1()))).toBe('ok');
  });
  it('hotpatch functions: one line, exit 10', () => {
    const r = hotpatch('functions', write('pdata.dll', pdataEnd(0x7fff_ffff)));
    expect(r.status).toBe(10);
    refused(r, 'PE_PDATA_RANGE');
  });
});

describe('2: SizeOfImage beyond what the sections need', () => {
  it('1 GiB declared by a 29 KB file: PE_SIZE_OF_IMAGE from the parser, so from functions, diff and apply', async () => {
    const bad = sizeOfImage(0x4000_0000);
    expect(code(parsePe(bad))).toBe('PE_SIZE_OF_IMAGE');
    expect(code(findFunctions(bad))).toBe('PE_SIZE_OF_IMAGE');
    expect(code(diffFiles(bad, sampleV1()))).toBe('PE_SIZE_OF_IMAGE');
    expect(code(loadProcessImage(bad, { name: 'v1.dll' }))).toBe('PE_SIZE_OF_IMAGE');
  });
  it('one page more than the sections rounded up is refused; the exact size is accepted', () => {
    const pe = parsePe(sampleV1());
    if (!pe.ok) throw new Error(pe.error.message);
    const size = pe.value.optionalHeader.sizeOfImage;
    expect(code(parsePe(sizeOfImage(size)))).toBe('ok');
    expect(code(parsePe(sizeOfImage(size + 0x1000)))).toBe('PE_SIZE_OF_IMAGE');
  });
  it('a 1 GiB zero-filled section to justify it: PE_SECTION_SIZE', () => {
    expect(code(parsePe(hugeZeroFill()))).toBe('PE_SECTION_SIZE');
  });
  it('one section moved near 1 GiB to justify it (a gap no file byte backs): PE_SIZE_OF_IMAGE before any mapping', () => {
    const bad = farSection(0x3fff_0000);
    expect(code(parsePe(bad))).toBe('PE_SIZE_OF_IMAGE');
    expect(code(findFunctions(bad))).toBe('PE_SIZE_OF_IMAGE');
    expect(code(loadProcessImage(bad, { name: 'v1.dll' }))).toBe('PE_SIZE_OF_IMAGE');
    // A gap within the zero-fill budget still parses (the loader-faithful refusals come later).
    expect(code(parsePe(farSection(0x0100_0000)))).toBe('ok');
  });
  it('sections sharing one raw range (more file bytes mapped than the file has): PE_SECTION_SIZE', () => {
    expect(code(parsePe(aliasedRawData()))).toBe('PE_SECTION_SIZE');
  });
  it('hotpatch apply --image of such a file: one line, exit 10', () => {
    const r = hotpatch('apply', files.signed, '--image', write('soi.dll', sizeOfImage(0x4000_0000)), '--trust', files.pub);
    expect(r.status).toBe(10);
    refused(r, 'PE_SIZE_OF_IMAGE');
  });
});

describe('3: delta blocks are capped before expansion', () => {
  it('a signed delta bomb is refused at load time (PKG_BOMB), and apply executes nothing', async () => {
    const bomb = await deltaBombPackage(signing);
    expect(bomb.file.length).toBeLessThan(64 * 1024);
    expect(bomb.declared).toBeGreaterThan(64 * 1024 * 1024);
    const l = await loadPackage(bomb.file, { trusted: [trusted], allowUnsigned: false });
    expect(l.ok ? 'ok' : `${l.error.code}: ${l.error.message}`).toMatch(/^PKG_BOMB: blocks expand to \d+ bytes, over the 67108864-byte limit$/);
    const img = loadProcessImage(sampleV1(), { name: 'v1.dll' });
    if (!img.ok) throw new Error(img.error.message);
    const backend = new MemoryBackend(img.value);
    const before = img.value.space.regionAt(img.value.base)!.bytes.slice();
    expect(code(await applyPackageFile(bomb.file, backend, { trusted: [trusted], allowUnsigned: false }))).toBe('PKG_BOMB');
    expect(img.value.space.regionAt(img.value.base)!.bytes).toEqual(before);
  });
});

describe('4: --allow-unsigned admits only unsigned packages; every apply states the signature', () => {
  it('a signed package with --allow-unsigned and no --trust: SIG_UNTRUSTED, exit 21', () => {
    const r = hotpatch('apply', files.signed, '--image', SAMPLE_V1, '--allow-unsigned');
    expect(r.status).toBe(21);
    refused(r, 'SIG_UNTRUSTED');
  });
  it('a tampered signed package with --allow-unsigned and --trust: SIG_BAD', () => {
    const t = new Uint8Array(readFileSync(files.signed));
    t[t.length - 100] = t[t.length - 100]! ^ 0x10; // inside the payload
    const r = hotpatch('apply', write('tampered.hpk', t), '--image', SAMPLE_V1, '--allow-unsigned', '--trust', files.pub);
    expect(r.status).toBe(21);
    refused(r, 'SIG_BAD');
  });
  it('apply reports "verified" or "UNSIGNED" in text and --json', () => {
    const v = hotpatch('apply', files.signed, '--image', SAMPLE_V1, '--trust', files.pub);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^signature: verified \(key [0-9a-f]{16}\)$/m);
    const u = hotpatch('apply', files.unsigned, '--image', SAMPLE_V1, '--allow-unsigned', '--json');
    expect(u.status).toBe(0);
    expect((JSON.parse(u.stdout) as { signature: unknown }).signature).toEqual({ status: 'unsigned' });
  });
});

describe('5: outputs never destroy inputs', () => {
  it('build OLD NEW -o OLD: IO_OUTPUT_IS_INPUT, OLD unchanged', () => {
    const old = write('old.dll', sampleV1());
    const r = hotpatch('build', old, SAMPLE_V2, '-o', old, '--key', files.key);
    expect(r.status).toBe(3);
    refused(r, 'IO_OUTPUT_IS_INPUT');
    expect(new Uint8Array(readFileSync(old))).toEqual(sampleV1());
  });
  it('apply --image X --out X, and --out a hard link to X: refused, X unchanged', () => {
    const x = write('x.dll', sampleV1());
    const link = join(dir, 'x-link.dll');
    linkSync(x, link);
    for (const out of [x, link]) {
      const r = hotpatch('apply', files.signed, '--image', x, '--trust', files.pub, '--out', out);
      expect(r.status).toBe(3);
      refused(r, 'IO_OUTPUT_IS_INPUT');
    }
    expect(new Uint8Array(readFileSync(x))).toEqual(sampleV1());
  });
  it('--out through a symlink writes the file it names, says so, and keeps the link', () => {
    const target = write('real-out.bin', new TextEncoder().encode('old'));
    const link = join(dir, 'out-link.bin');
    symlinkSync(target, link);
    const r = hotpatch('apply', files.signed, '--image', SAMPLE_V1, '--trust', files.pub, '--out', link);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${link} is a symlink: wrote its target ${target}`);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync(target).size).toBeGreaterThan(0x1000);
  });
  it('a write that fails half-way (EFBIG from a file-size limit) leaves the old file intact and no temp file', () => {
    const sub = mkdtempSync(join(dir, 'efbig-'));
    const out = join(sub, 'out.bin');
    writeFileSync(out, 'the old file');
    // Root ignores file modes, so the failure is injected with RLIMIT_FSIZE: writes past 20 KB
    // fail with EFBIG (SIGXFSZ ignored, as the shell passes the ignored disposition on).
    const r = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 40; exec "$0" "$@"`, process.execPath, BIN, 'apply', files.signed, '--image', SAMPLE_V1, '--trust', files.pub, '--out', out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^hotpatch: IO_WRITE_FAILED: .*EFBIG.*the old file is unchanged\n$/);
    expect(readFileSync(out, 'utf8')).toBe('the old file');
    expect(readdirSync(sub)).toEqual(['out.bin']);
  });
});

describe('6: non-x86-64 machines', () => {
  for (const [name, m] of [['i386', 0x14c], ['ARM64', 0xaa64]] as const) {
    it(`${name}: PE_MACHINE from functions and diff`, () => {
      const bad = machine(m);
      expect(code(findFunctions(bad))).toBe('PE_MACHINE');
      expect(code(diffFiles(bad, sampleV1()))).toBe('PE_MACHINE');
      expect(code(diffFiles(sampleV1(), bad))).toBe('PE_MACHINE');
    });
  }
  it('hotpatch functions on an i386 file: one line, exit 10', () => {
    const r = hotpatch('functions', write('i386.dll', machine(0x14c)));
    expect(r.status).toBe(10);
    refused(r, 'PE_MACHINE');
  });
});

describe('7: keys', () => {
  it('build refuses a private key group or others can read (SIG_KEY_MODE), unless --insecure-key', () => {
    const loose = join(dir, 'loose.key');
    writeFileSync(loose, readFileSync(files.key));
    for (const mode of [0o644, 0o666, 0o640]) {
      chmodSync(loose, mode);
      const r = hotpatch('build', SAMPLE_V1, SAMPLE_V2, '-o', join(dir, 'loose.hpk'), '--key', loose);
      expect(r.status).toBe(21);
      refused(r, 'SIG_KEY_MODE');
      expect(r.stderr).toContain(`mode 0${mode.toString(8)}`);
    }
    expect(existsSync(join(dir, 'loose.hpk'))).toBe(false);
    const ok = hotpatch('build', SAMPLE_V1, SAMPLE_V2, '-o', join(dir, 'loose.hpk'), '--key', loose, '--insecure-key');
    expect(ok.status).toBe(0);
  });
  it('keygen under umask 000 creates its directory 0700 and the key 0600', () => {
    const out = join(dir, 'keys-umask', 'nested');
    const r = spawnSync('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, BIN, 'keygen', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(statSync(join(out, 'hotpatch.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, 'hotpatch.pub')).mode & 0o777).toBe(0o644);
  });
});
