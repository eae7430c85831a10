/**
 * SHA-256 for identity hashing, computed in the wasm core (runtime/pe/sha256.ts) like the
 * rest of the parsing, so the planner hashes exactly as the compiler did and needs no
 * `node:crypto` or WebCrypto.
 */
import { sha256 as wasmSha256 } from '../pe/sha256.ts';

/** SHA-256 of `bytes` (async for callers that may later move hashing off-thread). */
export function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return Promise.resolve(wasmSha256(bytes));
}
