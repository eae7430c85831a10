/**
 * The .hpk container: a fixed 32-byte header, the zstd-compressed protobuf payload, and an
 * optional Ed25519 signature over header + payload. Byte layout (all integers little-endian;
 * FORMAT.md, "Container"):
 *
 *   0  4  magic "HPK1" (48 50 4B 31)
 *   4  2  format major      6  2  format minor
 *   8  4  flags (bit 0: signed; other bits must be 0)
 *  12  4  payload length (compressed bytes)
 *  16  4  uncompressed payload length (must equal the zstd frame's content size)
 *  20  4  signature length (64 when signed, else 0)
 *  24  8  key id of the signer (first 8 bytes of SHA-256 of the raw public key; 0 unsigned)
 *  32     payload, then signature
 *
 * loadPackage runs its checks cheapest and safest first, and never decompresses or decodes
 * bytes whose signature has not been checked (unless the package carries none and the caller
 * allows unsigned packages, or a read-only viewer gave no trusted keys):
 * magic, header length, version, flags, lengths, declared size bound, signature, zstd frame
 * header and bounded decompression, protobuf decode, semantic validation.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { KEY_ID_LENGTH, SIGNATURE_LENGTH, sign, toHex, verify, type PublicKey, type SigningKey } from './keys.ts';
import { FORMAT_MAJOR, FORMAT_MINOR, type HotpatchPackage } from './package.ts';
import { validatePackage } from './validate.ts';
import { compressZstd, decompressZstd, readZstdFrameHeader, ZSTD_MAX_CONTENT, zstdLevelFor } from './zstd.ts';

/** "HPK1". */
export const MAGIC = Uint8Array.of(0x48, 0x50, 0x4b, 0x31);
/** Fixed header length. */
export const HEADER_LENGTH = 32;
/** Header flag: the package carries a signature. */
export const FLAG_SIGNED = 1;
const KNOWN_FLAGS = FLAG_SIGNED;
/** Default bound on the decompressed payload (also the most zstd.ts can handle). */
export const DEFAULT_MAX_UNCOMPRESSED = ZSTD_MAX_CONTENT;

/**
 * Every code loadPackage can refuse with (stable; FORMAT.md lists what each means). SIG_KEY
 * belongs to key import, not to loading.
 */
export const LOAD_ERROR_CODES = [
  'PKG_BAD_MAGIC',
  'PKG_TRUNCATED',
  'PKG_VERSION',
  'PKG_FLAGS',
  'PKG_LENGTH',
  'PKG_BOMB',
  'SIG_MISSING',
  'SIG_UNTRUSTED',
  'SIG_BAD',
  'PKG_ZSTD',
  'PKG_DECODE',
  'PKG_INVALID',
] as const;

/** The fixed header, parsed. */
export interface ContainerHeader {
  readonly major: number;
  readonly minor: number;
  readonly flags: number;
  readonly payloadLength: number;
  readonly uncompressedLength: number;
  readonly signatureLength: number;
  /** 8 bytes; all zero when unsigned. */
  readonly keyId: Uint8Array;
}

/** How the signature of a loaded package stands. */
export type SignatureStatus =
  /** Signed by `keyId`, one of the trusted keys, and the signature checks out. */
  | { readonly status: 'verified'; readonly keyId: string }
  /** Signed by `keyId`, not checked: no trusted keys were given to a read-only load (inspect, verify). Never the status of a package that is applied. */
  | { readonly status: 'not-verified'; readonly keyId: string }
  /** No signature; accepted only because allowUnsigned was set. */
  | { readonly status: 'unsigned' };

/** Byte counts of the container's parts. */
export interface ContainerSizes {
  readonly file: number;
  readonly header: number;
  readonly payload: number;
  readonly signature: number;
  readonly uncompressed: number;
}

/** What loadPackage returns once every check has passed. */
export interface LoadedPackage {
  readonly package: HotpatchPackage;
  readonly header: ContainerHeader;
  readonly signature: SignatureStatus;
  readonly sizes: ContainerSizes;
  /** The decompressed protobuf payload (for size accounting). */
  readonly payload: Uint8Array;
}

/** Options of loadPackage. */
export interface LoadOptions {
  /** Keys whose signatures are accepted. */
  readonly trusted: readonly PublicKey[];
  /**
   * Accept packages that carry no signature at all (status 'unsigned'). It admits nothing
   * else: a package that carries a signature is always verified against `trusted`, and one
   * that fails (SIG_BAD) or comes from a key not in `trusted` (SIG_UNTRUSTED, also when
   * `trusted` is empty) is refused whatever this says.
   */
  readonly allowUnsigned: boolean;
  /**
   * For viewers that apply nothing (`hotpatch inspect`, `hotpatch verify`): with `trusted`
   * empty, a signed package loads with status 'not-verified' instead of SIG_UNTRUSTED. With
   * trusted keys given, the signature is checked as always.
   */
  readonly readOnly?: boolean;
  /** Refuse payloads that declare more decompressed bytes than this (default 4 MiB). */
  readonly maxUncompressed?: number;
}

