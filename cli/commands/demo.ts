/**
 * `hotpatch demo [SCENARIO]`: the whole pipeline on a bundled sample pair, in one command —
 * the README's quick start. Builds a signed package from samples/bin/SCENARIO/v1.dll -> v2.dll
 * (diff, emit, verify), inspects it, applies it to an in-memory process image of v1 (load,
 * verify the signature, plan, apply), reverts it, and prints the package size next to
 * bsdiff's for the same pair (when bsdiff is installed) and the apply times.
 *
 * The signing key is a fresh one made for this run; the package and the keys are written to
 * --out-dir (default: a new temporary folder) so that `hotpatch inspect` / `apply` can be
 * run on them by hand afterwards.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex } from '../../common/types.ts';
import { buildPackage, COMPILER_VERSION } from '../../compiler/index.ts';
import { encodePackage, loadPackage } from '../../formats/container.ts';
import { describePackage } from '../../formats/describe.ts';
import { generateKeyPair } from '../../formats/keys.ts';
import { applyPackageFile } from '../../runtime/apply/apply-file.ts';
import { revertPackage } from '../../runtime/apply/apply-package.ts';
import { MemoryBackend } from '../../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../../runtime/image/load-image.ts';
import { readScenarios, scenarioDll } from '../../samples/scenarios.ts';
import { writeOutput } from '../write-output.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';


const now = (): number => performance.now();
const ms = (x: number): number => Math.round(x * 1000) / 1000;

/** bsdiff's patch size for the pair, or null when bsdiff is not installed. */
function bsdiffSize(oldPath: string, newPath: string, dir: string): number | null {
  const out = join(dir, 'bsdiff.patch');
  const r = spawnSync('bsdiff', [oldPath, newPath, out], { stdio: 'ignore', timeout: 120_000 });
  if (r.status !== 0 || !existsSync(out)) return null;
  return statSync(out).size;
}

/** The mapped image bytes, for the byte-identical-after-revert check. */
function snapshot(backend: MemoryBackend, base: bigint): Uint8Array {
  const region = backend.image.space.regionAt(asVa(base));
  return region === undefined ? new Uint8Array() : region.bytes.slice();
}

