/**
 * `hotpatch build OLD NEW -o PATCH.hpk (--key KEY.pem | --unsigned) [--baseline ID --sequence N]
 * [--skip-refused] [--module NAME]`: diff, emit, verify, sign and write the package.
 *
 * A refused change fails the build (exit 31) with one line per reason, naming the function or
 * global, and writes nothing; --skip-refused writes a package of the hotpatchable changes only
 * and lists what it left out. Unsigned packages are written only when --unsigned asks for
 * one: a missing --key is more often a mistake than a wish. The package is verified
 * (compiler/verify) before it is written.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { buildFromDiff, sealBuilt, COMPILER_VERSION, diffFiles, refusalLines, refusalsOf, refuseRuntimeTablesOfFiles } from '../../compiler/index.ts';
import { encodePackage } from '../../formats/container.ts';
import { importSigningKey, type SigningKey } from '../../formats/keys.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { LONG_INPUT_BYTES, startProgress } from '../progress.ts';
import { readInputFile } from './pe.ts';
import { writeOutput } from '../write-output.ts';


/**
 * A signing key that group or others can read is no longer only its owner's: refuse it
 * (SIG_KEY_MODE) unless --insecure-key says the owner knows. POSIX modes only; on Windows
 * the mode bits say nothing about access, so the check is skipped there.
 */
export function checkKeyPrivate(path: string, insecure: boolean): Result<void> {
  if (insecure || process.platform === 'win32') return ok(undefined);
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return ok(undefined); // readInputFile reports the missing or unreadable file
  }
  if ((mode & 0o077) === 0) return ok(undefined);
  const who = [(mode & 0o070) !== 0 ? 'group' : null, (mode & 0o007) !== 0 ? 'others' : null].filter((x) => x !== null).join(' and ');
  return err('SIG_KEY_MODE', `${path} has mode 0${mode.toString(8)}: its ${who} can access the private key; chmod 600 it (keygen writes 0600), or pass --insecure-key to sign anyway`);
}

