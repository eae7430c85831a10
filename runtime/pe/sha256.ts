/** `sha256`: identity hashing, computed in the wasm core so it runs in every JS runtime. */
import { callParser, rawParser } from './wasm.ts';

/** SHA-256 digest of `bytes` (32 bytes). Throws only if the wasm could not be loaded. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const r = callParser(() => rawParser.sha256(bytes), (d) => d);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** Lower-case hex of a digest. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
