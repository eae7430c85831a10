/**
 * `hotpatch bundle OLD_DIR NEW_DIR -o RELEASE.hpb (--key K | --unsigned) [--jobs N]
 * [--skip-refused] [--keep-packages DIR | --from-packages DIR]`: one signed bundle for a
 * release. Pairs the PE modules of the two trees (by path, then renamed modules by identity),
 * builds each changed module's package on worker threads (the job is `hotpatch build`), and
 * writes the bundle with every module's status. A refused module never stops the others: it
 * is listed with its reasons, and the exit code tells a complete bundle (0) from a partial
 * one (33).
 *
 * Per-module results as files (what another build engine produces, one pair at a time):
 * `<old path>.hpk` (the package, as `hotpatch build` writes it) and `<old path>.outcome.json`
 * (`{status, reasonCode, reasons}`). --keep-packages writes them; --from-packages assembles
 * the bundle from them instead of building, after checking each package's signature and
 * identity, so it is byte-identical to the bundle built here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { bundleEntries, bundleSummary, checkForeignPackage, moduleNameOf, sameFile } from '../../bundle/assemble.ts';
import type { ModuleOutcome } from '../../bundle/build-module.ts';
import { pairModules, type ModulePair } from '../../bundle/pair-modules.ts';
import { COMPILER_VERSION } from '../../compiler/index.ts';
import { encodeBundle, type BundleEntryInput } from '../../formats/bundle.ts';
import { importSigningKey, type SigningKey } from '../../formats/keys.ts';
import { runJobs, type JobRequest } from '../bundle/pool.ts';
import { readTree } from '../bundle/read-tree.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';

/** Exit code of a bundle written with refused or partial modules. */
export const PARTIAL_BUNDLE_EXIT = 33;


function writeOut(path: string, bytes: Uint8Array | string): Result<void> {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return ok(undefined);
  } catch (e) {
    return err('IO_WRITE_FAILED', `${path}: ${(e as Error).message.split('\n')[0] ?? 'cannot write'}`);
  }
}

function outcomeJson(o: ModuleOutcome): string {
  const reasoned = o.status === 'refused' || o.status === 'partial';
  return `${JSON.stringify({ status: o.status, reasonCode: reasoned ? o.reasonCode : null, reasons: reasoned ? o.reasons : [] }, null, 2)}\n`;
}

/** Reads one module's results from --from-packages DIR and checks them (signature, identity, outcome). */
async function foreignOutcome(dir: string, p: ModulePair, key: SigningKey | undefined, skipRefused: boolean): Promise<Result<ModuleOutcome>> {
  const oj = readInputFile(join(dir, `${p.old.path}.outcome.json`));
  if (!oj.ok) return err('BUNDLE_MISSING_PACKAGE', `${p.old.path}: no ${p.old.path}.outcome.json in ${dir}`);
  let o: { status?: unknown; reasonCode?: unknown; reasons?: unknown };
  try {
    o = JSON.parse(new TextDecoder().decode(oj.value)) as typeof o;
  } catch {
    return err('BUNDLE_OUTCOME', `${p.old.path}.outcome.json: not JSON`);
  }
  const reasons = Array.isArray(o.reasons) && o.reasons.every((r) => typeof r === 'string') ? (o.reasons as string[]) : null;
  const code = typeof o.reasonCode === 'string' ? o.reasonCode : null;
  if (reasons === null) return err('BUNDLE_OUTCOME', `${p.old.path}.outcome.json: reasons must be a list of strings`);
  if (o.status === 'unchanged') return ok({ status: 'unchanged' });
  if (o.status === 'refused' && code !== null) return ok({ status: 'refused', reasonCode: code, reasons });
  if (o.status !== 'changed' && !(o.status === 'partial' && code !== null)) return err('BUNDLE_OUTCOME', `${p.old.path}.outcome.json: status ${String(o.status)} (with its reason code) is not one a module can have`);
  const pkg = readInputFile(join(dir, `${p.old.path}.hpk`));
  if (!pkg.ok) return err('BUNDLE_MISSING_PACKAGE', `${p.old.path}: status ${o.status} but no ${p.old.path}.hpk in ${dir}`);
  const checked = await checkForeignPackage(pkg.value, p, key === undefined ? [] : [key.publicKey], skipRefused);
  if (!checked.ok) return checked;
  if (o.status === 'changed') return ok({ status: 'changed', package: pkg.value, functions: checked.value.functions });
  return ok({ status: 'partial', package: pkg.value, functions: checked.value.functions, reasonCode: code!, reasons });
}

