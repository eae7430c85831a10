/**
 * `hotpatch verify OLD NEW PATCH.hpk [--trust PUB.pem...]`: loads the package (checking its
 * signature against --trust keys when given) and proves, instruction for instruction, that
 * each function it carries is NEW's function re-targeted at OLD (compiler/verify). Exit 32
 * (VERIFY_) on a mismatch.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { verifyFiles } from '../../compiler/index.ts';
import { loadPackage } from '../../formats/container.ts';
import { importPublicKey, type PublicKey } from '../../formats/keys.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';

export default defineCommand({
  args: {
    positionals: {
      old: { describe: 'the build that is running' },
      new: { describe: 'the fixed build' },
      patch: { describe: 'the .hpk package' },
    },
    options: {
      trust: { type: 'string', array: true, describe: 'public key(s) whose signature to require (PEM)' },
    },
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const keys: PublicKey[] = [];
    for (const p of argv.trust ?? []) {
      const b = readInputFile(p);
      if (!b.ok) return b;
      const k = await importPublicKey(new TextDecoder().decode(b.value));
      if (!k.ok) return err(k.error.code, `${p}: ${k.error.message}`);
      keys.push(k.value);
    }
    const files = [argv.old, argv.new, argv.patch].map(readInputFile);
    for (const f of files) if (!f.ok) return f;
    const [o, n, p] = files.map((f) => (f as { value: Uint8Array }).value) as [Uint8Array, Uint8Array, Uint8Array];
    const loaded = await loadPackage(p, { trusted: keys, allowUnsigned: keys.length === 0, readOnly: true });
    if (!loaded.ok) return loaded;
    const v = verifyFiles(o, n, loaded.value.package);
    if (!v.ok) return v;
    const r = v.value;
    const sig = loaded.value.signature;
    return ok({
      json: { verified: true, signature: sig, ...r },
      text: `verified: ${r.functions} function(s), ${r.instructions} instructions, ${r.references} references, ${r.unwindEntries} unwind entries, ${r.redirects} redirect(s), ${r.dataBlocks} data block(s); signature ${sig.status}`,
    });
  },
});
