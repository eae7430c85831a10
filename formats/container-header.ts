/**
 * The package container's header, both layouts (FORMAT.md, "Container"):
 *  - format 2 (written): "HPK" + the major as an ASCII digit, a minor byte, a flags byte, then
 *    LEB128 varints for the payload length and (zstd payloads only) the uncompressed length,
 *    then a 4-byte key id when signed. 12 bytes for a small signed stored package, where the
 *    format 1 header took 32: the signature length follows from the flag, the uncompressed
 *    length of a stored payload is its length, and a 4-byte key id only picks the trusted
 *    key to verify with (a collision tries every key that matches, as 8 bytes did);
 *  - format 1 (read only): "HPK1", u16 major and minor, u32 flags, payload, uncompressed and
 *    signature lengths, an 8-byte key id: 32 bytes.
 * readHeader checks every length against the file before anything is allocated or decoded.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { SIGNATURE_LENGTH } from './keys.ts';
import { FORMAT_MAJOR, FORMAT_MINOR } from './package.ts';

/** "HPK": the magic of every package; the fourth byte is the major as an ASCII digit. */
export const MAGIC = Uint8Array.of(0x48, 0x50, 0x4b);
/** Length of the format 1 header (fixed). */
export const V1_HEADER_LENGTH = 32;
/** Header flag: the package carries a signature. */
export const FLAG_SIGNED = 1;
/** Header flag (format 2): the payload is the protobuf itself, not a zstd frame. */
export const FLAG_STORED = 2;
/** Bytes of the signer's key id in a format 2 header (a prefix of keys.ts's 8-byte id). */
export const KEY_ID_PREFIX_LENGTH = 4;
/** A header varint has at most 4 bytes (values below 2^28). */
const MAX_VARINT_BYTES = 4;

/** The header, parsed (either layout). */
export interface ContainerHeader {
  readonly major: number;
  readonly minor: number;
  readonly flags: number;
  /** Bytes of the header: where the payload starts. */
  readonly headerLength: number;
  readonly payloadLength: number;
  /** The protobuf's length: the zstd frame's content size, or the payload length when stored. */
  readonly uncompressedLength: number;
  /** The payload is the protobuf itself (FLAG_STORED). */
  readonly stored: boolean;
  readonly signatureLength: number;
  /** 4 bytes (format 2) or 8 (format 1); all zero when unsigned (format 1) or empty (format 2). */
  readonly keyId: Uint8Array;
  /** Offset of the key id in the file (for error offsets). */
  readonly keyIdOffset: number;
}

/** What a format 2 header states. */
export interface HeaderFields {
  readonly minor?: number;
  readonly flags: number;
  readonly payloadLength: number;
  readonly uncompressedLength: number;
  readonly keyId: Uint8Array;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** The format 2 header bytes (the encoder's and the tests' writer). */
export function writeHeader(h: HeaderFields): Uint8Array {
  const stored = (h.flags & FLAG_STORED) !== 0;
  const signed = (h.flags & FLAG_SIGNED) !== 0;
  return Uint8Array.from([
    ...MAGIC,
    0x30 + FORMAT_MAJOR,
    h.minor ?? FORMAT_MINOR,
    h.flags,
    ...varint(h.payloadLength),
    ...(stored ? [] : varint(h.uncompressedLength)),
    ...(signed ? h.keyId : []),
  ]);
}

type Read<T> = Result<{ readonly value: T; readonly end: number }>;

/** A minimal LEB128 varint of at most 4 bytes at `at`, > 0. */
function readVarint(bytes: Uint8Array, at: number, what: string): Read<number> {
  let value = 0;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const b = bytes[at + i];
    if (b === undefined) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, it ends inside the header's ${what}`, bytes.length);
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) return err('PKG_LENGTH', `${what} is not minimally encoded`, at);
      if (value === 0) return err('PKG_LENGTH', `${what} is 0`, at);
      return ok({ value, end: at + i + 1 });
    }
  }
  return err('PKG_LENGTH', `${what} takes more than ${MAX_VARINT_BYTES} bytes (2^28 or more)`, at);
}

