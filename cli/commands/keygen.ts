/**
 * `hotpatch keygen --out DIR [--force]`: a fresh Ed25519 key pair for signing packages.
 * Writes DIR/hotpatch.key (PKCS#8 PEM, mode 0600: only its owner may read it) and
 * DIR/hotpatch.pub (SPKI PEM, mode 0644), and prints the key id that packages signed with
 * it will carry. DIR is created 0700 whatever the umask. Refuses to overwrite an existing key
 * unless --force. Both files go through cli/write-output.ts (temp file with the final mode,
 * fsync, rename), so the private key never sits in a file with a looser mode.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { generateKeyPair, toHex } from '../../formats/keys.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { writeOutput } from '../write-output.ts';

export default defineCommand({
  args: {
    options: {
      out: { type: 'string', demandOption: true, describe: 'directory to write hotpatch.key and hotpatch.pub into (created if missing)' },
      force: { type: 'boolean', default: false, describe: 'replace existing key files' },
    },
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const dir = argv.out;
    try {
      // 0700 whatever the umask: the directory holds a private key (mkdir masks its mode).
      const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (created !== undefined) chmodSync(dir, 0o700);
    } catch (e) {
      return err('IO_WRITE_FAILED', `${dir}: ${(e as Error).message.split('\n')[0] ?? 'cannot create directory'}`);
    }
    const keyPath = join(dir, 'hotpatch.key');
    const pubPath = join(dir, 'hotpatch.pub');
    if (!argv.force) {
      for (const p of [keyPath, pubPath]) if (existsSync(p)) return err('IO_EXISTS', `${p} already exists (pass --force to replace it)`);
    }
    const pair = await generateKeyPair();
    const enc = new TextEncoder();
    const wk = writeOutput(keyPath, enc.encode(pair.privatePem), { inputs: [], mode: 0o600, exclusive: !argv.force });
    if (!wk.ok) return wk;
    const wp = writeOutput(pubPath, enc.encode(pair.publicPem), { inputs: [], mode: 0o644, exclusive: !argv.force });
    if (!wp.ok) return wp;
    const keyId = toHex(pair.signingKey.publicKey.id);
    return ok({
      json: { privateKey: keyPath, publicKey: pubPath, keyId, algorithm: 'Ed25519' },
      text: `wrote ${keyPath} (private, mode 0600) and ${pubPath} (public)\nkey id ${keyId}`,
    });
  },
});
