/**
 * `hotpatch apply RELEASE.hpb --image-dir OLD_DIR [--out-dir DIR]` applies a bundle (cli/bundle/apply-image-dir.ts).
 * `hotpatch apply PATCH.hpk --image OLD [--trust PUB... | --allow-unsigned] [--out FILE]
 * [--base HEX] [--thread-ip HEX...]`: loads and verifies the package, loads OLD into an
 * in-memory process image (mapped, relocated for --base, imports bound), plans and applies
 * the package as one transaction, and prints per-function and total times and a summary
 * of the plan. --out writes the patched image's mapped bytes (SizeOfImage, as in memory).
 * --thread-ip simulates a thread at that address (the thread rule then applies).
 */
import { basename } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import type { SignatureStatus } from '../../formats/container.ts';
import { signatureLine } from '../../formats/describe.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import type { ApplyReport } from '../../runtime/apply/apply-package.ts';
import { applyPackageFile } from '../../runtime/apply/apply-file.ts';
import { MemoryBackend } from '../../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../../runtime/image/load-image.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';
import { readTrustedKeys } from '../trusted-keys.ts';
import { isBundle } from '../../formats/bundle.ts';
import { applyBundleToDir } from '../bundle/apply-image-dir.ts';
import { writeOutput } from '../write-output.ts';

const now = (): number => performance.now();

function parseHexVa(s: string, what: string): Result<Va> {
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(s)) return err('USAGE_BAD_ADDRESS', `${what}: ${JSON.stringify(s)} is not a hex address`);
  return ok(asVa(BigInt(s.startsWith('0x') ? s : `0x${s}`)));
}

