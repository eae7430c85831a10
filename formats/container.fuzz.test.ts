/**
 * Fuzzing the package reader (the loader's whole attack surface): mutated containers,
 * mutated compressed payloads and mutated protobuf payloads, loaded with and without
 * signature checking. Every case must return, without throwing, either a package that
 * validates or one error value whose code is one of LOAD_ERROR_CODES and whose message is
 * one line. A signed package that loads under a trusted key must be the original bytes (no
 * mutation gets past the signature). A seeded PRNG makes failures reproducible (the case
 * number and strategy are in the message). A few thousand cases by default; 100,000 with
 * HOTPATCH_FUZZ=full (`npm run fuzz`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePayload } from './codec.ts';
import { LOAD_ERROR_CODES, loadPackage, readHeader, type LoadOptions } from './container.ts';
import { validatePackage } from './validate.ts';
import { arbitraryPackage } from './testing/arbitrary.ts';
import { fullPackage, minimalPackage } from './testing/sample-packages.ts';
import { goldenFile, goldenKeys, wrapPayload, wrapRaw, wrapStored } from './testing/wrap.ts';
import { compressZstd } from './zstd.ts';
import { hotpatch } from './generated/hotpatch.js';
import { mulberry32 as rng } from '../test/support/prng.ts';

const FULL = process.env['HOTPATCH_FUZZ'] === 'full';
const CASES = FULL ? 100_000 : 3_000;


const INTERESTING_U32 = [0, 1, 2, 31, 32, 33, 63, 64, 65, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

/** Byte-level mutations shared by every layer. */
function mutate(input: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number): number => Math.floor(r() * n);
  let b = Array.from(input);
  const rounds = 1 + pick(4);
  for (let k = 0; k < rounds; k++) {
    const at = b.length === 0 ? 0 : pick(b.length);
    switch (pick(8)) {
      case 0: // flip one bit
        if (b.length > 0) b[at] = b[at]! ^ (1 << pick(8));
        break;
      case 1: // random byte
        if (b.length > 0) b[at] = pick(256);
        break;
      case 2: // interesting byte
        if (b.length > 0) b[at] = [0, 0x7f, 0x80, 0xff][pick(4)]!;
        break;
      case 3: // insert bytes
        b.splice(at, 0, ...Array.from({ length: 1 + pick(8) }, () => pick(256)));
        break;
      case 4: // delete bytes
        b.splice(at, 1 + pick(16));
        break;
      case 5: // truncate
        b = b.slice(0, pick(b.length + 1));
        break;
      case 6: // duplicate a chunk elsewhere (splice)
        {
          const from = pick(b.length + 1);
          const chunk = b.slice(from, from + 1 + pick(32));
          b.splice(pick(b.length + 1), 0, ...chunk);
        }
        break;
      default: // interesting little-endian u32
        if (b.length >= 4) {
          const v = INTERESTING_U32[pick(INTERESTING_U32.length)]!;
          const o = pick(b.length - 3);
          b[o] = v & 0xff;
          b[o + 1] = (v >>> 8) & 0xff;
          b[o + 2] = (v >>> 16) & 0xff;
          b[o + 3] = (v >>> 24) & 0xff;
        }
    }
  }
  return Uint8Array.from(b);
}

/** A format 1 header field (offsets 4..31) set to an interesting value (the frozen 1.3 golden). */
function mutateV1Header(input: Uint8Array, r: () => number): Uint8Array {
  const out = input.slice();
  const v = new DataView(out.buffer);
  const field = [4, 6, 8, 12, 16, 20, 24, 28][Math.floor(r() * 8)]!;
  const base = [input.length, input.length - 32, 64, 0][Math.floor(r() * 4)]!;
  const value = r() < 0.5 ? INTERESTING_U32[Math.floor(r() * INTERESTING_U32.length)]! : (base + Math.floor(r() * 5) - 2) >>> 0;
  if (field === 4 || field === 6) v.setUint16(field, value & 0xffff, true);
  else v.setUint32(field, value, true);
  return out;
}

/**
 * A format 2 header mutated: one byte from the version digit on set to an interesting value,
 * or the varint lengths (from offset 6 to the key id) replaced by 1-6 random varint-like bytes.
 */
function mutateHeader(input: Uint8Array, r: () => number): Uint8Array {
  const h = readHeader(input);
  if (!h.ok) throw new Error(h.error.message);
  const pick = (n: number): number => Math.floor(r() * n);
  const out = Array.from(input);
  if (r() < 0.5) {
    const at = 3 + pick(h.value.headerLength - 3);
    out[at] = [0, 1, 2, 3, 0x30, 0x31, 0x32, 0x33, 0x7f, 0x80, 0x81, 0xff, pick(256)][pick(13)]!;
    return Uint8Array.from(out);
  }
  const lengths = Array.from({ length: 1 + pick(6) }, () => (r() < 0.6 ? 0x80 : 0) | pick(128));
  out.splice(6, h.value.keyIdOffset - 6, ...lengths);
  return Uint8Array.from(out);
}

/**
 * A structured mutation: decode the protobuf, change one field of the message tree (a
 * number to an interesting value, a byte string shortened, an array element removed or
 * duplicated), encode again. Reaches semantic validation far more often than byte noise.
 */
