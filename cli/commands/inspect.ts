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
import { describePackage, signatureLine, type PackageReport } from '../../formats/describe.ts';
import { packageToJson } from '../../formats/json.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { readInputFile } from './pe.ts';
import { readTrustedKeys } from '../trusted-keys.ts';
import { isBundle } from '../../formats/bundle.ts';
import { inspectBundle } from '../bundle/inspect-bundle.ts';

function pct(n: number, total: number): string {
  return total === 0 ? '0%' : `${((100 * n) / total).toFixed(1)}%`;
}

/** The text rendering of an inspect report. */
export function renderReport(r: PackageReport, file: string): string {
  const t = r.target;
  const lines: string[] = [];
  lines.push(`${file}: hotpatch package, format ${r.format}`);
  lines.push(`signature: ${r.signature.status === 'unsigned' ? 'unsigned' : signatureLine(r.signature)}`);
  lines.push('');
  lines.push(`target      ${t.moduleName} (machine ${t.machine})`);
  lines.push(`            TimeDateStamp ${t.timeDateStamp}, SizeOfImage ${t.sizeOfImage}, CheckSum ${t.checkSum}, ImageBase ${t.imageBase}`);
  lines.push(`            CodeView ${t.codeView === null ? 'none' : `${t.codeView.guid} age ${t.codeView.age} ${t.codeView.pdbPath}`}`);
  lines.push(`            relies on ${t.reliedBytes} bytes in ${t.reliedRanges} ranges, sha256 ${t.reliedSha256}`);
  lines.push(`series      ${r.series.baselineId} #${r.series.sequence}`);
  const params = r.producer.parameters.map((p) => `${p.key}=${p.value}`).join(' ');
  lines.push(`producer    ${r.producer.compilerVersion}${params === '' ? '' : ` (${params})`}`);
  lines.push('');
  lines.push(`functions (${r.functions.length})`);
  lines.push('  status   old rva     new rva     old size new size   code stored      fixups unwind  name');
  for (const f of r.functions) {
    const stored = `${f.stored} ${f.storage}`;
    lines.push(
      `  ${f.status.padEnd(8)} ${(f.oldRva ?? '-').padEnd(11)} ${f.newRva.padEnd(11)} ${String(f.oldSize).padStart(8)} ${String(f.newSize).padStart(8)} ` +
        `${String(f.code).padStart(6)} ${stored.padEnd(12)} ${String(f.fixups).padStart(6)} ${String(f.unwind).padStart(6)}  ${f.name ?? '(unnamed)'}`,
    );
  }
  lines.push(`data blocks (${r.dataBlocks.length})`);
  for (const d of r.dataBlocks) lines.push(`  block ${d.id}: ${d.size} bytes (${d.storage}), ${d.fixups} fixups`);
  lines.push(`imports (${r.imports.length})`);
  for (const i of r.imports) lines.push(`  ${i.dll}!${i.symbol}`);
  lines.push(`redirects (${r.redirects.length})`);
  for (const x of r.redirects) lines.push(`  ${x.oldRva} -> block ${x.blockId}+${x.offset} (${x.kind}${x.padRva === null ? '' : `, pad at ${x.padRva}`})`);
  const s = r.sizes;
  const k = s.byKind;
  lines.push('');
  lines.push(`size        ${s.file} bytes: header ${s.header}, compressed payload ${s.payload}, signature ${s.signature}`);
  lines.push(`payload     ${s.uncompressed} bytes uncompressed (ratio ${(s.payload / Math.max(1, s.uncompressed)).toFixed(2)}):`);
  const kinds: Array<[string, number]> = [
    ['code', k.code],
    ['fixups', k.fixups],
    ['unwind', k.unwind],
    ['data', k.data],
    ['imports', k.imports],
    ['redirects', k.redirects],
    ['functions', k.functions],
    ['target', k.target],
    ['other', k.other],
  ];
  for (const [name, n] of kinds) lines.push(`            ${name.padEnd(10)} ${String(n).padStart(8)}  ${pct(n, k.total)}`);
  return lines.join('\n');
}

export default defineCommand({
  builder: (y) =>
    y
      .positional('patch', { type: 'string', demandOption: true, describe: 'the package (.hpk) or bundle (.hpb)' })
      .option('trust', { type: 'string', array: true, default: [] as string[], describe: 'public key (PEM) to verify the signature with; repeatable' })
      .option('allow-unsigned', { type: 'boolean', default: false, describe: 'with --trust: still show an unsigned package' })
      .option('full', { type: 'boolean', default: false, describe: 'also print the whole package as lossless JSON (every byte, fixup and op)' }),
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
