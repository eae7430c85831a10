/**
 * The .hpb bundle: one signed file for a release that changes several modules. A fixed
 * 32-byte header, a protobuf `hotpatch.BundleManifest` (one entry per module of the two
 * trees: paths, identities, status, and for packaged entries the size and SHA-256 of the
 * package), the entries' .hpk packages concatenated in entry order, and an Ed25519 signature
 * over everything before it. Byte layout (little-endian; FORMAT.md, "Bundle"):
 *
 *   0  4  magic "HPB1" (48 50 42 31)
 *   4  2  bundle format major   6  2  bundle format minor
 *   8  4  flags (bit 0: signed; other bits must be 0)
 *  12  4  manifest length      16  4  entry count (must equal the manifest's)
 *  20  4  signature length (64 when signed, else 0)
 *  24  8  key id of the signer (0 when unsigned)
 *  32     manifest, packages, signature
 *
 * loadBundle bounds every length the header declares against the file and fixed ceilings
 * before it decodes anything, checks the signature before decoding the manifest, and checks
 * every package's size and SHA-256 before returning: a caller never sees a byte that the
 * manifest does not pin. Pure (no `node:` import), like the rest of formats/.
 */
import { err, ok, type Result } from '../common/errors.ts';
import { checkSignature, type LoadOptions, type SignatureStatus } from './container.ts';
import { hotpatch } from './generated/hotpatch.js';
import { KEY_ID_LENGTH, SIGNATURE_LENGTH, sha256, sign, type SigningKey } from './keys.ts';
import type { Producer } from './package.ts';

const pb = hotpatch;

/** "HPB1". */
export const BUNDLE_MAGIC = Uint8Array.of(0x48, 0x50, 0x42, 0x31);
export const BUNDLE_MAJOR = 1;
export const BUNDLE_MINOR = 0;
const FLAG_SIGNED = 1;
/** Length of the fixed bundle header (the bundle keeps the 32-byte layout of format 1 packages). */
const HEADER_LENGTH = 32;
/** Ceilings on what a header or manifest may declare (checked before anything is decoded). */
export const BUNDLE_LIMITS = {
  manifestBytes: 1024 * 1024,
  entries: 4096,
  /** One package file: the loader's 4 MiB payload bound plus header, signature and zstd's worst-case growth. */
  packageBytes: 4 * 1024 * 1024 + 64 * 1024,
  pathChars: 1024,
  reasons: 64,
  reasonChars: 1024,
} as const;

export type BundleEntryStatus = 'changed' | 'unchanged' | 'refused' | 'partial' | 'added' | 'unpaired';
/** Statuses whose entry carries a package. */
export const PACKAGED: ReadonlySet<BundleEntryStatus> = new Set(['changed', 'partial']);

const STATUS: ReadonlyArray<readonly [BundleEntryStatus, hotpatch.BundleEntryStatus]> = [
  ['changed', pb.BundleEntryStatus.BUNDLE_ENTRY_STATUS_CHANGED],
  ['unchanged', pb.BundleEntryStatus.BUNDLE_ENTRY_STATUS_UNCHANGED],
  ['refused', pb.BundleEntryStatus.BUNDLE_ENTRY_STATUS_REFUSED],
  ['partial', pb.BundleEntryStatus.BUNDLE_ENTRY_STATUS_PARTIAL],
  ['added', pb.BundleEntryStatus.BUNDLE_ENTRY_STATUS_ADDED],
  ['unpaired', pb.BundleEntryStatus.BUNDLE_ENTRY_STATUS_UNPAIRED],
];

/** One build of a module. */
export interface ModuleIdentity {
  readonly machine: number;
  readonly timeDateStamp: number;
  readonly sizeOfImage: number;
  readonly checkSum: number;
  /** 32 bytes. */
  readonly fileSha256: Uint8Array;
  readonly fileSize: number;
}

/** One module of the release, as the manifest lists it. */
export interface BundleEntry {
  /** '/'-separated, relative to the OLD tree; null for an added module. */
  readonly oldPath: string | null;
  /** Relative to the NEW tree; null for an unpaired module. */
  readonly newPath: string | null;
  readonly moduleName: string;
  readonly status: BundleEntryStatus;
  readonly oldIdentity: ModuleIdentity | null;
  readonly newIdentity: ModuleIdentity | null;
  /** "path", or the identity evidence of a renamed module; empty when not paired. */
  readonly pairedBy: string;
  /** Bytes of the entry's package (0 when it has none). */
  readonly packageSize: number;
  /** SHA-256 of the package; null when it has none. */
  readonly packageSha256: Uint8Array | null;
  /** Refused / partial: the code of the first reason. */
  readonly reasonCode: string | null;
  readonly reasons: readonly string[];
}

