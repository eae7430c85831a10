/**
 * The .hpk container: a compact header, the protobuf payload (a zstd frame, or stored as is
 * when zstd would not shrink it), and an optional Ed25519 signature over header + payload.
 * Byte layout of format 2 (FORMAT.md, "Container"; varints are LEB128, minimal, 1-4 bytes):
 *
 *   0  3  magic "HPK" (48 50 4B)      3  1  format major as an ASCII digit ("2")
 *   4  1  format minor                 5  1  flags (bit 0 signed, bit 1 stored; others 0)
 *   6  v  payload length P (> 0)
 *   .  v  uncompressed length (zstd payloads only; equals the frame's content size)
 *   .  4  key id of the signer (signed only: first 4 bytes of SHA-256 of the public key)
 *   H  P  payload, then the 64-byte signature when signed
 *
 * Format 1 files ("HPK1", a fixed 32-byte header: container-header.ts) are still read.
 * loadPackage runs its checks cheapest and safest first, and never decompresses or decodes
 * bytes whose signature has not been checked (unless the package carries none and the caller
 * allows unsigned packages, or a read-only viewer gave no trusted keys):
 * magic, version, flags, lengths, declared size bound, signature, zstd frame header and
 * bounded decompression (or the stored bytes), protobuf decode, semantic validation.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { decodePayload, encodePayload } from './codec.ts';
import { FLAG_SIGNED, FLAG_STORED, KEY_ID_PREFIX_LENGTH, readHeader, writeHeader, type ContainerHeader } from './container-header.ts';
import { sign, toHex, verify, type PublicKey, type SigningKey } from './keys.ts';
import type { HotpatchPackage } from './package.ts';
import { validatePackage } from './validate.ts';
import { compressZstd, decompressZstd, readZstdFrameHeader, ZSTD_MAX_CONTENT, zstdLevelFor } from './zstd.ts';

export { FLAG_SIGNED, FLAG_STORED, MAGIC, readHeader, type ContainerHeader } from './container-header.ts';
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

/**
 * Validates `pkg`, encodes it as protobuf, compresses it and wraps it in the container,
 * signed when a key is given. The payload is stored as is (FLAG_STORED) when the zstd frame
 * plus its uncompressed-length field would not be smaller: small packages, where the frame's
 * own overhead exceeds what it saves. Deterministic: same package, key and level give the
 * same bytes. PKG_INVALID when the package breaks a validation rule; PKG_ZSTD when it is too
 * large.
 */
export async function encodePackage(pkg: HotpatchPackage, opts: EncodeOptions = {}): Promise<Result<Uint8Array>> {
  const valid = validatePackage(pkg);
  if (!valid.ok) return valid;
  const raw = encodePayload(pkg);
  const compressed = await compressZstd(raw, opts.level ?? zstdLevelFor(raw.length));
  if (!compressed.ok) return compressed;
  const signed = opts.signingKey !== undefined;
  const zstdHeader = writeHeader({ flags: 0, payloadLength: compressed.value.length, uncompressedLength: raw.length, keyId: new Uint8Array(0) });
  const storedHeader = writeHeader({ flags: FLAG_STORED, payloadLength: raw.length, uncompressedLength: raw.length, keyId: new Uint8Array(0) });
  const stored = storedHeader.length + raw.length <= zstdHeader.length + compressed.value.length;
  const payload = stored ? raw : compressed.value;
  const header = writeHeader({
    flags: (signed ? FLAG_SIGNED : 0) | (stored ? FLAG_STORED : 0),
    payloadLength: payload.length,
    uncompressedLength: raw.length,
    keyId: opts.signingKey?.publicKey.id.subarray(0, KEY_ID_PREFIX_LENGTH) ?? new Uint8Array(0),
  });
  const signedPart = new Uint8Array(header.length + payload.length);
  signedPart.set(header, 0);
  signedPart.set(payload, header.length);
  if (opts.signingKey === undefined) return ok(signedPart);
  const sig = await sign(opts.signingKey, signedPart);
  const out = new Uint8Array(signedPart.length + sig.length);
  out.set(signedPart, 0);
  out.set(sig, signedPart.length);
  return ok(out);
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
  keyIdOffset = 24,
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
    return err('SIG_UNTRUSTED', `${what} is signed by key ${keyId} but no trusted keys were given to verify it (--allow-unsigned admits only unsigned packages)`, keyIdOffset);
  }
  // A key id is the first 8 (format 1, bundles) or 4 (format 2 packages) bytes of the key's
  // SHA-256, so two trusted keys could share one: try every key whose id starts with it.
  const candidates = opts.trusted.filter((k) => toHex(k.id).startsWith(keyId));
  if (candidates.length === 0) return err('SIG_UNTRUSTED', `${what} is signed by key ${keyId}, which is not among the ${opts.trusted.length} trusted key(s)`, keyIdOffset);
  for (const key of candidates) {
    // Verified: name the whole id of the key that verified (the header may carry a prefix).
    if (await verify(key, bytes.subarray(0, signedEnd), bytes.subarray(signedEnd, signedEnd + signatureLength))) return ok({ status: 'verified', keyId: toHex(key.id) });
  }
  return err('SIG_BAD', `signature does not verify with key ${keyId}: the ${what} was altered or signed by another key`, signedEnd);
}

