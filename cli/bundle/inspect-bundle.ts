/**
 * `hotpatch inspect RELEASE.hpb`: the bundle's manifest (every module with its paths,
 * identities, pairing evidence, status and reasons) and each package as `hotpatch inspect`
 * shows a single one. Same trust rules as for a package: without --trust a viewer
 * ("not verified"), with --trust the bundle and every package must verify.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { loadBundle, type ModuleIdentity } from '../../formats/bundle.ts';
import { loadPackage, type LoadOptions } from '../../formats/container.ts';
import { describePackage, type PackageReport } from '../../formats/describe.ts';
import { toHex } from '../../formats/keys.ts';
import type { CommandOutput } from '../command.ts';
import { renderReport } from '../render-package.ts';

const identityJson = (i: ModuleIdentity | null): Record<string, unknown> | null =>
  i === null ? null : { machine: hex(i.machine), timeDateStamp: hex(i.timeDateStamp), sizeOfImage: hex(i.sizeOfImage), checkSum: hex(i.checkSum), fileSha256: toHex(i.fileSha256), fileSize: i.fileSize };

export async function inspectBundle(bytes: Uint8Array, file: string, opts: LoadOptions): Promise<Result<CommandOutput>> {
  const l = await loadBundle(bytes, opts);
  if (!l.ok) return err(l.error.code, `${file}: ${l.error.message}`, l.error.offset);
  const b = l.value;
  const packages: Array<PackageReport | null> = [];
  for (const { entry, package: pkg } of b.entries) {
    if (pkg === null) {
      packages.push(null);
      continue;
    }
    const p = await loadPackage(pkg, opts);
    if (!p.ok) return err(p.error.code, `${file}: ${entry.oldPath}: ${p.error.message}`, p.error.offset);
    packages.push(describePackage(p.value));
  }
  const s = b.signature;
  const sigLine = s.status === 'verified' ? `verified (key ${s.keyId})` : s.status === 'not-verified' ? `signed by key ${s.keyId}, not verified (pass --trust PUB to verify)` : 'unsigned';
  const entries = b.entries.map(({ entry: e }, i) => ({
    oldPath: e.oldPath,
    newPath: e.newPath,
    module: e.moduleName,
    status: e.status,
    pairedBy: e.pairedBy,
    oldIdentity: identityJson(e.oldIdentity),
    newIdentity: identityJson(e.newIdentity),
    packageSize: e.packageSize,
    packageSha256: e.packageSha256 === null ? null : toHex(e.packageSha256),
    reasonCode: e.reasonCode,
    reasons: e.reasons,
    package: packages[i] ?? null,
  }));
  const json = { kind: 'bundle', format: `${b.header.major}.${b.header.minor}`, signature: s, producer: b.manifest.producer, sizes: b.sizes, entries };
  const lines = [`${file}: hotpatch bundle, format ${json.format}`, `signature: ${sigLine}`, `producer  ${b.manifest.producer.compilerVersion} (${b.manifest.producer.parameters.map((p) => `${p.key}=${p.value}`).join(' ')})`];
  lines.push(`size      ${b.sizes.file} bytes: manifest ${b.sizes.manifest}, packages ${b.sizes.packages}, signature ${b.sizes.signature}`, '', `modules (${entries.length})`);
  for (const e of entries) {
    const path = e.oldPath === null ? `(new) ${e.newPath}` : e.newPath !== null && e.newPath !== e.oldPath ? `${e.oldPath} -> ${e.newPath}` : e.oldPath;
    lines.push(`  ${e.status.padEnd(9)} ${path}  [${e.module}]${e.packageSize > 0 ? `  package ${e.packageSize} B sha256 ${e.packageSha256!.slice(0, 16)}...` : ''}`);
    if (e.pairedBy !== '' && e.pairedBy !== 'path') lines.push(`            paired by ${e.pairedBy}`);
    const id = e.oldIdentity ?? e.newIdentity;
    if (id !== null) lines.push(`            ${e.oldIdentity === null ? 'new' : 'old'}: TimeDateStamp ${id['timeDateStamp']}, SizeOfImage ${id['sizeOfImage']}, sha256 ${String(id['fileSha256']).slice(0, 16)}...`);
    for (const r of e.reasons) lines.push(`            ${e.reasonCode}: ${r}`);
  }
  for (const [i, e] of entries.entries()) {
    const r = packages[i];
    if (r === null || r === undefined) continue;
    lines.push('', `---- ${e.oldPath} ----`, renderReport(r, `${e.oldPath}.hpk`));
  }
  return ok({ json, text: lines.join('\n') });
}
