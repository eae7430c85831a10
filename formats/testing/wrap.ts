/**
 * Test helpers that build containers by hand, around payloads encodePackage would never
 * write (invalid packages, garbage protobuf, hostile zstd frames), so the loader's later
 * checks can be reached and tested.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAG_SIGNED, FLAG_STORED, KEY_ID_PREFIX_LENGTH, writeHeader } from '../container-header.ts';
import { importPublicKey, importSigningKey, sign, type PublicKey, type SigningKey } from '../keys.ts';
import { FORMAT_MAJOR } from '../package.ts';
import { compressZstd } from '../zstd.ts';

/** Header fields (format 2), all overridable. */
export interface RawHeader {
  major?: number;
  minor?: number;
  flags?: number;
  payloadLength?: number;
  uncompressedLength?: number;
  keyId?: Uint8Array;
}

/**
 * A format 2 container around `payload` (a zstd frame, or the protobuf itself when the
 * header's flags say stored), unsigned unless a key is given.
 */
export async function wrapPayload(payload: Uint8Array, uncompressedLength: number, opts: { key?: SigningKey; header?: RawHeader } = {}): Promise<Uint8Array> {
  const signed = opts.key !== undefined;
  const h = writeHeader({
    ...(opts.header?.minor === undefined ? {} : { minor: opts.header.minor }),
    flags: opts.header?.flags ?? (signed ? FLAG_SIGNED : 0),
    payloadLength: opts.header?.payloadLength ?? payload.length,
    uncompressedLength: opts.header?.uncompressedLength ?? uncompressedLength,
    keyId: opts.header?.keyId ?? opts.key?.publicKey.id.subarray(0, KEY_ID_PREFIX_LENGTH) ?? new Uint8Array(0),
  });
  h[3] = 0x30 + (opts.header?.major ?? FORMAT_MAJOR);
  const body = new Uint8Array(h.length + payload.length);
  body.set(h, 0);
  body.set(payload, h.length);
  if (opts.key === undefined) return body;
  const sig = await sign(opts.key, body);
  const out = new Uint8Array(body.length + sig.length);
  out.set(body, 0);
  out.set(sig, body.length);
  return out;
}

/** A container around raw protobuf bytes stored as they are (no zstd frame). */
export async function wrapStored(raw: Uint8Array, opts: { key?: SigningKey; header?: RawHeader } = {}): Promise<Uint8Array> {
  const flags = (opts.key === undefined ? 0 : FLAG_SIGNED) | FLAG_STORED;
  return wrapPayload(raw, raw.length, { ...opts, header: { flags, ...opts.header } });
}

/** A container around raw (uncompressed) protobuf bytes, compressed at level 3. */
export async function wrapRaw(raw: Uint8Array, opts: { key?: SigningKey } = {}): Promise<Uint8Array> {
  const c = await compressZstd(raw, 3);
  if (!c.ok) throw new Error(c.error.message);
  return wrapPayload(c.value, raw.length, opts);
}

const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url));

/** The committed test keys: `test-signing` signs the golden packages, `other` is a stranger. */
export async function goldenKeys(): Promise<{ signing: SigningKey; trusted: PublicKey; other: SigningKey; otherPublic: PublicKey }> {
  const load = async (name: string): Promise<[SigningKey, PublicKey]> => {
    const s = await importSigningKey(readFileSync(join(GOLDEN, `${name}.key`), 'utf8'));
    const p = await importPublicKey(readFileSync(join(GOLDEN, `${name}.pub`), 'utf8'));
    if (!s.ok || !p.ok) throw new Error(`golden key ${name} does not load`);
    return [s.value, p.value];
  };
  const [signing, trusted] = await load('test-signing');
  const [other, otherPublic] = await load('other');
  return { signing, trusted, other, otherPublic };
}

/** A committed golden .hpk file (`v1.3/full` and the like for the frozen older ones). */
export function goldenFile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GOLDEN, `${name}.hpk`)));
}

/**
 * A zstd frame built by hand (RFC 8878): single segment, 4-byte Frame_Content_Size
 * `declared`, then RLE blocks of `byte` that really expand to `actual` bytes. Lets a test
 * present a frame whose header lies about (or truthfully declares) a huge size without
 * anyone having to compress that much.
 */
export function rleFrame(declared: number, actual: number, byte = 0): Uint8Array {
  // Block_Maximum_Size: 128 KiB, and never more than the window (= declared, single segment).
  const BLOCK = Math.max(1, Math.min(128 * 1024, declared));
  const blocks = Math.max(1, Math.ceil(actual / BLOCK));
  const out = new Uint8Array(4 + 1 + 4 + blocks * 4);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xfd2fb528, true);
  out[4] = 0x80 | 0x20; // FCS 4 bytes, single segment, no checksum, no dictionary
  v.setUint32(5, declared, true);
  let left = actual;
  for (let i = 0; i < blocks; i++) {
    const n = Math.min(BLOCK, left);
    left -= n;
    const last = i === blocks - 1 ? 1 : 0;
    const hdr = last | (1 << 1) | (n << 3); // Block_Type 1 = RLE
    out[9 + i * 4] = hdr & 0xff;
    out[10 + i * 4] = (hdr >> 8) & 0xff;
    out[11 + i * 4] = (hdr >> 16) & 0xff;
    out[12 + i * 4] = byte;
  }
  return out;
}

/** A zstd frame with no Frame_Content_Size: one raw block of `data`. */
export function frameWithoutSize(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 1 + 1 + 3 + data.length);
  new DataView(out.buffer).setUint32(0, 0xfd2fb528, true);
  out[4] = 0x00; // no FCS, not single segment
  out[5] = 0x00; // Window_Descriptor: 1 KiB window
  const hdr = 1 | (0 << 1) | (data.length << 3); // last, raw
  out[6] = hdr & 0xff;
  out[7] = (hdr >> 8) & 0xff;
  out[8] = (hdr >> 16) & 0xff;
  out.set(data, 9);
  return out;
}

/** A zstd frame of raw blocks holding `content`, declaring `declared` bytes (4-byte Frame_Content_Size, single segment). */
export function rawFrame(content: Uint8Array, declared = content.length): Uint8Array {
  const BLOCK = 128 * 1024;
  const blocks = Math.max(1, Math.ceil(content.length / BLOCK));
  const out = new Uint8Array(9 + blocks * 3 + content.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xfd2fb528, true);
  out[4] = 0x80 | 0x20;
  v.setUint32(5, declared >>> 0, true);
  let at = 9;
  for (let k = 0; k < blocks; k++) {
    const part = content.subarray(k * BLOCK, (k + 1) * BLOCK);
    const h = (k === blocks - 1 ? 1 : 0) | (part.length << 3);
    out.set([h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff], at);
    out.set(part, at + 3);
    at += 3 + part.length;
  }
  return out;
}
