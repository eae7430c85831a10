/**
 * `hotpatch keygen` and `hotpatch inspect` as users run them: file modes, exit codes,
 * one-line errors, JSON output, and the signature rules (inspect without --trust shows the
 * contents and says "not verified"; with --trust a foreign or missing signature fails).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasTool } from '../test/support/tools.ts';
import { exitCodeOf } from '../common/errors.ts';
import type { PackageReport } from './describe.ts';
import { runHotpatch, type CliRun } from '../test/support/cli.ts';
import { encodePackage } from './container.ts';
import { minimalPackage, pseudoCode } from './testing/sample-packages.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GOLDEN = join(ROOT, 'formats/golden');
const tmp = mkdtempSync(join(tmpdir(), 'hotpatch-formats-cli-'));

const hotpatch = (...args: string[]): CliRun => runHotpatch(args, { timeoutMs: 60_000 });

function oneLineError(r: { stderr: string }, code: string): void {
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^hotpatch: ${code}: `));
}

// Each case spawns the CLI (tsx start-up, a few seconds on a busy machine) several times:
// a generous timeout so a loaded CI box does not turn slowness into failures.
const SLOW = { timeout: 240_000 };

describe('hotpatch keygen', SLOW, () => {
  it('writes a 0600 private key and a public key, and refuses to overwrite them', () => {
    const dir = join(tmp, 'keys');
    const r = hotpatch('keygen', '--out', dir, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { privateKey: string; publicKey: string; keyId: string };
    expect(j.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(statSync(join(dir, 'hotpatch.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'hotpatch.pub')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(dir, 'hotpatch.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    expect(readFileSync(join(dir, 'hotpatch.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);

    const again = hotpatch('keygen', '--out', dir);
    expect(again.status).toBe(exitCodeOf('IO_EXISTS'));
    oneLineError(again, 'IO_EXISTS');
    const before = readFileSync(join(dir, 'hotpatch.key'), 'utf8');
    chmodSync(join(dir, 'hotpatch.key'), 0o644); // --force must not keep a looser old mode
    const forced = hotpatch('keygen', '--out', dir, '--force');
    expect(forced.status).toBe(0);
    expect(readFileSync(join(dir, 'hotpatch.key'), 'utf8')).not.toBe(before);
    expect(statSync(join(dir, 'hotpatch.key')).mode & 0o777).toBe(0o600);
  });

  it.skipIf(!hasTool('openssl', ['version']))('writes standard PKCS#8 / SPKI PEM (openssl derives the same public key)', () => {
    const dir = join(tmp, 'openssl');
    expect(hotpatch('keygen', '--out', dir).status).toBe(0);
    const derived = spawnSync('openssl', ['pkey', '-in', join(dir, 'hotpatch.key'), '-pubout'], { encoding: 'utf8' });
    expect(derived.status).toBe(0);
    expect(derived.stdout).toBe(readFileSync(join(dir, 'hotpatch.pub'), 'utf8'));
    const text = spawnSync('openssl', ['pkey', '-in', join(dir, 'hotpatch.key'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text.stdout).toContain('ED25519 Private-Key');
  });
});

describe('hotpatch inspect', SLOW, () => {
  const full = join(GOLDEN, 'full.hpk');
  const minimal = join(GOLDEN, 'minimal.hpk');
  const trusted = join(GOLDEN, 'test-signing.pub');
  const other = join(GOLDEN, 'other.pub');

  it('shows a signed package without --trust as "not verified"', () => {
    const r = hotpatch('inspect', full);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('not verified');
    expect(r.stdout).toContain('Full.dll');
    expect(r.stdout).toContain('parse_port');
    expect(r.stdout).toContain('ws2_32.dll!#115');
    expect(r.stdout).toContain('short-to-pad, pad at 0x11f8');
  });

  it('verifies with --trust and prints the whole report as JSON', () => {
    const r = hotpatch('inspect', full, '--trust', trusted, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as PackageReport;
    expect(j.signature.status).toBe('verified');
    expect(j.format).toBe('2.9');
    expect(j.series).toEqual({ baselineId: '2026-Q4', sequence: 7 });
    expect(j.target.codeView?.guid).toBe('13121110-1514-1716-1819-1A1B1C1D1E1F');
    expect(j.functions.map((f) => [f.name, f.status, f.storage])).toEqual([
      ['clamp', 'changed', 'literal'],
      ['parse_port', 'changed', 'delta'],
      [null, 'changed', 'delta'],
      ['helper', 'added', 'literal'],
    ]);
    expect(j.imports).toEqual([
      { dll: 'KERNEL32.dll', symbol: 'GetTickCount64' },
      { dll: 'ws2_32.dll', symbol: '#115' },
    ]);
    const s = j.sizes;
    expect(s.file).toBe(statSync(full).size);
    expect(s.header + s.payload + s.signature).toBe(s.file);
    expect(s.signature).toBe(64);
    expect(s.payloadStorage).toBe('zstd');
    const k = s.byKind;
    expect(k.code + k.fixups + k.unwind + k.data + k.imports + k.redirects + k.functions + k.target + k.sealed + k.other).toBe(s.uncompressed);
    expect(k.total).toBe(s.uncompressed);
    expect(j.sealed).toBeNull();
  });

  it('shows the sealed blocks of a format 2.2 package', () => {
    const r = hotpatch('inspect', join(GOLDEN, 'sealed.hpk'), '--trust', trusted, '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as PackageReport;
    expect(j.functions.map((f) => [f.name, f.storage])).toEqual([
      ['clamp', 'sealed'],
      ['parse_port', 'delta'],
      [null, 'delta'],
      ['helper', 'sealed'],
    ]);
    expect(j.dataBlocks.map((d) => d.storage)).toEqual(['sealed']);
    // Block 1 (19 bytes) and data block 2 (24 bytes) against the relied range 0x1100+0x80.
    expect(j.sealed).toMatchObject({ blocks: 3, bytes: 19 + 24 + 6, dictionaryRanges: 1, dictionaryBytes: 0x80 });
    expect(j.sizes.byKind.sealed).toBeGreaterThan(j.sealed!.frame);
    const text = hotpatch('inspect', join(GOLDEN, 'sealed.hpk'));
    expect(text.stdout).toContain('sealed      3 blocks, 49 bytes in a');
  });

  it('--full adds the whole package, equal to the committed golden JSON', () => {
    const r = hotpatch('inspect', full, '--full', '--json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { package: unknown };
    expect(j.package).toEqual(JSON.parse(readFileSync(join(GOLDEN, 'full.json'), 'utf8')));
  });

  it('fails on a package signed by a key it was not told to trust', () => {
    const r = hotpatch('inspect', full, '--trust', other);
    expect(r.status).toBe(exitCodeOf('SIG_UNTRUSTED'));
    oneLineError(r, 'SIG_UNTRUSTED');
    expect(r.stdout).toBe('');
  });

  it('fails on a tampered signed package with --trust, with a one-line error and JSON error', () => {
    const bytes = readFileSync(full);
    bytes[bytes.length - 100]! ^= 0x01;
    const bad = join(tmp, 'tampered.hpk');
    writeFileSync(bad, bytes);
    const r = hotpatch('inspect', bad, '--trust', trusted, '--json');
    expect(r.status).toBe(exitCodeOf('SIG_BAD'));
    oneLineError(r, 'SIG_BAD');
    expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('SIG_BAD');
  });

  it('handles unsigned packages: shown without --trust, refused with it unless --allow-unsigned', () => {
    const shown = hotpatch('inspect', minimal);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('signature: unsigned');
    const refused = hotpatch('inspect', minimal, '--trust', trusted);
    expect(refused.status).toBe(exitCodeOf('SIG_MISSING'));
    oneLineError(refused, 'SIG_MISSING');
    expect(hotpatch('inspect', minimal, '--trust', trusted, '--allow-unsigned').status).toBe(0);
  });

  it('refuses files that are not packages, and missing files, with their exit codes', () => {
    const notPkg = hotpatch('inspect', join(ROOT, 'package.json'));
    expect(notPkg.status).toBe(exitCodeOf('PKG_BAD_MAGIC'));
    oneLineError(notPkg, 'PKG_BAD_MAGIC');
    const truncated = join(tmp, 'truncated.hpk');
    writeFileSync(truncated, readFileSync(full).subarray(0, 100));
    const t = hotpatch('inspect', truncated);
    expect(t.status).toBe(20);
    oneLineError(t, 'PKG_TRUNCATED');
    const missing = hotpatch('inspect', join(tmp, 'nope.hpk'));
    expect(missing.status).toBe(exitCodeOf('IO_NOT_FOUND'));
    oneLineError(missing, 'IO_NOT_FOUND');
    const badKey = hotpatch('inspect', full, '--trust', minimal);
    expect(badKey.status).toBe(exitCodeOf('SIG_KEY'));
    oneLineError(badKey, 'SIG_KEY');
  });

  it('shows a format 1.3 package (32-byte header) and a stored format 2 payload', async () => {
    const v13 = hotpatch('inspect', join(GOLDEN, 'v1.3/full.hpk'), '--trust', trusted, '--full', '--json');
    expect(v13.status).toBe(0);
    const j = JSON.parse(v13.stdout) as PackageReport & { package: unknown };
    expect([j.format, j.signature.status, j.sizes.header, j.sizes.payloadStorage]).toEqual(['1.3', 'verified', 32, 'zstd']);
    expect(j.package).toEqual(JSON.parse(readFileSync(join(GOLDEN, 'v1.3/full.json'), 'utf8')));
    // A one-function package whose code zstd cannot shrink: stored, and the text says so.
    const small = await minimalPackage();
    const code = pseudoCode(40, 7);
    const enc = await encodePackage({
      ...small,
      target: { ...small.target, reliedRanges: [], reliedSha256: new Uint8Array(0) },
      codeBlocks: small.codeBlocks.map((b) => ({ ...b, bytes: { kind: 'literal', bytes: code } })),
      functions: small.functions.map((f) => ({ ...f, newSize: code.length })),
      producer: { compilerVersion: 'hotpatch-compiler 0.1.0', parameters: [] },
    });
    if (!enc.ok) throw new Error(enc.error.message);
    const file = join(tmp, 'stored.hpk');
    writeFileSync(file, enc.value);
    const text = hotpatch('inspect', file);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('format 2.9');
    expect(text.stdout).toContain('producer    hotpatch-compiler 0.1.0');
    expect(text.stdout).toMatch(/size {8}\d+ bytes: header \d+, payload \d+ \(stored: zstd would not shrink it\), signature 0/);
  });

  it('has --help', () => {
    const r = hotpatch('inspect', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--trust');
    expect(r.stdout).toContain('--allow-unsigned');
  });
});