function entryLine(e: BundleEntryInput): string {
  const path = e.oldPath === null ? `(new) ${e.newPath}` : e.newPath !== null && e.newPath !== e.oldPath ? `${e.oldPath} -> ${e.newPath}` : e.oldPath;
  const size = e.package === null ? '' : `  ${e.package.length} B`;
  const paired = e.pairedBy !== '' && e.pairedBy !== 'path' ? `  (paired by ${e.pairedBy})` : '';
  const reasons = e.reasons.map((r) => `\n      ${e.reasonCode}: ${r}`).join('');
  return `  ${e.status.padEnd(9)} ${path}${size}${paired}${reasons}`;
}

export default defineCommand({
  args: {
    positionals: {
      old: { describe: 'the release that is running (a directory)' },
      new: { describe: 'the fixed release (a directory)' },
    },
    options: {
      out: { alias: 'o', type: 'string', demandOption: true, describe: 'bundle to write (.hpb)' },
      key: { type: 'string', describe: 'Ed25519 private key (PEM) to sign the bundle and its packages with' },
      unsigned: { type: 'boolean', default: false, describe: 'write an unsigned bundle (without --key)' },
      jobs: { alias: 'j', type: 'number', describe: 'modules built at once (default: the number of cores)' },
      'skip-refused': { type: 'boolean', default: false, describe: 'package the hotpatchable changes of partly refused modules (status partial)' },
      'keep-packages': { type: 'string', describe: 'also write each module\'s package and outcome to DIR' },
      'from-packages': { type: 'string', describe: 'assemble from the packages and outcomes in DIR (built elsewhere) instead of building' },
    },
    conflicts: [['keep-packages', 'from-packages']],
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    if (argv.key === undefined && !argv.unsigned) return err('USAGE_NO_KEY', 'no --key given: pass --key KEY.pem to sign, or --unsigned to write an unsigned bundle');
    if (argv.key !== undefined && argv.unsigned) return err('USAGE_CONFLICT', '--key and --unsigned exclude each other');
    const jobs = argv.jobs ?? availableParallelism();
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256) return err('USAGE_JOBS', `--jobs must be an integer in 1..256, not ${jobs}`);
    let keyPem: string | null = null;
    let signingKey: SigningKey | undefined;
    if (argv.key !== undefined) {
      const pem = readInputFile(argv.key);
      if (!pem.ok) return pem;
      keyPem = new TextDecoder().decode(pem.value);
      const k = await importSigningKey(keyPem);
      if (!k.ok) return err(k.error.code, `${argv.key}: ${k.error.message}`);
      signingKey = k.value;
    }
    const t0 = performance.now();
    const oldTree = readTree(argv.old);
    if (!oldTree.ok) return oldTree;
    const newTree = readTree(argv.new);
    if (!newTree.ok) return newTree;
    const pairing = await pairModules(oldTree.value, newTree.value);
    const changed = pairing.pairs.filter((p) => !sameFile(p));
    const outcomes = new Map<string, ModuleOutcome>();
    const moduleMs: Record<string, number> = {};
    const tty = process.stderr.isTTY === true;
    if (argv['from-packages'] !== undefined) {
      for (const p of changed) {
        const o = await foreignOutcome(argv['from-packages'], p, signingKey, argv['skip-refused']);
        if (!o.ok) return o;
        outcomes.set(p.old.path, o.value);
      }
    } else {
      const requests: JobRequest[] = changed.map((p, id) => ({
        id,
        oldBytes: p.old.bytes,
        newBytes: p.new.bytes,
        moduleName: moduleNameOf(p.old),
        skipRefused: argv['skip-refused'],
        keyPem,
      }));
      let done = 0;
      const replies = await runJobs(requests, jobs, (r) => {
        done++;
        if (tty) process.stderr.write(`[${done}/${requests.length}] ${changed[r.id]!.old.path}: ${r.result.ok ? r.result.value.status : r.result.error.code} (${(r.ms / 1000).toFixed(1)} s)\n`);
      });
      for (const [id, p] of changed.entries()) {
        const r = replies.get(id)!;
        moduleMs[p.old.path] = Math.round(r.ms);
        // A failure of the tool on one module (a bug, a crashed worker) is that module's refusal.
        outcomes.set(p.old.path, r.result.ok ? r.result.value : { status: 'refused', reasonCode: r.result.error.code, reasons: [r.result.error.message] });
      }
    }
    const entries = bundleEntries(pairing, outcomes);
    if (!entries.ok) return entries;
    const producer = { compilerVersion: COMPILER_VERSION, parameters: [{ key: 'skip-refused', value: String(argv['skip-refused']) }] };
    const enc = await encodeBundle(entries.value, producer, signingKey === undefined ? {} : { signingKey });
    if (!enc.ok) return enc;
    const keep = argv['keep-packages'];
    if (keep !== undefined) {
      for (const p of changed) {
        const o = outcomes.get(p.old.path)!;
        if (o.status === 'changed' || o.status === 'partial') {
          const w = writeOut(join(keep, `${p.old.path}.hpk`), o.package);
          if (!w.ok) return w;
        }
        const w = writeOut(join(keep, `${p.old.path}.outcome.json`), outcomeJson(o));
        if (!w.ok) return w;
      }
    }
    const written = writeOut(argv.out, enc.value);
    if (!written.ok) return written;
    const sorted = [...entries.value].sort((a, b) => (a.oldPath ?? `\uffff${a.newPath}`).localeCompare(b.oldPath ?? `\uffff${b.newPath}`));
    const { counts, complete } = bundleSummary(sorted);
    const json = {
      written: true,
      out: argv.out,
      bytes: enc.value.length,
      signed: signingKey !== undefined,
      complete,
      counts,
      jobs: argv['from-packages'] === undefined ? Math.min(jobs, Math.max(1, changed.length)) : 0,
      entries: sorted.map((e) => ({
        oldPath: e.oldPath,
        newPath: e.newPath,
        module: e.moduleName,
        status: e.status,
        pairedBy: e.pairedBy,
        packageBytes: e.package?.length ?? 0,
        reasonCode: e.reasonCode,
        reasons: e.reasons,
        ms: e.oldPath === null ? null : (moduleMs[e.oldPath] ?? null),
      })),
      ignored: pairing.ignored,
      totalMs: Math.round(performance.now() - t0),
    };
    const c = counts;
    const lines = [
      `wrote ${argv.out}: ${enc.value.length} bytes, ${signingKey === undefined ? 'UNSIGNED' : 'signed'}, ${complete ? 'complete' : 'PARTIAL'}: ` +
        `${c.changed} changed, ${c.partial} partial, ${c.refused} refused, ${c.unchanged} unchanged, ${c.added} added, ${c.unpaired} unpaired`,
      ...sorted.map(entryLine),
      ...pairing.ignored.map((x) => `  ignored   ${x.tree} ${x.path}: ${x.reason}`),
    ];
    return ok({ json, text: lines.join('\n'), exitCode: complete ? 0 : PARTIAL_BUNDLE_EXIT });
  },
});