export interface BundleManifest {
  readonly entries: readonly BundleEntry[];
  readonly producer: Producer;
}

/** What encodeBundle takes per module: the entry without its package fields, and the package. */
export type BundleEntryInput = Omit<BundleEntry, 'packageSize' | 'packageSha256'> & { readonly package: Uint8Array | null };

export interface BundleHeader {
  readonly major: number;
  readonly minor: number;
  readonly flags: number;
  readonly manifestLength: number;
  readonly entryCount: number;
  readonly signatureLength: number;
  readonly keyId: Uint8Array;
}

export interface LoadedBundle {
  readonly header: BundleHeader;
  readonly manifest: BundleManifest;
  /** The entries in manifest order, each with its package bytes (a view into the file) or null. */
  readonly entries: ReadonlyArray<{ readonly entry: BundleEntry; readonly package: Uint8Array | null }>;
  readonly signature: SignatureStatus;
  readonly sizes: { readonly file: number; readonly manifest: number; readonly packages: number; readonly signature: number };
}

/** Entries sorted as the manifest stores them: by old path, then new path (added modules last). */
export function compareEntries(a: { oldPath: string | null; newPath: string | null }, b: { oldPath: string | null; newPath: string | null }): number {
  const k = (e: { oldPath: string | null; newPath: string | null }): string => `${e.oldPath === null ? '\u0001' : `\u0000${e.oldPath}`}\u0000${e.newPath ?? ''}`;
  const x = k(a);
  const y = k(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** True when `p` is a safe relative path: '/'-separated, no empty, '.' or '..' segment, no backslash, drive or NUL. */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > BUNDLE_LIMITS.pathChars) return false;
  if (/[\\:\x00-\x1f]/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

// ---- manifest <-> protobuf ----

function identityToMsg(i: ModuleIdentity | null): hotpatch.ModuleIdentity.$Properties | null {
  return i === null ? null : { machine: i.machine, timeDateStamp: i.timeDateStamp, sizeOfImage: i.sizeOfImage, checkSum: i.checkSum, fileSha256: i.fileSha256, fileSize: i.fileSize };
}

function identityFromMsg(m: hotpatch.ModuleIdentity.$Properties | null | undefined): ModuleIdentity | null {
  if (m === null || m === undefined) return null;
  return {
    machine: m.machine ?? 0,
    timeDateStamp: m.timeDateStamp ?? 0,
    sizeOfImage: m.sizeOfImage ?? 0,
    checkSum: m.checkSum ?? 0,
    fileSha256: m.fileSha256 ?? new Uint8Array(0),
    fileSize: m.fileSize ?? 0,
  };
}

/** Protobuf bytes of a manifest (deterministic). */
export function encodeManifest(m: BundleManifest): Uint8Array {
  return pb.BundleManifest.encode({
    entries: m.entries.map((e) => ({
      oldPath: e.oldPath ?? '',
      newPath: e.newPath ?? '',
      moduleName: e.moduleName,
      status: STATUS.find(([s]) => s === e.status)![1],
      oldIdentity: identityToMsg(e.oldIdentity),
      newIdentity: identityToMsg(e.newIdentity),
      pairedBy: e.pairedBy,
      packageSize: e.packageSize,
      packageSha256: e.packageSha256 ?? new Uint8Array(0),
      reasonCode: e.reasonCode ?? '',
      reasons: [...e.reasons],
    })),
    producer: { compilerVersion: m.producer.compilerVersion, parameters: m.producer.parameters.map((p) => ({ key: p.key, value: p.value })) },
  }).finish();
}

/** Decodes a manifest; PKG_DECODE for malformed protobuf, PKG_INVALID for an unknown status. */
export function decodeManifest(bytes: Uint8Array): Result<BundleManifest> {
  let msg: hotpatch.BundleManifest.$Shape;
  try {
    msg = pb.BundleManifest.decode(bytes);
  } catch (e) {
    return err('PKG_DECODE', `bundle manifest is not a valid hotpatch.BundleManifest protobuf: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  }
  const entries: BundleEntry[] = [];
  for (const [i, e] of (msg.entries ?? []).entries()) {
    const status = STATUS.find(([, v]) => v === e.status)?.[0];
    if (status === undefined) return err('PKG_INVALID', `entries[${i}].status: unknown value ${String(e.status)}`);
    const sha = e.packageSha256 ?? new Uint8Array(0);
    entries.push({
      oldPath: e.oldPath ? e.oldPath : null,
      newPath: e.newPath ? e.newPath : null,
      moduleName: e.moduleName ?? '',
      status,
      oldIdentity: identityFromMsg(e.oldIdentity),
      newIdentity: identityFromMsg(e.newIdentity),
      pairedBy: e.pairedBy ?? '',
      packageSize: e.packageSize ?? 0,
      packageSha256: sha.length === 0 ? null : sha,
      reasonCode: e.reasonCode ? e.reasonCode : null,
      reasons: e.reasons ?? [],
    });
  }
  const producer = msg.producer;
  return ok({
    entries,
    producer: { compilerVersion: producer?.compilerVersion ?? '', parameters: (producer?.parameters ?? []).map((kv) => ({ key: kv.key ?? '', value: kv.value ?? '' })) },
  });
}

// ---- validation ----

function checkIdentity(i: ModuleIdentity | null, at: string, required: boolean): string | null {
  if (i === null) return required ? `${at}: missing` : null;
  if (i.fileSha256.length !== 32) return `${at}.file_sha256: ${i.fileSha256.length} bytes, not 32`;
  if (i.sizeOfImage === 0) return `${at}.size_of_image: 0`;
  return null;
}

/** Every rule of the manifest that needs no package bytes (FORMAT.md, "Bundle"). PKG_INVALID. */
export function validateManifest(m: BundleManifest): Result<void> {
  if (m.entries.length > BUNDLE_LIMITS.entries) return err('PKG_INVALID', `bundle: ${m.entries.length} entries, over the ${BUNDLE_LIMITS.entries} limit`);
  if (m.producer.compilerVersion === '') return err('PKG_INVALID', 'bundle.producer.compiler_version: empty');
  const oldSeen = new Set<string>();
  const newSeen = new Set<string>();
  for (const [i, e] of m.entries.entries()) {
    const at = `entries[${i}]`;
    const bad = (why: string): Result<never> => err('PKG_INVALID', `bundle ${at}${why}`);
    const hasOld = e.status !== 'added';
    const hasNew = e.status !== 'unpaired';
    if (hasOld !== (e.oldPath !== null)) return bad(`.old_path: ${hasOld ? 'missing' : 'set'} for status ${e.status}`);
    if (hasNew !== (e.newPath !== null)) return bad(`.new_path: ${hasNew ? 'missing' : 'set'} for status ${e.status}`);
    for (const [p, seen, name] of [[e.oldPath, oldSeen, 'old_path'], [e.newPath, newSeen, 'new_path']] as const) {
      if (p === null) continue;
      if (!isSafeRelativePath(p)) return bad(`.${name}: ${JSON.stringify(p.slice(0, 80))} is not a safe relative path`);
      const key = p.toLowerCase();
      if (seen.has(key)) return bad(`.${name}: ${p} appears twice`);
      seen.add(key);
    }
    const why = checkIdentity(e.oldIdentity, `${at}.old_identity`, hasOld) ?? checkIdentity(e.newIdentity, `${at}.new_identity`, hasNew);
    if (why !== null) return err('PKG_INVALID', `bundle ${why}`);
    if (!hasOld && e.oldIdentity !== null) return bad('.old_identity: set for an added module');
    if (!hasNew && e.newIdentity !== null) return bad('.new_identity: set for an unpaired module');
    if (e.moduleName.length === 0 || e.moduleName.length > BUNDLE_LIMITS.pathChars) return bad(`.module_name: ${e.moduleName.length} characters, not 1..${BUNDLE_LIMITS.pathChars}`);
    const packaged = PACKAGED.has(e.status);
    if (packaged) {
      if (e.packageSize === 0 || e.packageSize > BUNDLE_LIMITS.packageBytes) return bad(`.package_size: ${e.packageSize}, not 1..${BUNDLE_LIMITS.packageBytes}`);
      if (e.packageSha256 === null || e.packageSha256.length !== 32) return bad('.package_sha256: not 32 bytes');
    } else if (e.packageSize !== 0 || e.packageSha256 !== null) return bad(`: status ${e.status} carries no package`);
    const reasoned = e.status === 'refused' || e.status === 'partial';
    if (reasoned !== (e.reasonCode !== null)) return bad(`.reason_code: ${reasoned ? 'missing' : 'set'} for status ${e.status}`);
    if (e.reasons.length > BUNDLE_LIMITS.reasons) return bad(`.reasons: ${e.reasons.length}, over ${BUNDLE_LIMITS.reasons}`);
    if (e.reasons.some((r) => r.length > BUNDLE_LIMITS.reasonChars)) return bad(`.reasons: a reason over ${BUNDLE_LIMITS.reasonChars} characters`);
    const prev = m.entries[i - 1];
    if (prev !== undefined && compareEntries(prev, e) >= 0) return bad(': entries are not sorted by old path, then new path');
  }
  return ok(undefined);
}

// ---- the container ----

function writeHeader(h: BundleHeader): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH);
  const v = new DataView(out.buffer);
  out.set(BUNDLE_MAGIC, 0);
  v.setUint16(4, h.major, true);
  v.setUint16(6, h.minor, true);
  v.setUint32(8, h.flags, true);
  v.setUint32(12, h.manifestLength, true);
  v.setUint32(16, h.entryCount, true);
  v.setUint32(20, h.signatureLength, true);
  out.set(h.keyId, 24);
  return out;
}

/**
 * The bundle file: entries sorted, each package's size and SHA-256 filled in, the manifest
 * validated, signed when a key is given. Deterministic: the same entries, packages and key
 * give the same bytes. PKG_INVALID when an entry breaks a rule.
 */
export async function encodeBundle(inputs: readonly BundleEntryInput[], producer: Producer, opts: { readonly signingKey?: SigningKey } = {}): Promise<Result<Uint8Array>> {
  const sorted = [...inputs].sort(compareEntries);
  const entries: BundleEntry[] = [];
  const packages: Uint8Array[] = [];
  for (const { package: pkg, ...e } of sorted) {
    entries.push({ ...e, packageSize: pkg?.length ?? 0, packageSha256: pkg === null ? null : await sha256(pkg) });
    if (pkg !== null) packages.push(pkg);
  }
  const manifest: BundleManifest = { entries, producer };
  const valid = validateManifest(manifest);
  if (!valid.ok) return valid;
  const raw = encodeManifest(manifest);
  if (raw.length > BUNDLE_LIMITS.manifestBytes) return err('PKG_INVALID', `bundle manifest is ${raw.length} bytes, over the ${BUNDLE_LIMITS.manifestBytes}-byte limit`);
  const signed = opts.signingKey !== undefined;
  const header = writeHeader({
    major: BUNDLE_MAJOR,
    minor: BUNDLE_MINOR,
    flags: signed ? FLAG_SIGNED : 0,
    manifestLength: raw.length,
    entryCount: entries.length,
    signatureLength: signed ? SIGNATURE_LENGTH : 0,
    keyId: opts.signingKey?.publicKey.id ?? new Uint8Array(KEY_ID_LENGTH),
  });
  const body = [header, raw, ...packages];
  const signedLength = body.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(signedLength + (signed ? SIGNATURE_LENGTH : 0));
  let at = 0;
  for (const b of body) {
    out.set(b, at);
    at += b.length;
  }
  if (opts.signingKey !== undefined) out.set(await sign(opts.signingKey, out.subarray(0, signedLength)), signedLength);
  return ok(out);
}

/** True when the bytes start like a bundle (for commands that take a package or a bundle). */
export function isBundle(bytes: Uint8Array): boolean {
  return BUNDLE_MAGIC.every((b, i) => bytes[i] === b);
}

/** Parses and bounds the header against the file (nothing is decoded). */
export function readBundleHeader(bytes: Uint8Array): Result<BundleHeader> {
  if (bytes.length < HEADER_LENGTH) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, shorter than the ${HEADER_LENGTH}-byte bundle header`, bytes.length);
  if (!isBundle(bytes)) return err('PKG_BAD_MAGIC', 'not a hotpatch bundle (magic is not "HPB1")', 0);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = v.getUint16(4, true);
  const minor = v.getUint16(6, true);
  if (major !== BUNDLE_MAJOR) return err('PKG_VERSION', `bundle format ${major}.${minor} is not supported (this hotpatch reads ${BUNDLE_MAJOR}.x)`, 4);
  const flags = v.getUint32(8, true);
  if ((flags & ~FLAG_SIGNED) !== 0) return err('PKG_FLAGS', `unknown bundle header flags 0x${(flags & ~FLAG_SIGNED).toString(16)}`, 8);
  const manifestLength = v.getUint32(12, true);
  const entryCount = v.getUint32(16, true);
  const signatureLength = v.getUint32(20, true);
  const keyId = bytes.slice(24, 32);
  const signed = (flags & FLAG_SIGNED) !== 0;
  if (signatureLength !== (signed ? SIGNATURE_LENGTH : 0)) return err('PKG_LENGTH', `signature length ${signatureLength} does not match the ${signed ? 'signed' : 'unsigned'} flag`, 20);
  if (!signed && keyId.some((b) => b !== 0)) return err('PKG_LENGTH', 'unsigned bundle carries a key id', 24);
  if (manifestLength === 0 || manifestLength > BUNDLE_LIMITS.manifestBytes) return err('PKG_LENGTH', `manifest length ${manifestLength}, not 1..${BUNDLE_LIMITS.manifestBytes}`, 12);
  if (entryCount > BUNDLE_LIMITS.entries) return err('PKG_LENGTH', `${entryCount} entries declared, over the ${BUNDLE_LIMITS.entries} limit`, 16);
  if (HEADER_LENGTH + manifestLength + signatureLength > bytes.length) return err('PKG_TRUNCATED', `file is ${bytes.length} bytes, the header declares at least ${HEADER_LENGTH + manifestLength + signatureLength}`, bytes.length);
  return ok({ major, minor, flags, manifestLength, entryCount, signatureLength, keyId });
}

/**
 * Checks and decodes a bundle: header and lengths, signature over everything before it,
 * manifest decode and validation, the packages' total against the file, then each package's
 * size bound and SHA-256. Each refusal is one error value; nothing is returned unverified.
 * The packages themselves are checked again by loadPackage when they are applied.
 */
export async function loadBundle(bytes: Uint8Array, opts: LoadOptions): Promise<Result<LoadedBundle>> {
  const hr = readBundleHeader(bytes);
  if (!hr.ok) return hr;
  const h = hr.value;
  const signedEnd = bytes.length - h.signatureLength;
  const sig = await checkSignature(bytes, signedEnd, h.signatureLength, h.keyId, opts, 'bundle');
  if (!sig.ok) return sig;
  const manifestEnd = HEADER_LENGTH + h.manifestLength;
  const m = decodeManifest(bytes.subarray(HEADER_LENGTH, manifestEnd));
  if (!m.ok) return err(m.error.code, m.error.message, HEADER_LENGTH);
  if (m.value.entries.length !== h.entryCount) return err('PKG_INVALID', `bundle header declares ${h.entryCount} entries, the manifest holds ${m.value.entries.length}`, 16);
  const valid = validateManifest(m.value);
  if (!valid.ok) return err(valid.error.code, valid.error.message, HEADER_LENGTH);
  const total = m.value.entries.reduce((n, e) => n + e.packageSize, 0);
  if (manifestEnd + total !== signedEnd) {
    return err(manifestEnd + total > signedEnd ? 'PKG_TRUNCATED' : 'PKG_LENGTH', `the manifest's packages take ${total} bytes, the file has ${signedEnd - manifestEnd}`, manifestEnd);
  }
  const entries: Array<{ entry: BundleEntry; package: Uint8Array | null }> = [];
  let at = manifestEnd;
  for (const [i, e] of m.value.entries.entries()) {
    if (e.packageSize === 0) {
      entries.push({ entry: e, package: null });
      continue;
    }
    const pkg = bytes.subarray(at, at + e.packageSize);
    const digest = await sha256(pkg);
    if (!digest.every((b, j) => b === e.packageSha256![j])) {
      return err('PKG_DIGEST', `bundle entries[${i}] (${e.oldPath}): package SHA-256 does not match the manifest`, at);
    }
    entries.push({ entry: e, package: pkg });
    at += e.packageSize;
  }
  return ok({
    header: h,
    manifest: m.value,
    entries,
    signature: sig.value,
    sizes: { file: bytes.length, manifest: h.manifestLength, packages: total, signature: h.signatureLength },
  });
}