export default defineCommand({
  args: {
    positionals: {
      old: { describe: 'the build that is running' },
      new: { describe: 'the fixed build' },
    },
    options: {
      out: { alias: 'o', type: 'string', demandOption: true, describe: 'package to write (.hpk)' },
      key: { type: 'string', describe: 'Ed25519 private key (PEM, from `hotpatch keygen`) to sign with' },
      unsigned: { type: 'boolean', default: false, describe: 'write an unsigned package (without --key)' },
      'insecure-key': { type: 'boolean', default: false, describe: 'sign even when group or others can access the --key file' },
      baseline: { type: 'string', describe: 'series baseline id (with --sequence); default: derived from OLD' },
      sequence: { type: 'number', describe: 'sequence number in the series (N supersedes N-1)' },
      'skip-refused': { type: 'boolean', default: false, describe: 'package only the hotpatchable changes and list the rest' },
      module: { type: 'string', describe: 'module name the package targets (default: the export name, else the file name of OLD)' },
    },
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    if (argv.key === undefined && !argv.unsigned) return err('USAGE_NO_KEY', 'no --key given: pass --key KEY.pem to sign, or --unsigned to write an unsigned package');
    if (argv.key !== undefined && argv.unsigned) return err('USAGE_CONFLICT', '--key and --unsigned exclude each other');
    if ((argv.baseline === undefined) !== (argv.sequence === undefined)) return err('USAGE_SERIES', '--baseline and --sequence go together');
    if (argv.sequence !== undefined && (!Number.isInteger(argv.sequence) || argv.sequence < 1 || argv.sequence > 0xffffffff)) {
      return err('USAGE_SERIES', `--sequence must be a positive integer, not ${argv.sequence}`);
    }
    let signingKey: SigningKey | undefined;
    if (argv.key !== undefined) {
      const private_ = checkKeyPrivate(argv.key, argv['insecure-key']);
      if (!private_.ok) return private_;
      const pem = readInputFile(argv.key);
      if (!pem.ok) return pem;
      const k = await importSigningKey(new TextDecoder().decode(pem.value));
      if (!k.ok) return err(k.error.code, `${argv.key}: ${k.error.message}`);
      signingKey = k.value;
    }
    const o = readInputFile(argv.old);
    if (!o.ok) return o;
    const n = readInputFile(argv.new);
    if (!n.ok) return n;
    const t0 = performance.now();
    // A runtime with its own code tables (Go) refuses the whole image, before the diff.
    const runtime = refuseRuntimeTablesOfFiles(o.value, n.value);
    if (!runtime.ok) return runtime;
    const progress = startProgress('hotpatch build', { json: argv.json, expectLong: o.value.length + n.value.length >= LONG_INPUT_BYTES });
    const d = diffFiles(o.value, n.value, progress.report);
    if (!d.ok) {
      progress.end();
      return d;
    }
    const refused = refusalLines(d.value);
    if (refused.length > 0 && !argv['skip-refused']) {
      progress.end();
      const json = refusalsOf(d.value).map((r) => ({ what: r.what, code: r.reason.code, message: r.reason.message, at: r.reason.at === null ? null : hex(r.reason.at) }));
      return ok({
        json: { written: false, refused: json, hotpatchable: false },
        text: [`not hotpatchable: ${refused.length} change(s) refused, no package written`, ...refused.map((l) => `refused: ${l}`)].join('\n'),
        exitCode: 31,
      });
    }
    const moduleName = argv.module ?? d.value.match.old.img.pe.exports?.dllName ?? basename(argv.old);
    const b = buildFromDiff(d.value, {
      moduleName,
      skipRefused: argv['skip-refused'],
      series: argv.baseline !== undefined && argv.sequence !== undefined ? { baselineId: argv.baseline, sequence: argv.sequence } : null,
      compilerVersion: COMPILER_VERSION,
    }, undefined, progress.report);
    progress.end();
    if (!b.ok) return b;
    // Format 2.2: literal bytes sealed against OLD when that makes the package smaller.
    const sealed = await sealBuilt(b.value);
    if (!sealed.ok) return sealed;
    const built = sealed.value;
    const compileMs = performance.now() - t0;
    const enc = await encodePackage(built.emitted.pkg, signingKey === undefined ? {} : { signingKey });
    if (!enc.ok) return enc;
    const w = writeOutput(argv.out, enc.value, { inputs: [argv.old, argv.new, ...(argv.key === undefined ? [] : [argv.key])] });
    if (!w.ok) return w;
    const pkg = built.emitted.pkg;
    const e = built.emitted;
    const json = {
      written: true,
      out: argv.out,
      outResolved: w.value.resolved,
      outNote: w.value.note,
      signed: signingKey !== undefined,
      module: moduleName,
      series: pkg.series,
      functions: pkg.functions.map((f) => ({ name: f.name, status: f.status, oldRva: f.oldRva === null ? null : hex(f.oldRva), newRva: hex(f.newRva), newSize: f.newSize })),
      omitted: e.omitted,
      imports: pkg.imports.map((i) => `${i.dll}!${i.symbol.kind === 'name' ? i.symbol.name : `#${i.symbol.ordinal}`}`),
      sizes: { package: enc.value.length, code: e.sizes.code, data: e.sizes.data, unwind: e.sizes.unwind, fixups: e.sizes.fixups, oldFile: o.value.length, newFile: n.value.length },
      verified: built.verified,
      compileMs: Math.round(compileMs),
    };
    const lines = [
      `wrote ${argv.out}: ${enc.value.length} bytes, ${pkg.functions.length} function(s) (${pkg.functions.filter((f) => f.status === 'changed').length} changed, ${pkg.functions.filter((f) => f.status === 'added').length} added), ${pkg.dataBlocks.length} data block(s), ${pkg.imports.length} new import(s), ${signingKey === undefined ? 'UNSIGNED' : 'signed'}`,
      `series ${pkg.series.baselineId} #${pkg.series.sequence}; verified ${built.verified.instructions} instructions, ${built.verified.references} references; ${Math.round(compileMs)} ms`,
      ...pkg.functions.map((f) => `  ${f.status.padEnd(8)} ${f.name ?? hex(f.newRva)}`),
      ...e.omitted.map((x) => `  left out ${x.what}: ${x.reason}`),
      ...(w.value.note === null ? [] : [w.value.note]),
    ];
    return ok({ json, text: lines.join('\n') });
  },
});
