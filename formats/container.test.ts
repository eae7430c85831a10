/**
 * loadPackage refuses each kind of bad input with its own stable code, in the documented
 * order, and accepts good packages with the right signature status.
 */
import { describe, expect, it } from 'vitest';
import { encodePayload } from './codec.ts';
import { encodePackage, FLAG_SIGNED, FLAG_STORED, loadPackage, readHeader, type LoadOptions } from './container.ts';
import { hotpatch } from './generated/hotpatch.js';
import { FORMAT_MAJOR, FORMAT_MINOR, type HotpatchPackage } from './package.ts';
import { fullPackage, minimalPackage, pseudoCode } from './testing/sample-packages.ts';
import { frameWithoutSize, goldenFile, goldenKeys, rleFrame, wrapPayload, wrapRaw, wrapStored } from './testing/wrap.ts';
import { asRva } from '../common/types.ts';

const keys = await goldenKeys();
const TRUSTED: LoadOptions = { trusted: [keys.trusted], allowUnsigned: false };
/** A viewer's load (inspect without --trust): every check but the signature's. */
const ANY: LoadOptions = { trusted: [], allowUnsigned: true, readOnly: true };
/** What `apply --allow-unsigned` without --trust asks for. */
const ALLOW_UNSIGNED: LoadOptions = { trusted: [], allowUnsigned: true };

async function code(bytes: Uint8Array, opts: LoadOptions): Promise<string> {
  const r = await loadPackage(bytes, opts);
  if (r.ok) return 'ok';
  expect(r.error.message).not.toContain('\n');
  return r.error.code;
}

function patch(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const out = bytes.slice();
  out.set(values, at);
  return out;
}

/** Header length of a committed golden file (format 2 headers vary with their fields). */
function headerLength(bytes: Uint8Array): number {
  const h = readHeader(bytes);
  if (!h.ok) throw new Error(h.error.message);
  return h.value.headerLength;
}

/** A format 2 header by hand: magic, major digit, minor, flags, then `rest` (varints, key id). */
function header(flags: number, rest: number[]): number[] {
  return [0x48, 0x50, 0x4b, 0x30 + FORMAT_MAJOR, FORMAT_MINOR, flags, ...rest];
}

