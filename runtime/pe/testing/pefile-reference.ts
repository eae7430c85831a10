/**
 * The python3-pefile side of the differential tests: runs pefile-dump.py and puts our
 * PeFile into the same shape so the two compare with one toEqual.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { PEFILE_PYTHON } from '../../../test/support/tools.ts';
import { parsePe } from '../parse-pe.ts';
import type { PeFile } from '../types.ts';

const DUMP = fileURLToPath(new URL('./pefile-dump.py', import.meta.url));

/** What pefile-dump.py prints for one file. */
export interface Ref {
  machine: number;
  format: string;
  imageBase: string;
  timeDateStamp: number;
  sizeOfImage: number;
  checksum: number;
  entryPoint: number;
  sections: Array<{ name: string; rva: number; virtualSize: number; rawOffset: number; rawSize: number; characteristics: number }>;
  exports: Array<[string | null, number, number, string | null]>;
  imports: Array<[string, boolean, string | null, number | null, number]>;
  relocBlocks: number;
  relocEntries: number;
  exceptionEntries: number;
  codeView: { guid: string; age: number; path: string } | null;
  exceptions: Array<Array<number | null>>;
  loadConfig: {
    size: number;
    securityCookie: number | null;
    guardCfFunctionTable: number | null;
    guardCfFunctionCount: number | null;
    guardFlags: number | null;
    hotPatchTableOffset: number | null;
    guardCfFunctions: number[];
  } | null;
  tls: { addressOfCallBacks: number; startAddressOfRawData: number; endAddressOfRawData: number; callbacks: number[] } | null;
}

/**
 * Runs a reference dump script (pefile-dump.py, lief-dump.py) over `paths` in one process
 * of Debian's python3; `pythonPath` goes on PYTHONPATH (LIEF's install directory).
 */
export function referenceDump(script: string, paths: readonly string[], pythonPath?: string): Map<string, Ref> {
  const env = pythonPath === undefined ? process.env : { ...process.env, PYTHONPATH: pythonPath };
  const r = spawnSync(PEFILE_PYTHON, [script, ...paths], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 300_000, env });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  const out = new Map<string, Ref>();
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const d = JSON.parse(line) as { file: string; pe?: Ref; error?: string };
    if (d.pe === undefined) throw new Error(`${script} could not read ${d.file}: ${d.error}`);
    out.set(d.file, d.pe);
  }
  return out;
}

/** Runs pefile-dump.py over `paths` (one process). */
export function pefileDump(paths: readonly string[]): Map<string, Ref> {
  return referenceDump(DUMP, paths);
}

export const byJson = (a: unknown, b: unknown): number => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Our PeFile in the reference's shape. */
export function ours(pe: PeFile): Ref {
  return {
    machine: pe.fileHeader.machine,
    format: pe.format,
    imageBase: `0x${pe.optionalHeader.imageBase.toString(16)}`,
    timeDateStamp: pe.fileHeader.timeDateStamp,
    sizeOfImage: pe.optionalHeader.sizeOfImage,
    checksum: pe.optionalHeader.checkSum,
    entryPoint: pe.optionalHeader.addressOfEntryPoint,
    sections: pe.sections.map((s) => ({
      name: s.name,
      rva: s.virtualAddress,
      virtualSize: s.virtualSize,
      rawOffset: s.pointerToRawData,
      rawSize: s.sizeOfRawData,
      characteristics: s.characteristics,
    })),
    exports: (pe.exports?.entries ?? []).map((e): [string | null, number, number, string | null] => [e.name, e.ordinal, e.rva, e.forwarder]).sort(byJson),
    imports: pe.imports.flatMap((d) => d.symbols.map((s): [string, boolean, string | null, number | null, number] => [d.dll, d.delayed, s.name, s.ordinal, s.iatRva])).sort(byJson),
    relocBlocks: pe.relocations.blocks,
    relocEntries: pe.relocations.entries.length,
    exceptionEntries: pe.exceptions.length,
    codeView: pe.codeView,
    exceptions: pe.exceptions.map((e) => {
      const u = e.unwind;
      const row: Array<number | null> = [e.beginAddress, e.endAddress, e.unwindInfoAddress];
      if (u !== null && (e.unwindInfoAddress & 1) === 0) {
        row.push(u.version, u.flags, u.sizeOfProlog, u.countOfCodes, u.frameRegister, u.frameOffset, u.handler);
      }
      return row;
    }),
    loadConfig:
      pe.loadConfig === null
        ? null
        : {
            size: pe.loadConfig.size,
            securityCookie: num(pe.loadConfig.securityCookie),
            guardCfFunctionTable: num(pe.loadConfig.guardCfFunctionTable),
            guardCfFunctionCount: num(pe.loadConfig.guardCfFunctionCount),
            guardFlags: pe.loadConfig.guardFlags,
            hotPatchTableOffset: pe.loadConfig.hotPatchTableOffset,
            guardCfFunctions: [...pe.loadConfig.guardCfFunctions],
          },
    tls:
      pe.tls === null
        ? null
        : {
            addressOfCallBacks: Number(pe.tls.addressOfCallBacks),
            startAddressOfRawData: Number(pe.tls.startAddressOfRawData),
            endAddressOfRawData: Number(pe.tls.endAddressOfRawData),
            callbacks: pe.tls.callbacks.map(Number),
          },
  };
}

/** 64-bit values from the parser as JSON numbers, like the reference (exact below 2^53; VAs here are). */
function num(v: bigint | null): number | null {
  return v === null ? null : Number(v);
}

/** pefile leaves `/N` long section names unresolved; compare those by the raw form only. */
function normaliseRef(ref: Ref, pe: PeFile): Ref {
  return {
    ...ref,
    sections: ref.sections.map((s, i) => (s.name.startsWith('/') ? { ...s, name: pe.sections[i]?.name ?? s.name } : s)),
    exports: [...ref.exports].sort(byJson),
    imports: [...ref.imports].sort(byJson),
  };
}

/**
 * Parses each file with parsePe and hands our reading and the reference's (normalised) to
 * `check`, for every file the reference read.
 */
export function eachWithReference(paths: readonly string[], refs: Map<string, Ref>, check: (path: string, mine: Ref, theirs: Ref) => void): void {
  for (const p of paths) {
    const r = parsePe(readFileSync(p));
    if (!r.ok) throw new Error(`${p}: ${r.error.code}: ${r.error.message}`);
    const ref = refs.get(p);
    expect(ref, p).toBeDefined();
    if (ref === undefined) continue;
    check(p, ours(r.value), normaliseRef(ref, r.value));
  }
}

/** Parses each file with parsePe and expects it to equal pefile's reading. */
export function compareAll(paths: readonly string[]): void {
  eachWithReference(paths, pefileDump(paths), (p, mine, theirs) => expect(mine, p).toEqual(theirs));
}
