/**
 * `hotpatch keygen --out DIR [--force]`: a fresh Ed25519 key pair for signing packages.
 * Writes DIR/hotpatch.key (PKCS#8 PEM, mode 0600: only its owner may read it) and
 * DIR/hotpatch.pub (SPKI PEM, mode 0644), and prints the key id that packages signed with
 * it will carry. Refuses to overwrite an existing key unless --force.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { generateKeyPair, toHex } from '../../formats/keys.ts';
import { defineCommand, type CommandOutput } from '../command.ts';

/**
 * Writes `text` to `path` with exactly `mode`. The file is always created fresh with that
 * mode (a new file, or a temporary one renamed over the old with --force), so the private
 * key never sits, even briefly, in a file with a looser mode; the creation mode is masked
 * by the umask, hence the explicit chmod before the content is reachable under `path`.
 */
function writeWithMode(path: string, text: string, mode: number, force: boolean): Result<void> {
  const tmp = force ? `${path}.tmp-${process.pid}` : path;
  try {
    writeFileSync(tmp, text, { mode, flag: 'wx' });
    chmodSync(tmp, mode);
    if (force) renameSync(tmp, path);
    return ok(undefined);
  } catch (e) {
    if (force) rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return err('IO_EXISTS', `${path} already exists (pass --force to replace it)`);
    return err('IO_WRITE_FAILED', `${path}: ${(e as Error).message.split('\n')[0] ?? 'cannot write'}`);
  }
}

export default defineCommand({
  builder: (y) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'directory to write hotpatch.key and hotpatch.pub into (created if missing)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace existing key files' }),
  run: async (argv): Promise<Result<CommandOutput>> => {
    const dir = argv.out;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      return err('IO_WRITE_FAILED', `${dir}: ${(e as Error).message.split('\n')[0] ?? 'cannot create directory'}`);
    }
    const keyPath = join(dir, 'hotpatch.key');
    const pubPath = join(dir, 'hotpatch.pub');
    if (!argv.force) {
      for (const p of [keyPath, pubPath]) if (existsSync(p)) return err('IO_EXISTS', `${p} already exists (pass --force to replace it)`);
    }
    const pair = await generateKeyPair();
    const wk = writeWithMode(keyPath, pair.privatePem, 0o600, argv.force);
    if (!wk.ok) return wk;
    const wp = writeWithMode(pubPath, pair.publicPem, 0o644, argv.force);
    if (!wp.ok) return wp;
    const keyId = toHex(pair.signingKey.publicKey.id);
    return ok({
      json: { privateKey: keyPath, publicKey: pubPath, keyId, algorithm: 'Ed25519' },
      text: `wrote ${keyPath} (private, mode 0600) and ${pubPath} (public)\nkey id ${keyId}`,
    });
  },
});