/**
 * Checks and decodes a package file, in this order (each refusal is one error value):
 *  1. magic (PKG_BAD_MAGIC), header length (PKG_TRUNCATED);
 *  2. format version: major 1 (the 32-byte header) or 2; any other is refused, naming both
 *     (PKG_VERSION);
 *  3. flags (PKG_FLAGS) and lengths (PKG_LENGTH, PKG_TRUNCATED);
 *  4. declared uncompressed size (the stored payload's own length) against maxUncompressed
 *     (PKG_BOMB);
 *  5. signature over header + payload against the trusted keys (SIG_MISSING, SIG_UNTRUSTED,
 *     SIG_BAD); allowUnsigned admits only a package without a signature (see LoadOptions);
 *  6. zstd frame header: content size declared and equal to the header's (PKG_BOMB,
 *     PKG_ZSTD), then decompression into a buffer of exactly that size (PKG_ZSTD); a stored
 *     payload is used as is;
 *  7. protobuf decode (PKG_DECODE, PKG_INVALID for unknown enums and missing parts);
 *  8. semantic validation (PKG_INVALID).
 * Checks 1-5 read only the header and hash the bytes, so a forged or hostile package is
 * refused before any decompressor or decoder sees it.
 */
export async function loadPackage(bytes: Uint8Array, opts: LoadOptions): Promise<Result<LoadedPackage>> {
  const hr = readHeader(bytes);
  if (!hr.ok) return hr;
  const h = hr.value;
  const at = h.headerLength;
  const max = Math.min(opts.maxUncompressed ?? DEFAULT_MAX_UNCOMPRESSED, ZSTD_MAX_CONTENT);
  if (h.uncompressedLength > max) return err('PKG_BOMB', `payload declares ${h.uncompressedLength} uncompressed bytes, over the ${max}-byte limit`, h.major === 1 ? 16 : 6);
  const sig = await checkSignature(bytes, at + h.payloadLength, h.signatureLength, h.keyId, opts, 'package', h.keyIdOffset);
  if (!sig.ok) return sig;
  const payload = bytes.subarray(at, at + h.payloadLength);
  const raw = h.stored ? ok(payload) : await decompress(payload, h.uncompressedLength, at);
  if (!raw.ok) return raw;
  const decoded = decodePayload(raw.value, h.major);
  if (!decoded.ok) return decoded;
  const valid = validatePackage(decoded.value);
  if (!valid.ok) return valid;
  return ok({
    package: decoded.value,
    header: h,
    signature: sig.value,
    sizes: { file: bytes.length, header: at, payload: h.payloadLength, signature: h.signatureLength, uncompressed: raw.value.length },
    payload: raw.value,
  });
}

/** Step 6: the zstd frame's declared size against the header's, then bounded decompression. */
async function decompress(payload: Uint8Array, declared: number, at: number): Promise<Result<Uint8Array>> {
  const fh = readZstdFrameHeader(payload);
  if (!fh.ok) return err(fh.error.code, fh.error.message, at + (fh.error.offset ?? 0));
  if (fh.value.contentSize === null) return err('PKG_BOMB', 'zstd frame does not declare its content size; refusing to expand it unbounded', at);
  if (fh.value.contentSize !== declared) return err('PKG_ZSTD', `zstd frame declares ${fh.value.contentSize} bytes, the header ${declared}`, at);
  const raw = await decompressZstd(payload, declared);
  if (!raw.ok) return err(raw.error.code, raw.error.message, at);
  return raw;
}