/** The file must end exactly where the header says. */
function checkTotal(bytes: Uint8Array, total: number): Result<true> {
  if (bytes.length < total) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, its header describes ${total}`, bytes.length);
  if (bytes.length > total) return err('PKG_LENGTH', `${bytes.length - total} bytes after the end the header describes`, total);
  return ok(true);
}

function versionError(major: number, minor: number | null): Result<never> {
  const v = minor === null ? `${major}` : `${major}.${minor}`;
  if (major > FORMAT_MAJOR) return err('PKG_VERSION', `package format ${v} is newer than ${FORMAT_MAJOR}.${FORMAT_MINOR}, the newest this hotpatch reads`, 3);
  return err('PKG_VERSION', `package format ${v} is not supported (this hotpatch reads 1.x and ${FORMAT_MAJOR}.x)`, 3);
}

function readV1(bytes: Uint8Array): Result<ContainerHeader> {
  if (bytes.length < V1_HEADER_LENGTH) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than the ${V1_HEADER_LENGTH}-byte format 1 header`, bytes.length);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = v.getUint16(4, true);
  const minor = v.getUint16(6, true);
  if (major !== 1) return versionError(major, minor);
  const flags = v.getUint32(8, true);
  if ((flags & ~FLAG_SIGNED) !== 0) return err('PKG_FLAGS', `unknown header flags 0x${(flags & ~FLAG_SIGNED).toString(16)}`, 8);
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
  const total = checkTotal(bytes, V1_HEADER_LENGTH + payloadLength + signatureLength);
  if (!total.ok) return total;
  return ok({ major, minor, flags, headerLength: V1_HEADER_LENGTH, payloadLength, uncompressedLength, stored: false, signatureLength, keyId, keyIdOffset: 24 });
}

function readV2(bytes: Uint8Array): Result<ContainerHeader> {
  if (bytes.length < 6) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than the smallest header`, bytes.length);
  const minor = bytes[4]!;
  const flags = bytes[5]!;
  const known = FLAG_SIGNED | FLAG_STORED;
  if ((flags & ~known) !== 0) return err('PKG_FLAGS', `unknown header flags 0x${(flags & ~known).toString(16)}`, 5);
  const signed = (flags & FLAG_SIGNED) !== 0;
  const stored = (flags & FLAG_STORED) !== 0;
  const p = readVarint(bytes, 6, 'payload length');
  if (!p.ok) return p;
  let end = p.value.end;
  let uncompressedLength = p.value.value;
  if (!stored) {
    const u = readVarint(bytes, end, 'uncompressed length');
    if (!u.ok) return u;
    uncompressedLength = u.value.value;
    end = u.value.end;
  }
  const keyIdOffset = end;
  if (signed) end += KEY_ID_PREFIX_LENGTH;
  if (bytes.length < end) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, it ends inside the header's key id`, bytes.length);
  const signatureLength = signed ? SIGNATURE_LENGTH : 0;
  const total = checkTotal(bytes, end + p.value.value + signatureLength);
  if (!total.ok) return total;
  const keyId = bytes.slice(keyIdOffset, end);
  return ok({ major: FORMAT_MAJOR, minor, flags, headerLength: end, payloadLength: p.value.value, uncompressedLength, stored, signatureLength, keyId, keyIdOffset });
}

/**
 * Parses and checks the header and the lengths (steps 1-3 of loadPackage), without touching
 * the payload. PKG_BAD_MAGIC, PKG_TRUNCATED, PKG_VERSION, PKG_FLAGS, PKG_LENGTH.
 */
export function readHeader(bytes: Uint8Array): Result<ContainerHeader> {
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than a header`, bytes.length);
    if (bytes[i] !== MAGIC[i]) return err('PKG_BAD_MAGIC', 'not a hotpatch package (magic is not "HPK")', i);
  }
  const digit = bytes[3];
  if (digit === undefined) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than a header`, bytes.length);
  if (digit < 0x30 || digit > 0x39) return err('PKG_BAD_MAGIC', `not a hotpatch package (byte 3 is 0x${digit.toString(16)}, not a version digit)`, 3);
  const major = digit - 0x30;
  if (major === 1) return readV1(bytes);
  if (major !== FORMAT_MAJOR) return versionError(major, null);
  return readV2(bytes);
}