/** Options of encodePackage. */
export interface EncodeOptions {
  /** Sign with this key; unsigned when absent. */
  readonly signingKey?: SigningKey;
  /** zstd level 1..22; by default the highest that fits (zstdLevelFor). */
  readonly level?: number;
}

function writeHeader(h: ContainerHeader): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint16(4, h.major, true);
  v.setUint16(6, h.minor, true);
  v.setUint32(8, h.flags, true);
  v.setUint32(12, h.payloadLength, true);
  v.setUint32(16, h.uncompressedLength, true);
  v.setUint32(20, h.signatureLength, true);
  out.set(h.keyId, 24);
  return out;
}

/**
 * Validates `pkg`, encodes it as protobuf, compresses it and wraps it in the container,
 * signed when a key is given. Deterministic: same package, key and level give the same bytes.
 * PKG_INVALID when the package breaks a validation rule; PKG_ZSTD when it is too large.
 */
export async function encodePackage(pkg: HotpatchPackage, opts: EncodeOptions = {}): Promise<Result<Uint8Array>> {
  const valid = validatePackage(pkg);
  if (!valid.ok) return valid;
  const raw = encodePayload(pkg);
  const compressed = await compressZstd(raw, opts.level ?? zstdLevelFor(raw.length));
  if (!compressed.ok) return compressed;
  const signed = opts.signingKey !== undefined;
  const header = writeHeader({
    major: FORMAT_MAJOR,
    minor: FORMAT_MINOR,
    flags: signed ? FLAG_SIGNED : 0,
    payloadLength: compressed.value.length,
    uncompressedLength: raw.length,
    signatureLength: signed ? SIGNATURE_LENGTH : 0,
    keyId: opts.signingKey?.publicKey.id ?? new Uint8Array(KEY_ID_LENGTH),
  });
  const signedPart = new Uint8Array(HEADER_LENGTH + compressed.value.length);
  signedPart.set(header, 0);
  signedPart.set(compressed.value, HEADER_LENGTH);
  if (opts.signingKey === undefined) return ok(signedPart);
  const sig = await sign(opts.signingKey, signedPart);
  const out = new Uint8Array(signedPart.length + sig.length);
  out.set(signedPart, 0);
  out.set(sig, signedPart.length);
  return ok(out);
}

/**
 * Parses and checks the fixed header and the lengths (steps 1-5 of loadPackage), without
 * touching the payload. PKG_BAD_MAGIC, PKG_TRUNCATED, PKG_VERSION, PKG_FLAGS, PKG_LENGTH.
 */
