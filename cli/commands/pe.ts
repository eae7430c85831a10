/** `hotpatch pe FILE`: what the parser reads from a PE file (headers, sections, directories, counts). */
import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '../../common/errors.ts';
import { hex } from '../../common/types.ts';
import { defineCommand, type CommandOutput } from '../command.ts';
import { parsePeOverview } from '../../runtime/pe/parse-pe.ts';
import { sha256, toHex } from '../../runtime/pe/sha256.ts';
import type { PeOverview } from '../../runtime/pe/types.ts';

const DIRECTORY_NAMES = [
  'export', 'import', 'resource', 'exception', 'security', 'basereloc', 'debug', 'architecture',
  'globalptr', 'tls', 'loadconfig', 'boundimport', 'iat', 'delayimport', 'comdescriptor', 'reserved',
];

/** Reads a file as bytes; a missing or unreadable file is an IO_ error value. */
export function readInputFile(path: string): Result<Uint8Array> {
  try {
    return ok(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return err('IO_NOT_FOUND', `${path}: no such file`);
    if (code === 'EISDIR') return err('IO_READ_FAILED', `${path}: is a directory`);
    if (code === 'EACCES') return err('IO_READ_FAILED', `${path}: permission denied`);
    return err('IO_READ_FAILED', `${path}: ${(e as Error).message.split('\n')[0] ?? 'cannot read'}`);
  }
}

/** The `--json` document: stable field names users script against. */
export function peSummary(pe: PeOverview, bytes: Uint8Array): Record<string, unknown> {
  return {
    format: pe.format,
    machine: pe.fileHeader.machine,
    characteristics: pe.fileHeader.characteristics,
    imageBase: hex(pe.optionalHeader.imageBase),
    entryPoint: pe.optionalHeader.addressOfEntryPoint,
    sizeOfImage: pe.optionalHeader.sizeOfImage,
    sizeOfHeaders: pe.optionalHeader.sizeOfHeaders,
    timeDateStamp: pe.fileHeader.timeDateStamp,
    checksum: pe.optionalHeader.checkSum,
    subsystem: pe.optionalHeader.subsystem,
    dllCharacteristics: pe.optionalHeader.dllCharacteristics,
    fileSize: bytes.length,
    sha256: toHex(sha256(bytes)),
    directories: pe.dataDirectories
      .map((d, i) => ({ name: DIRECTORY_NAMES[i] ?? `dir${i}`, rva: d.virtualAddress, size: d.size }))
      .filter((d) => d.rva !== 0 || d.size !== 0),
    sections: pe.sections.map((s) => ({
      name: s.name,
      rva: s.virtualAddress,
      virtualSize: s.virtualSize,
      rawOffset: s.pointerToRawData,
      rawSize: s.sizeOfRawData,
      characteristics: s.characteristics,
    })),
    exportDllName: pe.exports?.dllName ?? null,
    exports: (pe.exports?.entries ?? []).map((e) => ({ name: e.name, ordinal: e.ordinal, rva: e.rva, forwarder: e.forwarder })),
    imports: pe.imports.map((d) => ({
      dll: d.dll,
      delayed: d.delayed,
      symbols: d.symbols.map((s) => ({ name: s.name, ordinal: s.ordinal, iatRva: s.iatRva })),
    })),
    relocations: { blocks: pe.relocations.blocks, entries: pe.relocations.entries },
    exceptionEntries: pe.exceptions,
    codeView: pe.codeView,
    loadConfig:
      pe.loadConfig === null
        ? null
        : {
            size: pe.loadConfig.size,
            securityCookie: pe.loadConfig.securityCookie,
            guardFlags: pe.loadConfig.guardFlags,
            guardCfFunctionCount: pe.loadConfig.guardCfFunctionCount,
            hotPatchTableOffset: pe.loadConfig.hotPatchTableOffset,
          },
    tls: pe.tls === null ? null : { callbacks: pe.tls.callbacks },
    symbols: pe.symbols,
    diagnostics: pe.diagnostics,
  };
}

const MACHINES: Record<number, string> = { 0x14c: 'i386', 0x8664: 'x64', 0xaa64: 'arm64' };

function characteristicsText(c: number): string {
  const f: string[] = [];
  if (c & 0x20) f.push('code');
  if (c & 0x40) f.push('data');
  if (c & 0x80) f.push('bss');
  return `${c & 0x40000000 ? 'r' : '-'}${c & 0x80000000 ? 'w' : '-'}${c & 0x20000000 ? 'x' : '-'} ${f.join(',')}`;
}

function peText(path: string, pe: PeOverview, bytes: Uint8Array): string {
  const oh = pe.optionalHeader;
  const lines: string[] = [];
  const machine = MACHINES[pe.fileHeader.machine] ?? hex(pe.fileHeader.machine);
  lines.push(`${path}: ${pe.format} ${machine} ${pe.fileHeader.characteristics & 0x2000 ? 'DLL' : 'EXE'}, ${bytes.length} bytes`);
  lines.push(`  ImageBase ${hex(oh.imageBase)}  SizeOfImage ${hex(oh.sizeOfImage)}  EntryPoint ${hex(oh.addressOfEntryPoint)}`);
  lines.push(`  TimeDateStamp ${hex(pe.fileHeader.timeDateStamp)}  CheckSum ${hex(oh.checkSum)}`);
  if (pe.codeView !== null) lines.push(`  CodeView ${pe.codeView.guid} age ${pe.codeView.age} ${pe.codeView.path}`);
  lines.push(`  sections (${pe.sections.length}):`);
  for (const s of pe.sections) {
    lines.push(
      `    ${s.name.padEnd(10)} rva ${hex(s.virtualAddress).padEnd(10)} vsize ${hex(s.virtualSize).padEnd(10)} raw ${hex(s.pointerToRawData).padEnd(10)} rawsize ${hex(s.sizeOfRawData).padEnd(10)} ${characteristicsText(s.characteristics)}`,
    );
  }
  const exp = pe.exports?.entries ?? [];
  lines.push(`  exports: ${exp.length}${pe.exports?.dllName ? ` (${pe.exports.dllName})` : ''}`);
  const normal = pe.imports.filter((d) => !d.delayed);
  const delayed = pe.imports.filter((d) => d.delayed);
  const count = (ds: typeof pe.imports): number => ds.reduce((n, d) => n + d.symbols.length, 0);
  lines.push(`  imports: ${count(normal)} from ${normal.length} DLLs${delayed.length > 0 ? `; delay-load ${count(delayed)} from ${delayed.length} DLLs` : ''}`);
  for (const d of pe.imports) lines.push(`    ${d.dll}${d.delayed ? ' (delay)' : ''}: ${d.symbols.length}`);
  lines.push(`  relocations: ${pe.relocations.entries} in ${pe.relocations.blocks} blocks`);
  lines.push(`  exception entries (.pdata): ${pe.exceptions}`);
  if (pe.loadConfig !== null) {
    const lc = pe.loadConfig;
    lines.push(`  load config: size ${lc.size}, GuardFlags ${lc.guardFlags === null ? '-' : hex(lc.guardFlags)}, CF functions ${lc.guardCfFunctions}`);
  }
  if (pe.tls !== null) lines.push(`  TLS callbacks: ${pe.tls.callbacks.length}`);
  lines.push(`  COFF symbols: ${pe.symbols}`);
  for (const d of pe.diagnostics) lines.push(`  note: ${d}`);
  return lines.join('\n');
}

export default defineCommand({
  args: {
    positionals: {
      file: { describe: 'a PE32/PE32+ DLL or EXE' },
    },
  },
  run: (argv): Result<CommandOutput> => {
    const file = argv.file;
    const bytes = readInputFile(file);
    if (!bytes.ok) return bytes;
    // Counts, not lists, of the big tables: the summary shows only how many there are.
    const pe = parsePeOverview(bytes.value);
    if (!pe.ok) return err(pe.error.code, `${file}: ${pe.error.message}`, pe.error.offset);
    // Only the form that is printed is built: the JSON's sha256 is most of a small file's work.
    return ok(argv.json ? { json: peSummary(pe.value, bytes.value), text: '' } : { json: null, text: peText(file, pe.value, bytes.value) });
  },
});