export default defineCommand({
  args: {
    positionals: {
      scenario: { default: 'logic-fix', describe: 'sample scenario under samples/bin (see samples/scenarios.json)' },
    },
    options: {
      'out-dir': { type: 'string', describe: 'where to write the package and the demo keys (default: a new temp folder)' },
    },
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const scenario = readScenarios().find((s) => s.name === argv.scenario);
    if (scenario === undefined) return err('USAGE_SCENARIO', `no sample scenario named ${JSON.stringify(argv.scenario)}; see samples/scenarios.json`);
    if (scenario.expect !== 'hotpatchable') {
      return err('USAGE_SCENARIO', `scenario ${scenario.name} is one the compiler must refuse (${scenario.refusedReason ?? 'not hotpatchable'}); try \`hotpatch diff\` on it`);
    }
    const oldPath = scenarioDll(scenario.name, 'v1');
    const newPath = scenarioDll(scenario.name, 'v2');
    const oldBytes = readInputFile(oldPath);
    if (!oldBytes.ok) return oldBytes;
    const newBytes = readInputFile(newPath);
    if (!newBytes.ok) return newBytes;
    const dir = argv['out-dir'] ?? mkdtempSync(join(tmpdir(), 'hotpatch-demo-'));
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      return err('IO_WRITE_FAILED', `${dir}: ${(e as Error).message.split('\n')[0] ?? 'cannot create'}`);
    }

    // 1. build: diff, emit, verify, sign.
    const keys = await generateKeyPair();
    const t0 = now();
    const built = buildPackage(oldBytes.value, newBytes.value, {
      moduleName: `${scenario.name}.dll`,
      skipRefused: false,
      series: null,
      compilerVersion: COMPILER_VERSION,
    });
    if (!built.ok) return built;
    const encoded = await encodePackage(built.value.emitted.pkg, { signingKey: keys.signingKey });
    if (!encoded.ok) return encoded;
    const compileMs = now() - t0;
    const hpk = join(dir, `${scenario.name}.hpk`);
    const enc = new TextEncoder();
    for (const [path, bytes, mode] of [
      [hpk, encoded.value, 0o644],
      [join(dir, 'demo.key'), enc.encode(keys.privatePem), 0o600],
      [join(dir, 'demo.pub'), enc.encode(keys.publicPem), 0o644],
    ] as const) {
      const w = writeOutput(path, bytes, { inputs: [oldPath, newPath], mode });
      if (!w.ok) return w;
    }

    // 2. inspect: what a user of `hotpatch inspect --trust demo.pub` sees.
    const loaded = await loadPackage(readFileSync(hpk), { trusted: [keys.signingKey.publicKey], allowUnsigned: false });
    if (!loaded.ok) return loaded;
    const report = describePackage(loaded.value);

    // 3. apply to an in-memory process image of v1, then revert.
    const img = loadProcessImage(oldBytes.value, { name: `${scenario.name}.dll` });
    if (!img.ok) return img;
    const backend = new MemoryBackend(img.value);
    const before = snapshot(backend, img.value.base);
    const applied = await applyPackageFile(encoded.value, backend, { trusted: [keys.signingKey.publicKey], allowUnsigned: false });
    if (!applied.ok) return applied;
    const changedBytes = snapshot(backend, img.value.base).reduce((n, b, i) => n + (b !== before[i] ? 1 : 0), 0);
    const t1 = now();
    const reverted = await revertPackage(applied.value.report.plan, backend);
    if (!reverted.ok) return reverted;
    const revertMs = now() - t1;
    const after = snapshot(backend, img.value.base);
    const identical = after.length === before.length && after.every((b, i) => b === before[i]);
    if (!identical) return err('REVERT_NOT_IDENTICAL', 'after revert the image differs from before apply');

    const bsdiff = bsdiffSize(oldPath, newPath, dir);
    const a = applied.value.report;
    const json = {
      scenario: scenario.name,
      description: scenario.description,
      old: { path: oldPath, size: oldBytes.value.length },
      new: { path: newPath, size: newBytes.value.length },
      package: { path: hpk, size: encoded.value.length, publicKey: join(dir, 'demo.pub') },
      bsdiff: bsdiff === null ? null : { size: bsdiff, ratio: Math.round((encoded.value.length / bsdiff) * 1000) / 1000 },
      functions: report.functions.map((f) => ({ name: f.name, status: f.status })),
      redirects: report.redirects.length,
      verified: built.value.verified,
      sizes: report.sizes,
      timing: {
        compileMs: ms(compileMs),
        loadPackageMs: ms(applied.value.loadMs),
        planMs: ms(a.planMs),
        applyMs: ms(a.execute.totalMs),
        pauseMs: ms(a.execute.pauseMs),
        revertMs: ms(revertMs),
        perFunctionMs: a.functions.map((f) => ({ name: f.name, ms: ms(f.ms) })),
      },
      image: { base: hex(img.value.base), bytesChangedInImage: changedBytes, revertedIdentical: identical },
    };
    const names = report.functions.map((f) => `${f.name ?? '(unnamed)'} (${f.status})`).join(', ');
    const lines = [
      `hotpatch demo: ${scenario.name} — ${scenario.description}`,
      `build    ${oldPath} -> ${newPath}`,
      `         ${report.functions.length} function(s): ${names}; verified ${built.value.verified.instructions} instructions, ${built.value.verified.references} references; ${compileMs.toFixed(1)} ms`,
      `package  ${hpk}: ${encoded.value.length} bytes (header ${report.sizes.header}, payload ${report.sizes.payload}, signature ${report.sizes.signature}), signature ${report.signature.status}`,
      bsdiff === null
        ? '         bsdiff not installed: no comparison (apt install bsdiff)'
        : `         bsdiff on the same pair: ${bsdiff} bytes; package/bsdiff = ${(encoded.value.length / bsdiff).toFixed(3)}`,
      `apply    in-memory image of v1 at ${hex(img.value.base)}: ${a.plan.redirects.length} redirect(s), ${a.execute.bytesWritten} bytes written`,
      `         load+verify ${applied.value.loadMs.toFixed(3)} ms, plan ${a.planMs.toFixed(3)} ms, apply ${a.execute.totalMs.toFixed(3)} ms (pause ${a.execute.pauseMs.toFixed(3)} ms)`,
      ...a.functions.map((f) => `         ${(f.name ?? '(unnamed)').padEnd(24)} ${f.ms.toFixed(3)} ms`),
      `revert   ${revertMs.toFixed(3)} ms; image byte-identical to before: ${identical ? 'yes' : 'NO'}`,
      `next     npx hotpatch inspect ${hpk} --trust ${join(dir, 'demo.pub')}`,
    ];
    return ok({ json, text: lines.join('\n') });
  },
});
