/**
 * The package format's public API: build a package model (formats/package.ts), encode and
 * sign it, load and check it, and describe it. See formats/FORMAT.md for the format itself.
 * Imports no `node:` module (keys and hashes use WebCrypto), so it runs in any JS runtime.
 */
export type * from './package.ts';
export { FORMAT_MAJOR, FORMAT_MINOR, REDIRECT_SITE_LENGTH, REDIRECT_PAD_LENGTH } from './package.ts';
export {
  encodePackage,
  loadPackage,
  readHeader,
  LOAD_ERROR_CODES,
  DEFAULT_MAX_UNCOMPRESSED,
  type ContainerHeader,
  type EncodeOptions,
  type LoadOptions,
  type LoadedPackage,
  type SignatureStatus,
} from './container.ts';
export { encodePayload, decodePayload, payloadBreakdown, chooseBlockBytes, encodedBlockBytesSize, type PayloadBreakdown } from './codec.ts';
export { validatePackage, blockSize, FIXUP_WIDTH } from './validate.ts';
export { encodeDelta, applyDelta, checkDelta } from './delta.ts';
// Format 2.2: sealed bytes (a package's literal block bytes compressed against old-image ranges).
export { unsealPackage, sealPackageWith } from './seal.ts';
export { generateKeyPair, importPublicKey, importSigningKey, sha256, sign, verify, type PublicKey, type SigningKey } from './keys.ts';
export { describePackage, type PackageReport } from './describe.ts';
export { packageToJson } from './json.ts';
export {
  encodeBundle,
  loadBundle,
  readBundleHeader,
  validateManifest,
  isBundle,
  BUNDLE_LIMITS,
  type BundleEntry,
  type BundleEntryStatus,
  type BundleManifest,
  type LoadedBundle,
  type ModuleIdentity,
} from './bundle.ts';