function summary(pkg: HotpatchPackage, signature: SignatureStatus, report: ApplyReport, loadMs: number, imageMs: number, out: string | null): Record<string, unknown> {
  const p = report.plan;
  return {
    signature,
    series: { baseline: pkg.series.baselineId, sequence: pkg.series.sequence },
    image: { base: hex(p.image.base), sizeOfImage: p.image.sizeOfImage, name: p.image.name },
    region: { address: hex(p.region.address), size: p.region.size, codeSize: p.region.codeSize },
    unwind: p.unwind === null ? null : { table: hex(p.unwind.table), entryCount: p.unwind.entryCount },
    redirects: p.redirects.map((r) => ({ name: r.name, functionVa: hex(r.functionVa), target: hex(r.target), kind: r.kind, bytes: r.writes.reduce((n, w) => n + w.bytes.length, 0) })),
    functions: report.functions.map((f) => ({ name: f.name, status: f.status, oldVa: f.oldVa === null ? null : hex(f.oldVa), bodyVa: hex(f.bodyVa), size: f.size, ms: round(f.ms) })),
    steps: p.steps.length,
    stepsByOp: countOps(p.steps.map((s) => s.op)),
    bytesWritten: report.execute.bytesWritten,
    timing: {
      loadPackageMs: round(loadMs),
      loadImageMs: round(imageMs),
      planMs: round(report.planMs),
      applyMs: round(report.execute.totalMs),
      pauseMs: round(report.execute.pauseMs),
      totalMs: round(loadMs + imageMs + report.totalMs),
    },
    out,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function countOps(ops: readonly string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const o of ops) c[o] = (c[o] ?? 0) + 1;
  return c;
}

function text(j: Record<string, unknown>, patch: string, image: string): string {
  const s = j as {
    series: { baseline: string; sequence: number };
    signature: SignatureStatus;
    image: { base: string };
    region: { address: string; size: number };
    functions: { name: string | null; status: string; oldVa: string | null; bodyVa: string; size: number; ms: number }[];
    redirects: { name: string | null; functionVa: string; kind: string }[];
    steps: number;
    bytesWritten: number;
    timing: Record<string, number>;
    out: string | null;
  };
  const lines = [
    `applied ${basename(patch)} (series ${s.series.baseline} #${s.series.sequence}) to ${basename(image)} loaded at ${s.image.base}`,
    `signature: ${signatureLine(s.signature)}`,
    `patch region ${s.region.address} (${s.region.size} bytes); ${s.redirects.length} redirect(s); ${s.steps} steps; ${s.bytesWritten} bytes written`,
    'functions:',
    ...s.functions.map((f) => `  ${(f.name ?? '(unnamed)').padEnd(28)} ${f.status.padEnd(8)} ${(f.oldVa ?? '-').padStart(14)} -> ${f.bodyVa}  ${String(f.size).padStart(6)} B  ${f.ms.toFixed(3)} ms`),
    `time: load package ${s.timing['loadPackageMs']!.toFixed(3)} ms, load image ${s.timing['loadImageMs']!.toFixed(3)} ms, plan ${s.timing['planMs']!.toFixed(3)} ms, apply ${s.timing['applyMs']!.toFixed(3)} ms (pause ${s.timing['pauseMs']!.toFixed(3)} ms), total ${s.timing['totalMs']!.toFixed(3)} ms`,
  ];
  if (s.out !== null) lines.push(`patched image written to ${s.out}`);
  return lines.join('\n');
}

export default defineCommand({
  args: {
    positionals: {
      patch: { describe: 'the package (.hpk)' },
    },
    options: {
      image: { type: 'string', describe: 'the OLD PE file to load into the in-memory process' },
      'image-dir': { type: 'string', describe: 'for a bundle (.hpb): the OLD release tree; each entry applies to its module there' },
      'out-dir': { type: 'string', describe: 'for a bundle: write each patched image (mapped bytes) to DIR/<module path>' },
      trust: { type: 'string', array: true, default: [], describe: 'public key (PEM) whose signature is trusted; repeatable' },
      'allow-unsigned': { type: 'boolean', default: false, describe: 'also accept a package that carries no signature (a signed one is always verified)' },
      out: { type: 'string', describe: 'write the patched image (mapped bytes, SizeOfImage) to FILE' },
      base: { type: 'string', describe: 'load OLD at this hex base (default: its preferred ImageBase)' },
      'thread-ip': { type: 'string', array: true, default: [], describe: 'simulate a thread at this hex address; repeatable' },
    },
  },
  run: async (argv): Promise<Result<CommandOutput>> => {
    const patchBytes = readInputFile(argv.patch);
    if (!patchBytes.ok) return patchBytes;
    if (isBundle(patchBytes.value)) {
      if (argv['image-dir'] === undefined || argv.image !== undefined) return err('USAGE_BUNDLE', `${argv.patch} is a bundle: give --image-dir OLD_DIR (not --image)`);
      const keys = await readTrustedKeys(argv.trust);
      if (!keys.ok) return keys;
      const a = { bundle: argv.patch, imageDir: argv['image-dir'], outDir: argv['out-dir'], trusted: keys.value, allowUnsigned: argv['allow-unsigned'] };
      return applyBundleToDir(patchBytes.value, a);
    }
    if (argv.image === undefined) return err('USAGE_IMAGE', 'give --image OLD (the file the package applies to)');
    const imageBytes = readInputFile(argv.image);
    if (!imageBytes.ok) return imageBytes;
    let base: Va | undefined;
    if (argv.base !== undefined) {
      const b = parseHexVa(argv.base, '--base');
      if (!b.ok) return b;
      base = b.value;
    }
    const ips: Va[] = [];
    for (const t of argv['thread-ip']) {
      const v = parseHexVa(t, '--thread-ip');
      if (!v.ok) return v;
      ips.push(v.value);
    }
    const keys = await readTrustedKeys(argv.trust);
    if (!keys.ok) return keys;

    const t0 = now();
    const img = loadProcessImage(imageBytes.value, base === undefined ? { name: basename(argv.image) } : { base, name: basename(argv.image) });
    if (!img.ok) return err(img.error.code, `${argv.image}: ${img.error.message}`, img.error.offset);
    img.value.threadIps = () => ips;
    const imageMs = now() - t0;
    const backend = new MemoryBackend(img.value);
    const applied = await applyPackageFile(patchBytes.value, backend, { trusted: keys.value, allowUnsigned: argv['allow-unsigned'] });
    if (!applied.ok) {
      const e = applied.error;
      return err(e.code, e.code.startsWith('PKG_') || e.code.startsWith('SIG_') ? `${argv.patch}: ${e.message}` : e.message, e.offset);
    }
    const pkg = applied.value.loaded.package;
    let out: string | null = null;
    let outNote: string | null = null;
    if (argv.out !== undefined) {
      const region = img.value.space.regionAt(img.value.base);
      const w = writeOutput(argv.out, region!.bytes, { inputs: [argv.patch, argv.image, ...argv.trust] });
      if (!w.ok) return w;
      out = argv.out;
      outNote = w.value.note;
    }
    const json = { ...summary(pkg, applied.value.loaded.signature, applied.value.report, applied.value.loadMs, imageMs, out), outNote };
    return ok({ json, text: text(json, argv.patch, argv.image) + (outNote === null ? '' : `\n${outNote}`) });
  },
});
