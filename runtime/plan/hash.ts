/**
 * SHA-256 for identity hashing. WebCrypto (`globalThis.crypto.subtle`) is present in Node,
 * Deno, browsers and workers, so the portable core needs no `node:crypto`.
 */

/** SHA-256 of `bytes`. */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return new Uint8Array(digest);
}