describe('loadPackage: header and lengths', () => {
  const full = goldenFile('full');
  const minimal = goldenFile('minimal');
  const fullV1 = goldenFile('v1.3/full');

  it('refuses a file that is not a package', async () => {
    expect(await code(new TextEncoder().encode('MZ\x90\x00 this is a PE file, not a package'), ANY)).toBe('PKG_BAD_MAGIC');
    expect(await code(patch(full, 3, [0x41]), ANY)).toBe('PKG_BAD_MAGIC');
    expect(await code(patch(full, 2, [0x42]), ANY)).toBe('PKG_BAD_MAGIC');
    expect(await code(new Uint8Array(0), ANY)).toBe('PKG_TRUNCATED');
  });

  it('refuses a file cut anywhere inside its header (format 2 and format 1)', async () => {
    for (const file of [full, minimal, fullV1]) {
      for (let n = 0; n < headerLength(file); n++) expect(await code(file.slice(0, n), ANY), `${n} bytes`).toBe('PKG_TRUNCATED');
    }
  });

  it('refuses a newer or an unknown major version, naming both versions', async () => {
    const r = await loadPackage(patch(full, 3, [0x30 + FORMAT_MAJOR + 1]), ANY);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('PKG_VERSION');
    expect(r.error.message).toContain(`${FORMAT_MAJOR + 1}`);
    expect(r.error.message).toContain(`${FORMAT_MAJOR}.${FORMAT_MINOR}`);
    expect(await code(patch(full, 3, [0x30]), ANY)).toBe('PKG_VERSION');
    // A format 1 header ("HPK1") whose own major field says something else.
    expect(await code(patch(fullV1, 4, [2, 0, 3, 0]), ANY)).toBe('PKG_VERSION');
    expect(await code(patch(fullV1, 4, [0, 0]), ANY)).toBe('PKG_VERSION');
  });

  it('reads a newer minor version of the same major', async () => {
    // Minor versions only add fields; the unsigned sample stays loadable with minor 9.
    expect(await code(patch(minimal, 4, [9]), ANY)).toBe('ok');
    expect(await code(patch(goldenFile('v1.3/minimal'), 6, [9, 0]), ANY)).toBe('ok');
  });

  it('refuses unknown flags and flags that disagree with the lengths', async () => {
    for (const f of [0x04, 0x80, FLAG_SIGNED | 0x10]) expect(await code(patch(full, 5, [f]), ANY), `flags ${f}`).toBe('PKG_FLAGS');
    expect(await code(patch(fullV1, 8, [0x03]), ANY)).toBe('PKG_FLAGS');
    // The signed flag cleared on a signed file: the key id and signature are left over.
    expect(await code(patch(full, 5, [0]), ANY)).toBe('PKG_LENGTH');
    // The signed flag set on an unsigned file: the payload's first bytes would be the key id, and 64 bytes are missing.
    expect(await code(patch(minimal, 5, [FLAG_SIGNED]), ANY)).toBe('PKG_TRUNCATED');
    // The stored flag on a zstd payload: the uncompressed length is read as payload, and the file is longer.
    const zstdUnsigned = await wrapRaw(encodePayload(await minimalPackage()));
    expect(await code(zstdUnsigned, ANY)).toBe('ok');
    expect(await code(patch(zstdUnsigned, 5, [FLAG_STORED]), ANY)).toBe('PKG_LENGTH');
    // And the reverse: a stored payload read as a zstd frame (its first bytes taken for U).
    const mh = readHeader(minimal);
    expect(mh.ok && mh.value.stored).toBe(true);
    expect(await code(patch(minimal, 5, [0]), ANY)).not.toBe('ok');
    expect(await code(full.slice(0, full.length - 1), ANY)).toBe('PKG_TRUNCATED');
    const longer = new Uint8Array(full.length + 1);
    longer.set(full);
    expect(await code(longer, ANY)).toBe('PKG_LENGTH');
    // Format 1: signature length against the flag, key id on an unsigned package, empty payload.
    expect(await code(patch(fullV1, 20, [63]), ANY)).toBe('PKG_LENGTH');
    expect(await code(patch(goldenFile('v1.3/minimal'), 24, [1]), ANY)).toBe('PKG_LENGTH');
    expect(await code(patch(goldenFile('v1.3/minimal'), 12, [0, 0, 0, 0]), ANY)).toBe('PKG_LENGTH');
  });

  it('refuses header varints that are 0, not minimal, or longer than 4 bytes', async () => {
    const payload = [0x0a, 0x00];
    const cases: ReadonlyArray<readonly [string, number[], string]> = [
      ['payload length 0', header(FLAG_STORED, [0x00]), 'PKG_LENGTH'],
      ['payload length not minimal', header(FLAG_STORED, [0x82, 0x00]), 'PKG_LENGTH'],
      ['payload length of 5 bytes', header(FLAG_STORED, [0x82, 0x80, 0x80, 0x80, 0x00]), 'PKG_LENGTH'],
      ['payload length 2^28 - 1 (file far shorter)', header(FLAG_STORED, [0xff, 0xff, 0xff, 0x7f]), 'PKG_TRUNCATED'],
      ['uncompressed length 0', header(0, [0x02, 0x00]), 'PKG_LENGTH'],
      ['uncompressed length not minimal', header(0, [0x02, 0x81, 0x00]), 'PKG_LENGTH'],
      ['uncompressed length of 5 bytes', header(0, [0x02, 0x81, 0x80, 0x80, 0x80, 0x01]), 'PKG_LENGTH'],
      ['a varint cut by the end of the file', header(0, [0x82]), 'PKG_TRUNCATED'],
    ];
    for (const [what, h, c] of cases) expect(await code(Uint8Array.from([...h, ...(h.length > 7 || c === 'PKG_LENGTH' ? payload : [])]), ANY), what).toBe(c);
  });

  it('refuses a declared size over the bound before looking at the signature or payload', async () => {
    // The header declares 100 MiB behind a small frame; the bound is checked on the header.
    expect(await code(await wrapPayload(rleFrame(1000, 1000), 100 * 2 ** 20), ANY)).toBe('PKG_BOMB');
    expect(await code(minimal, { ...ANY, maxUncompressed: 100 })).toBe('PKG_BOMB');
    // A stored payload is its own uncompressed length: bounded the same way.
    const stored = await wrapStored(encodePayload(await minimalPackage()));
    expect(await code(stored, ANY)).toBe('ok');
    expect(await code(stored, { ...ANY, maxUncompressed: 100 })).toBe('PKG_BOMB');
    expect(await code(patch(goldenFile('v1.3/minimal'), 16, [0, 0, 0, 0x10]), ANY)).toBe('PKG_BOMB');
  });
});