export function readHeader(bytes: Uint8Array): Result<ContainerHeader> {
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than the ${HEADER_LENGTH}-byte header`, bytes.length);
    if (bytes[i] !== MAGIC[i]) return err('PKG_BAD_MAGIC', 'not a hotpatch package (magic is not "HPK1")', i);
  }
  if (bytes.length < HEADER_LENGTH) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than the ${HEADER_LENGTH}-byte header`, bytes.length);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = v.getUint16(4, true);
  const minor = v.getUint16(6, true);
  if (major > FORMAT_MAJOR) {
    return err('PKG_VERSION', `package format ${major}.${minor} is newer than ${FORMAT_MAJOR}.${FORMAT_MINOR}, the newest this hotpatch reads`, 4);
  }
  if (major < FORMAT_MAJOR) return err('PKG_VERSION', `package format ${major}.${minor} is not supported (this hotpatch reads ${FORMAT_MAJOR}.x)`, 4);
  const flags = v.getUint32(8, true);
  if ((flags & ~KNOWN_FLAGS) !== 0) return err('PKG_FLAGS', `unknown header flags 0x${(flags & ~KNOWN_FLAGS).toString(16)}`, 8);
  const payloadLength = v.getUint32(12, true);
  const uncompressedLength = v.getUint32(16, true);
  const signatureLength = v.getUint32(20, true);
  const keyId = bytes.slice(24, 32);
  const signed = (flags & FLAG_SIGNED) !== 0;
  if (signatureLength !== (signed ? SIGNATURE_LENGTH : 0)) {
    return err('PKG_LENGTH', `signature length ${signatureLength} does not match the ${signed ? 'signed' : 'unsigned'} flag`, 20);
  }
  if (!signed && keyId.some((b) => b !== 0)) return err('PKG_LENGTH', 'unsigned package carries a key id', 24);
  if (payloadLength === 0) return err('PKG_LENGTH', 'payload length is 0', 12);
  const total = HEADER_LENGTH + payloadLength + signatureLength;
  if (bytes.length < total) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, its header describes ${total}`, bytes.length);
  if (bytes.length > total) return err('PKG_LENGTH', `${bytes.length - total} bytes after the end the header describes`, total);
  return ok({ major, minor, flags, payloadLength, uncompressedLength, signatureLength, keyId });
}

/**
 * The trust rules (FORMAT.md, "Signatures and keys") for a container whose signed bytes are
 * `[0, signedEnd)` followed by `signatureLength` bytes of signature, signed by `keyIdBytes`.
 * Shared by packages and bundles; `what` names the file kind in messages.
 */
export async function checkSignature(
  bytes: Uint8Array,
  signedEnd: number,
  signatureLength: number,
  keyIdBytes: Uint8Array,
  opts: LoadOptions,
  what = 'package',
): Promise<Result<SignatureStatus>> {
  if (signatureLength === 0) {
    if (opts.allowUnsigned) return ok({ status: 'unsigned' });
    return err('SIG_MISSING', `${what} is not signed (pass a trusted key, or allow unsigned packages explicitly)`);
  }
  const keyId = toHex(keyIdBytes);
  if (opts.trusted.length === 0) {
    if (opts.readOnly === true) return ok({ status: 'not-verified', keyId });
    // allowUnsigned admits packages without a signature; a signature that cannot be checked
    // is not the same thing as none (a flipped bit would pass unseen).
    return err('SIG_UNTRUSTED', `${what} is signed by key ${keyId} but no trusted keys were given to verify it (--allow-unsigned admits only unsigned packages)`, 24);
  }
  // Key ids are 8 bytes, so two trusted keys could share one: try every key that matches.
  const candidates = opts.trusted.filter((k) => toHex(k.id) === keyId);
  if (candidates.length === 0) return err('SIG_UNTRUSTED', `${what} is signed by key ${keyId}, which is not among the ${opts.trusted.length} trusted key(s)`, 24);
  for (const key of candidates) {
    if (await verify(key, bytes.subarray(0, signedEnd), bytes.subarray(signedEnd, signedEnd + signatureLength))) return ok({ status: 'verified', keyId });
  }
  return err('SIG_BAD', `signature does not verify with key ${keyId}: the ${what} was altered or signed by another key`, signedEnd);
}

/**
 * Checks and decodes a package file, in this order (each refusal is one error value):
 *  1. magic (PKG_BAD_MAGIC), header length (PKG_TRUNCATED);
 *  2. format version: a newer or older major is refused, naming both (PKG_VERSION);
 *  3. flags (PKG_FLAGS) and lengths (PKG_LENGTH, PKG_TRUNCATED);
 *  4. declared uncompressed size against maxUncompressed (PKG_BOMB);
 *  5. signature over header + payload against the trusted keys (SIG_MISSING, SIG_UNTRUSTED,
 *     SIG_BAD); allowUnsigned admits only a package without a signature (see LoadOptions);
 *  6. zstd frame header: content size declared and equal to the header's (PKG_BOMB,
 *     PKG_ZSTD), then decompression into a buffer of exactly that size (PKG_ZSTD);
 *  7. protobuf decode (PKG_DECODE, PKG_INVALID for unknown enums and missing parts);
 *  8. semantic validation (PKG_INVALID).
 * Checks 1-5 read only the header and hash the bytes, so a forged or hostile package is
 * refused before any decompressor or decoder sees it.
 */
export async function loadPackage(bytes: Uint8Array, opts: LoadOptions): Promise<Result<LoadedPackage>> {
  const hr = readHeader(bytes);
  if (!hr.ok) return hr;
  const h = hr.value;
  const max = Math.min(opts.maxUncompressed ?? DEFAULT_MAX_UNCOMPRESSED, ZSTD_MAX_CONTENT);
  if (h.uncompressedLength > max) return err('PKG_BOMB', `payload declares ${h.uncompressedLength} uncompressed bytes, over the ${max}-byte limit`, 16);
  const sig = await checkSignature(bytes, HEADER_LENGTH + h.payloadLength, h.signatureLength, h.keyId, opts);
  if (!sig.ok) return sig;
  const payload = bytes.subarray(HEADER_LENGTH, HEADER_LENGTH + h.payloadLength);
  const fh = readZstdFrameHeader(payload);
  if (!fh.ok) return err(fh.error.code, fh.error.message, HEADER_LENGTH + (fh.error.offset ?? 0));
  if (fh.value.contentSize === null) return err('PKG_BOMB', 'zstd frame does not declare its content size; refusing to expand it unbounded', HEADER_LENGTH);
  if (fh.value.contentSize !== h.uncompressedLength) {
    return err('PKG_ZSTD', `zstd frame declares ${fh.value.contentSize} bytes, the header ${h.uncompressedLength}`, HEADER_LENGTH);
  }
  const raw = await decompressZstd(payload, h.uncompressedLength);
  if (!raw.ok) return err(raw.error.code, raw.error.message, HEADER_LENGTH);
  const decoded = decodePayload(raw.value);
  if (!decoded.ok) return decoded;
  const valid = validatePackage(decoded.value);
  if (!valid.ok) return valid;
  return ok({
    package: decoded.value,
    header: h,
    signature: sig.value,
    sizes: { file: bytes.length, header: HEADER_LENGTH, payload: h.payloadLength, signature: h.signatureLength, uncompressed: raw.value.length },
    payload: raw.value,
  });
}
