/** Reading the `--trust PUB` keys every verifying command takes. */
import { err, ok, type Result } from '../common/errors.ts';
import { importPublicKey, type PublicKey } from '../formats/keys.ts';
import { readInputFile } from './commands/pe.ts';

/** Reads and imports every --trust public key (PEM); errors name the file. */
export async function readTrustedKeys(paths: readonly string[]): Promise<Result<PublicKey[]>> {
  const keys: PublicKey[] = [];
  for (const p of paths) {
    const b = readInputFile(p);
    if (!b.ok) return b;
    const k = await importPublicKey(new TextDecoder().decode(b.value));
    if (!k.ok) return err(k.error.code, `${p}: ${k.error.message}`);
    keys.push(k.value);
  }
  return ok(keys);
}
