/**
 * Ed25519 keys and signatures through WebCrypto (`globalThis.crypto.subtle`), which Node 20
 * implements for Ed25519; browsers, Deno and workers have it too, so formats/ needs no
 * `node:` import. Keys travel as PEM: PKCS#8 for the private key, SPKI for the public key,
 * the forms `openssl` and node:crypto read and write.
 *
 * A key id is the first 8 bytes of SHA-256 over the raw 32-byte public key; the container
 * header carries it so a loader can name the key that signed a package it does not trust.
 */
import { err, ok, type Result } from '../common/errors.ts';

/** A public key a loader trusts. */
export interface PublicKey {
  readonly key: CryptoKey;
  /** The raw 32-byte Ed25519 public key. */
  readonly raw: Uint8Array;
  /** First 8 bytes of SHA-256(raw). */
  readonly id: Uint8Array;
}

/** A private signing key with its public half. */
export interface SigningKey {
  readonly key: CryptoKey;
  readonly publicKey: PublicKey;
}

/** Length of an Ed25519 signature. */
export const SIGNATURE_LENGTH = 64;
/** Length of a key id. */
export const KEY_ID_LENGTH = 8;

const ED25519 = { name: 'Ed25519' } as const;
const subtle = (): SubtleCrypto => globalThis.crypto.subtle;

/** Copies into a fresh ArrayBuffer-backed array (WebCrypto's BufferSource typing wants one). */
function own(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** SHA-256 of `bytes` (WebCrypto). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', own(bytes)));
}

/** Lower-case hex of a byte string (key ids, hashes in reports). */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

async function publicKeyFromCrypto(key: CryptoKey): Promise<PublicKey> {
  const raw = new Uint8Array(await subtle().exportKey('raw', key));
  return { key, raw, id: (await sha256(raw)).slice(0, KEY_ID_LENGTH) };
}

function pemBody(pem: string, label: string): Result<Uint8Array> {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`);
  const m = re.exec(pem);
  if (m === null) return err('SIG_KEY', `not a PEM "${label}" block`);
  const b64 = m[1]!.replace(/\s+/g, '');
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return ok(out);
  } catch {
    return err('SIG_KEY', `PEM "${label}" block is not valid base64`);
  }
}

function toPem(der: Uint8Array, label: string): string {
  let bin = '';
  for (const x of der) bin += String.fromCharCode(x);
  const b64 = btoa(bin);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Parses an SPKI PEM ("PUBLIC KEY") holding an Ed25519 key. SIG_KEY when it is not one. */
export async function importPublicKey(pem: string): Promise<Result<PublicKey>> {
  const der = pemBody(pem, 'PUBLIC KEY');
  if (!der.ok) return der;
  try {
    const key = await subtle().importKey('spki', own(der.value), ED25519, true, ['verify']);
    return ok(await publicKeyFromCrypto(key));
  } catch {
    return err('SIG_KEY', 'PUBLIC KEY is not an Ed25519 SPKI key');
  }
}

/** Parses a PKCS#8 PEM ("PRIVATE KEY") holding an Ed25519 key. SIG_KEY when it is not one. */
export async function importSigningKey(pem: string): Promise<Result<SigningKey>> {
  const der = pemBody(pem, 'PRIVATE KEY');
  if (!der.ok) return der;
  let key: CryptoKey;
  try {
    key = await subtle().importKey('pkcs8', own(der.value), ED25519, true, ['sign']);
  } catch {
    return err('SIG_KEY', 'PRIVATE KEY is not an Ed25519 PKCS#8 key');
  }
  // WebCrypto cannot derive the public half of an imported private key directly; a JWK
  // export carries it (`x`), which is how we get it without node:crypto.
  const jwk = await subtle().exportKey('jwk', key);
  if (jwk.x === undefined) return err('SIG_KEY', 'PRIVATE KEY has no public part');
  const pub = await subtle().importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, ED25519, true, ['verify']);
  return ok({ key, publicKey: await publicKeyFromCrypto(pub) });
}

/** A fresh key pair with its PEM forms (PKCS#8 private, SPKI public). */
export async function generateKeyPair(): Promise<{ readonly signingKey: SigningKey; readonly privatePem: string; readonly publicPem: string }> {
  const pair = (await subtle().generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle().exportKey('pkcs8', pair.privateKey));
  const spki = new Uint8Array(await subtle().exportKey('spki', pair.publicKey));
  return {
    signingKey: { key: pair.privateKey, publicKey: await publicKeyFromCrypto(pair.publicKey) },
    privatePem: toPem(pkcs8, 'PRIVATE KEY'),
    publicPem: toPem(spki, 'PUBLIC KEY'),
  };
}

/** Ed25519 signature of `message`. */
export async function sign(key: SigningKey, message: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign(ED25519, key.key, own(message)));
}

/** True when `signature` is `key`'s Ed25519 signature of `message`. */
export async function verify(key: PublicKey, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (signature.length !== SIGNATURE_LENGTH) return false;
  return subtle().verify(ED25519, key.key, own(signature), own(message));
}
