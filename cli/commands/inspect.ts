/**
 * `hotpatch inspect PATCH.hpk [--trust PUB...] [--allow-unsigned] [--full]`: everything a
 * package holds (target, series, functions with their code/fixup/unwind sizes, data,
 * imports, redirects), its signature status and the size breakdown of the file. --full adds
 * the whole package as lossless JSON (every byte and fixup; formats/json.ts).
 *
 * Without --trust, inspect is a viewer: it shows the contents of a signed package and
 * reports its signature as "not verified" (it has no key to check it with), and shows an
 * unsigned package as "unsigned". With --trust, the signature must verify against one of
 * the given keys (a bad or foreign signature fails, exit 21), and an unsigned package is
 * refused unless --allow-unsigned. Every other check of loadPackage runs either way.
 */
import { basename } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { loadPackage } from '../../formats/container.ts';
import { describePackage } from '../../formats/describe.ts';
import { packageToJson } from '../../formats/json.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';
import { readTrustedKeys } from '../trusted-keys.ts';
import { renderReport } from '../render-package.ts';
import { isBundle } from '../../formats/bundle.ts';
import { inspectBundle } from '../bundle/inspect-bundle.ts';

export default defineCommand({
  args: {
    positionals: {
      patch: { describe: 'the package (.hpk) or bundle (.hpb)' },
    },
    options: {
      trust: { type: 'string', array: true, default: [], describe: 'public key (PEM) to verify the signature with; repeatable' },
      'allow-unsigned': { type: 'boolean', default: false, describe: 'with --trust: still show an unsigned package' },
      full: { type: 'boolean', default: false, describe: 'also print the whole package as lossless JSON (every byte, fixup and op)' },
    },
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const bytes = readInputFile(argv.patch);
    if (!bytes.ok) return bytes;
    const keys = await readTrustedKeys(argv.trust);
    if (!keys.ok) return keys;
    // No --trust: a viewer, so signed packages show as "not verified" and unsigned ones show too.
    const verifying = keys.value.length > 0;
    const trust = { trusted: keys.value, allowUnsigned: verifying ? argv['allow-unsigned'] : true, readOnly: true };
    if (isBundle(bytes.value)) return inspectBundle(bytes.value, basename(argv.patch), trust);
    const loaded = await loadPackage(bytes.value, { trusted: keys.value, allowUnsigned: verifying ? argv['allow-unsigned'] : true, readOnly: true });
    if (!loaded.ok) return err(loaded.error.code, `${argv.patch}: ${loaded.error.message}`, loaded.error.offset);
    const report = describePackage(loaded.value);
    const text = renderReport(report, basename(argv.patch));
    if (!argv.full) return ok({ json: report, text });
    const full = packageToJson(loaded.value.package);
    return ok({ json: { ...report, package: full }, text: `${text}\n\npackage (lossless JSON):\n${JSON.stringify(full, null, 2)}` });
  },
});
