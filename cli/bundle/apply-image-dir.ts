/**
 * `hotpatch apply RELEASE.hpb --image-dir OLD_DIR [--out-dir DIR]`: every packaged entry of a
 * bundle applied to its module, each loaded into its own in-memory process image, exactly as
 * `hotpatch apply PKG --image FILE` does for one. All or nothing: the bundle (signature,
 * manifest, every digest), each module file (SHA-256 against the manifest's OLD identity) and
 * every package apply are checked before the first output file is written. A module the
 * directory lacks is reported, not an error (the release may ship it elsewhere).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { loadBundle } from '../../formats/bundle.ts';
import { sha256, toHex, type PublicKey } from '../../formats/keys.ts';
import { applyPackageFile } from '../../runtime/apply/apply-file.ts';
import { MemoryBackend } from '../../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../../runtime/image/load-image.ts';
import type { CommandOutput } from '../command.ts';
import { readInputFile } from '../commands/pe.ts';

export interface ImageDirArgs {
  readonly bundle: string;
  readonly imageDir: string;
  readonly outDir: string | undefined;
  readonly trusted: readonly PublicKey[];
  readonly allowUnsigned: boolean;
}

interface Applied {
  readonly path: string;
  readonly module: string;
  readonly functions: number;
  readonly redirects: number;
  readonly applyMs: number;
  readonly image: Uint8Array;
}

export async function applyBundleToDir(bytes: Uint8Array, a: ImageDirArgs): Promise<Result<CommandOutput>> {
  const l = await loadBundle(bytes, { trusted: a.trusted, allowUnsigned: a.allowUnsigned });
  if (!l.ok) return err(l.error.code, `${a.bundle}: ${l.error.message}`, l.error.offset);
  const applied: Applied[] = [];
  const missing: string[] = [];
  for (const { entry: e, package: pkg } of l.value.entries) {
    if (pkg === null || e.oldPath === null || e.oldIdentity === null) continue;
    const file = readInputFile(join(a.imageDir, e.oldPath));
    if (!file.ok) {
      if (file.error.code !== 'IO_NOT_FOUND') return file;
      missing.push(e.oldPath);
      continue;
    }
    const digest = toHex(await sha256(file.value));
    if (digest !== toHex(e.oldIdentity.fileSha256)) {
      return err('BUNDLE_IDENTITY', `${e.oldPath}: the file in ${a.imageDir} is not the build the bundle patches (sha256 ${digest.slice(0, 16)}..., bundle: ${toHex(e.oldIdentity.fileSha256).slice(0, 16)}...)`);
    }
    const name = e.oldPath.slice(e.oldPath.lastIndexOf('/') + 1);
    const img = loadProcessImage(file.value, { name });
    if (!img.ok) return err(img.error.code, `${e.oldPath}: ${img.error.message}`, img.error.offset);
    const r = await applyPackageFile(pkg, new MemoryBackend(img.value), { trusted: a.trusted, allowUnsigned: a.allowUnsigned });
    if (!r.ok) return err(r.error.code, `${e.oldPath}: ${r.error.message}`, r.error.offset);
    const region = img.value.space.regionAt(img.value.base);
    if (region === undefined || region === null) return err('APPLY_NO_IMAGE', `${e.oldPath}: the patched image is not mapped at ${hex(img.value.base)}`);
    applied.push({
      path: e.oldPath,
      module: e.moduleName,
      functions: r.value.report.functions.length,
      redirects: r.value.report.plan.redirects.length,
      applyMs: r.value.report.totalMs,
      image: region.bytes,
    });
  }
  if (a.outDir !== undefined) {
    for (const x of applied) {
      const out = join(a.outDir, x.path); // safe: manifest paths are checked relative paths
      try {
        mkdirSync(dirname(out), { recursive: true });
        writeFileSync(out, x.image);
      } catch (e) {
        return err('IO_WRITE_FAILED', `${out}: ${(e as Error).message.split('\n')[0] ?? 'cannot write'}`);
      }
    }
  }
  const json = {
    bundle: a.bundle,
    signature: l.value.signature,
    applied: applied.map((x) => ({ path: x.path, module: x.module, functions: x.functions, redirects: x.redirects, applyMs: Math.round(x.applyMs * 1000) / 1000 })),
    missing,
    skipped: l.value.entries.filter((x) => x.package === null).map((x) => ({ path: x.entry.oldPath ?? x.entry.newPath, status: x.entry.status })),
    outDir: a.outDir ?? null,
  };
  const lines = [
    `applied ${applied.length} of ${l.value.entries.filter((x) => x.package !== null).length} packaged module(s) of ${a.bundle} to images from ${a.imageDir}`,
    ...applied.map((x) => `  ${x.path.padEnd(32)} ${String(x.functions).padStart(4)} function(s), ${x.redirects} redirect(s), ${x.applyMs.toFixed(3)} ms`),
    ...missing.map((p) => `  ${p.padEnd(32)} not in ${a.imageDir}: not applied`),
    ...(a.outDir === undefined ? [] : [`patched images written under ${a.outDir}`]),
  ];
  return ok({ json, text: lines.join('\n') });
}
