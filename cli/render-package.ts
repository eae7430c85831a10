/** The text rendering of `hotpatch inspect` for one package (also each entry of a bundle). */
import { signatureLine, type PackageReport } from '../formats/describe.ts';

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
  const z = r.sealed;
  if (z !== null) lines.push(`sealed      ${z.blocks} blocks, ${z.bytes} bytes in a ${z.frame}-byte zstd frame against ${z.dictionaryBytes} old-image bytes in ${z.dictionaryRanges} ranges`);
  // Format 2.4: old code no thread may be inside when the redirects are written.
  for (const q of r.quiescent) lines.push(`quiescent   ${q.rva}+0x${q.length.toString(16)} (old ${q.function ?? 'code'}): no thread may be inside at the patch`);
  const s = r.sizes;
  const k = s.byKind;
  lines.push('');
  const payload = s.payloadStorage === 'stored' ? `payload ${s.payload} (stored: zstd would not shrink it)` : `compressed payload ${s.payload}`;
  lines.push(`size        ${s.file} bytes: header ${s.header}, ${payload}, signature ${s.signature}`);
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
    ...(k.sealed > 0 ? [['sealed', k.sealed] as [string, number]] : []),
    ['other', k.other],
  ];
  for (const [name, n] of kinds) lines.push(`            ${name.padEnd(10)} ${String(n).padStart(8)}  ${pct(n, k.total)}`);
  return lines.join('\n');
}