describe('encodePackage: compact header and stored payloads', () => {
  it('stores a payload that zstd would not shrink, compresses one it does, and both load to the same model', async () => {
    const small = await minimalPackage();
    // What the compiler writes for a one-function fix: relied only on its redirect site, no data.
    // Code bytes with little redundancy, as a real function's are.
    const code = pseudoCode(40, 7);
    const tiny: HotpatchPackage = {
      ...small,
      target: { ...small.target, reliedRanges: [], reliedSha256: new Uint8Array(0) },
      codeBlocks: small.codeBlocks.map((b) => ({ ...b, bytes: { kind: 'literal', bytes: code } })),
      functions: small.functions.map((f) => ({ ...f, newSize: code.length })),
      producer: { compilerVersion: 'hotpatch-compiler 0.1.0', parameters: [] },
    };
    for (const [pkg, stored] of [[tiny, true], [await fullPackage(), false]] as const) {
      const enc = await encodePackage(pkg, { signingKey: keys.signing });
      if (!enc.ok) throw new Error(enc.error.message);
      const h = readHeader(enc.value);
      if (!h.ok) throw new Error(h.error.message);
      expect(h.value.stored).toBe(stored);
      expect(h.value.flags).toBe(FLAG_SIGNED | (stored ? FLAG_STORED : 0));
      // 6 fixed bytes, 1-4 per varint, a 4-byte key id: never the 32 of format 1.
      expect(h.value.headerLength).toBeLessThanOrEqual(6 + (stored ? 2 : 4) + 4);
      const raw = encodePayload(pkg);
      expect(enc.value.length - h.value.headerLength - 64).toBe(stored ? raw.length : h.value.payloadLength);
      if (!stored) expect(h.value.payloadLength).toBeLessThan(raw.length);
      const r = await loadPackage(enc.value, TRUSTED);
      expect(r.ok && r.value.package).toEqual(pkg);
    }
  });

  it('refuses a stored payload that is not a Package, after the signature', async () => {
    expect(await code(await wrapStored(new Uint8Array(64).fill(0xff)), ANY)).toBe('PKG_DECODE');
    const bad = await wrapStored(new Uint8Array(64).fill(0xff), { key: keys.signing });
    expect(await code(bad, TRUSTED)).toBe('PKG_DECODE');
    const flipped = bad.slice();
    flipped[12]! ^= 1;
    expect(await code(flipped, TRUSTED)).toBe('SIG_BAD');
  });
});