function mutateMessage(raw: Uint8Array, r: () => number): Uint8Array {
  const msg = hotpatch.Package.decode(raw) as unknown as Record<string, unknown>;
  const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) {
      o.forEach((x, i) => {
        slots.push([o, i]);
        walk(x);
      });
    } else if (o !== null && typeof o === 'object' && !(o instanceof Uint8Array)) {
      for (const k of Object.keys(o)) {
        if (k.startsWith('$')) continue;
        slots.push([o as Record<string, unknown>, k]);
        walk((o as Record<string, unknown>)[k]);
      }
    }
  };
  walk(msg);
  const [holder, key] = slots[Math.floor(r() * slots.length)]!;
  const value = (holder as Record<string | number, unknown>)[key];
  const interesting = INTERESTING_U32[Math.floor(r() * INTERESTING_U32.length)]!;
  if (Array.isArray(holder) && typeof key === 'number') {
    if (r() < 0.5) holder.splice(key, 1);
    else holder.splice(key, 0, holder[key]);
  } else if (typeof value === 'number') {
    (holder as Record<string, unknown>)[key] = r() < 0.5 ? interesting : (value + Math.floor(r() * 5) - 2) >>> 0;
  } else if (value instanceof Uint8Array) {
    (holder as Record<string, unknown>)[key] = value.subarray(0, Math.floor(r() * value.length));
  } else if (typeof value === 'string') {
    (holder as Record<string, unknown>)[key] = r() < 0.5 ? '' : value + value;
  } else if (Array.isArray(value) && value.length > 0) {
    value.pop();
  }
  return hotpatch.Package.encode(msg as hotpatch.Package.$Properties).finish();
}

describe('package loader fuzz', () => {
  it(
    `survives ${CASES} mutated packages with one stable error code each`,
    async () => {
      const keys = await goldenKeys();
      const signed = goldenFile('full');
      const unsigned = goldenFile('minimal');
      const signedV1 = goldenFile('v1.3/full');
      const raws = [encodePayload(await fullPackage()), encodePayload(await minimalPackage()), ...fc.sample(arbitraryPackage(), { numRuns: 6, seed: 42 }).map(encodePayload)];
      const compressed: Uint8Array[] = [];
      for (const raw of raws) {
        const c = await compressZstd(raw, 3);
        if (!c.ok) throw new Error(c.error.message);
        compressed.push(c.value);
      }
      const TRUSTED: LoadOptions = { trusted: [keys.trusted], allowUnsigned: false };
      const ANY: LoadOptions = { trusted: [], allowUnsigned: true, readOnly: true };
      const codes = new Map<string, number>();
      const r = rng(0x4850_4b31);
      let accepted = 0;
      for (let i = 0; i < CASES; i++) {
        const strategy = Math.floor(r() * 9);
        let bytes: Uint8Array;
        let opts: LoadOptions;
        let mustBe: Uint8Array | null = null; // a signed package may only load as itself
        switch (strategy) {
          case 0:
            bytes = mutate(signed, r);
            opts = TRUSTED;
            mustBe = signed;
            break;
          case 1:
            bytes = mutateHeader(signed, r);
            opts = TRUSTED;
            mustBe = signed;
            break;
          case 2:
            bytes = mutate(unsigned, r);
            opts = ANY;
            break;
          case 3:
            bytes = mutateHeader(unsigned, r);
            opts = ANY;
            break;
          case 4: {
            // Mutated zstd data in an otherwise well-formed unsigned container.
            const j = Math.floor(r() * compressed.length);
            bytes = await wrapPayload(mutate(compressed[j]!, r), raws[j]!.length);
            opts = ANY;
            break;
          }
          case 5: {
            // Mutated protobuf in a well-formed container: reaches decode and validation.
            const j = Math.floor(r() * raws.length);
            bytes = await wrapRaw(mutate(raws[j]!, r));
            opts = ANY;
            break;
          }
          case 6: {
            // A format 1 (32-byte header) signed package, header field changed.
            bytes = mutateV1Header(signedV1, r);
            opts = TRUSTED;
            mustBe = signedV1;
            break;
          }
          case 7: {
            // Mutated protobuf stored without zstd (FLAG_STORED).
            const j = Math.floor(r() * raws.length);
            bytes = await wrapStored(mutate(raws[j]!, r));
            opts = ANY;
            break;
          }
          default: {
            // One field of the message changed: reaches semantic validation.
            const j = Math.floor(r() * raws.length);
            bytes = await wrapRaw(mutateMessage(raws[j]!, r));
            opts = ANY;
          }
        }
        let res;
        try {
          res = await loadPackage(bytes, opts);
        } catch (e) {
          throw new Error(`case ${i} (strategy ${strategy}) threw: ${e instanceof Error ? e.message : String(e)}`);
        }
        if (res.ok) {
          accepted++;
          if (mustBe !== null) expect(Buffer.from(bytes).equals(Buffer.from(mustBe)), `case ${i}: a mutated signed package loaded`).toBe(true);
          expect(validatePackage(res.value.package).ok).toBe(true);
          codes.set('ok', (codes.get('ok') ?? 0) + 1);
          continue;
        }
        const { code, message } = res.error;
        if (!(LOAD_ERROR_CODES as readonly string[]).includes(code)) throw new Error(`case ${i} (strategy ${strategy}): unexpected code ${code}: ${message}`);
        if (message.includes('\n') || message.length === 0) throw new Error(`case ${i}: message is not one line: ${JSON.stringify(message)}`);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
      if (FULL) console.info(`package loader fuzz: ${CASES} cases`, Object.fromEntries(codes));
      // The fuzzer must actually reach every layer, or it proves nothing about them.
      for (const c of ['PKG_BAD_MAGIC', 'PKG_TRUNCATED', 'PKG_VERSION', 'PKG_FLAGS', 'PKG_LENGTH', 'SIG_BAD', 'PKG_ZSTD', 'PKG_DECODE', 'PKG_INVALID']) {
        expect(codes.get(c) ?? 0, `no case reached ${c}: ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
      }
      expect(accepted).toBeLessThan(CASES);
    },
    FULL ? 3_600_000 : 120_000,
  );
});