describe('loadPackage: signatures', () => {
  const full = goldenFile('full');
  const minimal = goldenFile('minimal');

  it('verifies a package signed by a trusted key', async () => {
    const r = await loadPackage(full, TRUSTED);
    expect(r.ok && r.value.signature).toEqual({ status: 'verified', keyId: Buffer.from(keys.trusted.id).toString('hex') });
  });

  it('refuses an unsigned package unless allowUnsigned', async () => {
    expect(await code(minimal, TRUSTED)).toBe('SIG_MISSING');
    expect(await code(minimal, { trusted: [], allowUnsigned: false })).toBe('SIG_MISSING');
    const r = await loadPackage(minimal, { trusted: [keys.trusted], allowUnsigned: true });
    expect(r.ok && r.value.signature).toEqual({ status: 'unsigned' });
  });

  it('refuses a package signed by another key', async () => {
    const pkg = await fullPackage();
    const raw = encodePayload(pkg);
    const byOther = await wrapRaw(raw, { key: keys.other });
    expect(await code(byOther, TRUSTED)).toBe('SIG_UNTRUSTED');
    // allowUnsigned does not excuse a signature that does not verify against the trusted keys.
    expect(await code(byOther, { trusted: [keys.trusted], allowUnsigned: true })).toBe('SIG_UNTRUSTED');
    expect(await code(byOther, { trusted: [keys.otherPublic, keys.trusted], allowUnsigned: false })).toBe('ok');
    // A signature by another key under the trusted key's id is a bad signature.
    const plain = await wrapRaw(raw);
    const forged = await wrapPayload(plain.subarray(headerLength(plain)), raw.length, { key: keys.other, header: { keyId: keys.trusted.id.subarray(0, 4) } });
    expect(await code(forged, TRUSTED)).toBe('SIG_BAD');
  });

  it('allowUnsigned admits only unsigned packages: a signature with no trusted key to check it is SIG_UNTRUSTED', async () => {
    expect(await code(full, ALLOW_UNSIGNED)).toBe('SIG_UNTRUSTED');
    expect(await code(full, { trusted: [], allowUnsigned: false })).toBe('SIG_UNTRUSTED');
    // Only a read-only viewer (inspect, verify) may load it unchecked, and it says so.
    const r = await loadPackage(full, ANY);
    expect(r.ok && r.value.signature.status).toBe('not-verified');
  });

  it('allowUnsigned never admits a tampered or foreign signed package (issue #17, item 4)', async () => {
    // Every single-bit flip of the signed package, loaded the way `apply --allow-unsigned`
    // loads it (with and without the signer's key): none loads.
    const modes: LoadOptions[] = [ALLOW_UNSIGNED, { trusted: [keys.trusted], allowUnsigned: true }, { trusted: [keys.otherPublic], allowUnsigned: true }];
    let loaded = 0;
    for (let i = 0; i < full.length; i += 7) {
      for (const bit of [0, 5]) {
        const m = full.slice();
        m[i] = m[i]! ^ (1 << bit);
        for (const o of modes) if ((await loadPackage(m, o)).ok) loaded++;
      }
    }
    expect(loaded).toBe(0);
    expect(await code(full, { trusted: [keys.otherPublic], allowUnsigned: true })).toBe('SIG_UNTRUSTED');
  });

  it('refuses every single-bit flip anywhere in a signed package', async () => {
    const codes = new Map<string, number>();
    for (let bit = 0; bit < full.length * 8; bit++) {
      const bad = full.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const c = await code(bad, TRUSTED);
      expect(c, `bit ${bit}`).not.toBe('ok');
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    // Flips in the payload or the signature itself are caught by the signature check.
    expect(codes.get('SIG_BAD')).toBeGreaterThan((full.length - headerLength(full)) * 8 - 64);
  });

  it('refuses a signature stripped off (flag cleared, lengths adjusted)', async () => {
    const h = readHeader(full);
    if (!h.ok) throw new Error(h.error.message);
    const at = h.value.headerLength;
    const stripped = await wrapPayload(full.subarray(at, at + h.value.payloadLength), h.value.uncompressedLength);
    expect(await code(stripped, TRUSTED)).toBe('SIG_MISSING');
    const v1 = goldenFile('v1.3/full');
    const strippedV1 = patch(v1.slice(0, v1.length - 64), 8, [0, 0, 0, 0, ...Array.from(v1.subarray(12, 20)), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(await code(strippedV1, TRUSTED)).toBe('SIG_MISSING');
  });
});

describe('loadPackage: payload', () => {
  it('refuses a zstd frame that does not declare its size, or declares another size', async () => {
    expect(await code(await wrapPayload(frameWithoutSize(Uint8Array.of(1, 2, 3)), 3), ANY)).toBe('PKG_BOMB');
    expect(await code(await wrapPayload(rleFrame(4000, 4000), 3000), ANY)).toBe('PKG_ZSTD');
  });

  it('refuses a decompression bomb without expanding it', async () => {
    // 1 GiB of zeros in a 32 KiB frame, declared honestly in the frame; the header admits it.
    const gib = rleFrame(2 ** 30, 2 ** 30);
    expect(gib.length).toBeLessThan(40_000);
    const before = process.memoryUsage().rss;
    expect(await code(await wrapPayload(gib, 2 ** 28 - 1), ANY)).toBe('PKG_BOMB');
    // A format 2 header cannot even state 1 GiB (varints stop below 2^28).
    expect(await code(await wrapPayload(gib, 2 ** 30), ANY)).toBe('PKG_LENGTH');
    // The header lies (small); the frame says 1 GiB.
    expect(await code(await wrapPayload(gib, 1000), ANY)).toBe('PKG_ZSTD');
    // Both lie: 1000 bytes declared, 1000-byte blocks that expand to 100 MiB. Output is capped at 1000.
    const liar = rleFrame(1000, 100 * 2 ** 20);
    expect(liar.length).toBeLessThan(500_000);
    expect(await code(await wrapPayload(liar, 1000), ANY)).toBe('PKG_ZSTD');
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  });

  it('refuses corrupt zstd data', async () => {
    // The full package: its frame holds a compressed block (the minimal one is small enough to be stored raw).
    const good = await wrapRaw(encodePayload(await fullPackage()));
    const bad = good.slice();
    for (let i = headerLength(good) + 12; i < bad.length; i++) bad[i] = 0xff;
    expect(await code(bad, ANY)).toBe('PKG_ZSTD');
    expect(await code(await wrapPayload(Uint8Array.of(1, 2, 3, 4, 5, 6), 6), ANY)).toBe('PKG_ZSTD');
  });

  it('refuses a payload that is not a Package protobuf', async () => {
    expect(await code(await wrapRaw(new Uint8Array(64).fill(0xff)), ANY)).toBe('PKG_DECODE');
    expect(await code(await wrapRaw(Uint8Array.of(0x0a, 0x50, 0x08)), ANY)).toBe('PKG_DECODE');
  });

  it('refuses deeply nested unknown groups (no stack overflow escapes)', async () => {
    // Field 15, wire type 3 (start group), 500,000 levels deep: protobufjs skips groups
    // recursively, so this exhausts the stack; it must come back as PKG_DECODE.
    const r = await loadPackage(await wrapRaw(new Uint8Array(500_000).fill(0x7b)), ANY);
    expect(r.ok ? 'ok' : r.error.code).toBe('PKG_DECODE');
  });

  it('refuses a package without a target, or with an unknown enum value', async () => {
    expect(await code(await wrapRaw(Uint8Array.of(0x12, 0x00)), ANY)).toBe('PKG_INVALID');
    const m = hotpatch.Package.decode(encodePayload(await minimalPackage()));
    m.redirects[0]!.kind = 99 as hotpatch.RedirectKind;
    const r = await loadPackage(await wrapRaw(hotpatch.Package.encode(m).finish()), ANY);
    expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`).toBe('PKG_INVALID: redirects[0].kind 99 is not a redirect kind');
  });

  it('accepts a package that is signed and valid, decoded to the same model', async () => {
    const pkg = await fullPackage();
    const r = await loadPackage(await wrapRaw(encodePayload(pkg), { key: keys.signing }), TRUSTED);
    expect(r.ok && r.value.package).toEqual(pkg);
  });
});

describe('loadPackage: semantic validation', () => {
  async function invalid(edit: (p: HotpatchPackage) => HotpatchPackage): Promise<string> {
    const r = await loadPackage(await wrapRaw(encodePayload(edit(await fullPackage()))), ANY);
    return r.ok ? 'ok' : `${r.error.code}: ${r.error.message}`;
  }
  const cases: ReadonlyArray<readonly [string, (p: HotpatchPackage) => HotpatchPackage, string]> = [
    ['a fixup outside its block', (p) => ({ ...p, codeBlocks: [{ ...p.codeBlocks[1]!, fixups: [{ ...p.codeBlocks[1]!.fixups[0]!, offset: 16 }] }, p.codeBlocks[0]!] }), 'codeBlocks[0].fixups[0]: offset 16 + 4 bytes is outside its 19-byte container'],
    ['overlapping fixups', (p) => ({ ...p, codeBlocks: [{ ...p.codeBlocks[0]!, fixups: [p.codeBlocks[0]!.fixups[0]!, { ...p.codeBlocks[0]!.fixups[3]!, offset: 0x12 }] }, p.codeBlocks[1]!] }), 'codeBlocks[0].fixups[1]: overlaps codeBlocks[0].fixups[0]'],
    ['a duplicate block id', (p) => ({ ...p, dataBlocks: [{ ...p.dataBlocks[0]!, id: 1 }] }), 'dataBlocks[0].id: block id 1 is used twice'],
    ['a fixup to a missing block', (p) => ({ ...p, dataBlocks: [{ ...p.dataBlocks[0]!, fixups: [{ kind: 'abs64', offset: 0, target: { kind: 'block', blockId: 9, offset: 0 }, addend: 0n }] }] }), 'dataBlocks[0].fixups[0]: target block 9 does not exist'],
    ['a fixup to a missing import', (p) => ({ ...p, imports: p.imports.slice(0, 1) }), 'codeBlocks[0].fixups[4]: import 1 does not exist (1 imports)'],
    ['a duplicate redirect', (p) => ({ ...p, redirects: [...p.redirects, p.redirects[1]!] }), 'redirects[3]: second redirect at RVA 0x1100'],
    // Since 1.3 redirect sites are pinned by their expected bytes, not the relied ranges; the hash is empty exactly when the ranges are.
    ['a relied hash with no relied ranges', (p) => ({ ...p, target: { ...p.target, reliedRanges: [] } }), 'target.reliedSha256: 16 bytes, expected 0 (no relied ranges)'],
    ['relied ranges without a hash', (p) => ({ ...p, target: { ...p.target, reliedSha256: new Uint8Array(0) } }), 'target.reliedSha256: 0 bytes, expected 16 or 32'],
    // Since 2.8 the first 16 bytes of the digest (1.x-2.7: all 32); no other length.
    ['a relied hash of 20 bytes', (p) => ({ ...p, target: { ...p.target, reliedSha256: new Uint8Array(20) } }), 'target.reliedSha256: 20 bytes, expected 16 or 32'],
    // Since 2.0 ranges travel as unsigned gaps: out of order, a range wraps past 2^32 at decoding.
    ['unsorted relied ranges', (p) => ({ ...p, target: { ...p.target, reliedRanges: [...p.target.reliedRanges].reverse() } }), 'target.reliedRangeGaps[1]: range ends past 2^32 (ranges must be sorted)'],
    ['adjacent relied ranges (gap 0)', (p) => ({ ...p, target: { ...p.target, reliedRanges: [{ rva: asRva(0x1000), length: 0x10 }, { rva: asRva(0x1010), length: 0x10 }] } }), 'target.reliedRanges[1]: not sorted, disjoint and non-adjacent (merge it with the previous range)'],
    ['a short jump out of reach', (p) => ({ ...p, redirects: p.redirects.map((r) => (r.pad === null ? r : { ...r, pad: { ...r.pad, rva: asRva(0x1000) } })) }), 'redirects[2].padRva: 0x1000 is out of short-jump reach of 0x1200'],
    ['a redirect with the wrong number of expected bytes', (p) => ({ ...p, redirects: p.redirects.map((r, i) => (i === 0 ? { ...r, expected: r.expected.subarray(0, 4) } : r)) }), 'redirects[0].expected: 4 bytes, a jmp-abs64 redirect writes 14'],
    // 2.1: what a delta base hash or a redirect's expected bytes pinned, only the relied ranges may pin instead.
    ['a redirect without expected bytes outside the relied ranges', (p) => ({ ...p, target: { ...p.target, reliedRanges: p.target.reliedRanges.filter((r) => r.rva !== 0x1000) }, redirects: p.redirects.map((r, i) => (i === 0 ? { ...r, expected: new Uint8Array(0) } : r)) }), 'redirects[0].expected: none, and the site is not covered by target.reliedRanges'],
    ['a pad without expected bytes outside the relied ranges', (p) => ({ ...p, target: { ...p.target, reliedRanges: p.target.reliedRanges.filter((r) => r.rva !== 0x11f8) } }), 'redirects[2].padExpected: none, and the pad is not covered by target.reliedRanges'],
    ['a delta base without a hash outside the relied ranges', (p) => ({ ...p, target: { ...p.target, reliedRanges: p.target.reliedRanges.filter((r) => r.rva !== 0x1100) }, redirects: p.redirects.map((r, i) => (i === 1 ? { ...r, expected: new Uint8Array(5) } : r)) }), 'codeBlocks[0].bytes.base: not covered by target.reliedRanges'],
    ['a delta base hash of 31 bytes', (p) => ({ ...p, codeBlocks: p.codeBlocks.map((b, i) => (i === 0 && b.bytes.kind === 'delta' ? { ...b, bytes: { ...b.bytes, baseSha256: new Uint8Array(31) } } : b)) }), 'codeBlocks[0].bytes.baseSha256: 31 bytes, expected 32 (or none)'],
    ['a changed function without a redirect', (p) => ({ ...p, redirects: p.redirects.slice(0, 2) }), 'functions[2]: changed function at 0x1200 has no redirect'],
    ['a delta reading past its base', (p) => ({ ...p, codeBlocks: [{ ...p.codeBlocks[0]!, bytes: { kind: 'delta', base: { rva: asRva(0x1100), length: 0x80 }, baseSha256: new Uint8Array(32), size: 0x90, ops: [{ kind: 'copy', offset: 0, length: 0x90 }] } }, p.codeBlocks[1]!] }), 'codeBlocks[0].bytes.ops[0] copies [0, 144) outside its 128-byte base'],
    ['an unwind entry past its block', (p) => ({ ...p, codeBlocks: [{ ...p.codeBlocks[0]!, unwind: { ...p.codeBlocks[0]!.unwind!, runtimeFunctions: [{ beginOffset: 0, endOffset: 0x100, unwindInfoOffset: 0 }] } }, p.codeBlocks[1]!] }), 'codeBlocks[0].unwind.runtimeFunctions[0]: [0, 256) is empty or outside its 131-byte block'],
    ['an addr32nb fixup outside unwind data', (p) => ({ ...p, dataBlocks: [{ ...p.dataBlocks[0]!, fixups: [{ kind: 'addr32nb', offset: 0, target: { kind: 'image', rva: asRva(0x1000) }, addend: 0n }] }] }), 'dataBlocks[0].fixups[0]: addr32nb fixups belong in unwind data only'],
    ['an imagerel32 fixup in unwind data', (p) => ({ ...p, codeBlocks: p.codeBlocks.map((c) => (c.unwind === null ? c : { ...c, unwind: { ...c.unwind, unwindFixups: [{ kind: 'imagerel32', offset: 0, target: { kind: 'image', rva: asRva(0x1000) }, addend: 0n }] } })) }), 'codeBlocks[0].unwind.unwindFixups[0]: imagerel32 fixups belong in code or data blocks only'],
    ['a non-AMD64 target', (p) => ({ ...p, target: { ...p.target, machine: 0x14c } }), 'target.machine: 0x14c is not AMD64 (0x8664)'],
    ['an alignment that is not a power of two', (p) => ({ ...p, dataBlocks: [{ ...p.dataBlocks[0]!, alignment: 12 }] }), 'dataBlocks[0].alignment: 12 is not a power of two in 1..4096'],
  ];
  for (const [what, edit, message] of cases) {
    it(`refuses ${what}`, async () => {
      expect(await invalid(edit)).toBe(`PKG_INVALID: ${message}`);
    });
  }
});
