/**
 * `parsePe(bytes)`: the typed PeFile (types.ts) every stage consumes, from the wasm
 * pe-parser. Synchronous: the wasm loads when this module is imported (top-level await in
 * wasm.ts), so `import { parsePe } from '.../runtime/pe/parse-pe.ts'` is all a caller needs.
 *
 * Strict vs permissive (decided in the crate, see runtime/pe-parser/src/lib.rs): broken
 * headers or section table are errors (PE_TRUNCATED, PE_BAD_DOS_MAGIC, PE_BAD_NT_SIGNATURE,
 * PE_BAD_OPTIONAL_MAGIC, PE_BAD_OPTIONAL_HEADER, PE_BAD_SECTION) carrying the file offset;
 * a damaged optional directory keeps what was readable and adds a line to `diagnostics`.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asFileOffset, asRva, type FileOffset, type Rva } from '../../common/types.ts';
import type { BaseRelocation, CoffSymbol, ImageSectionHeader, LoadConfig, PeFile, PeOverview, RuntimeFunction, TlsDirectory, UnwindInfo } from './types.ts';
import { callParser, decodeJson, rawParser } from './wasm.ts';

export { initPeParser } from './wasm.ts';

type Raw = Record<string, unknown>;

/** The parser writes 64-bit values as "0x..." strings; null stays null. */
function big(v: unknown): bigint {
  return BigInt(v as string);
}
function bigOrNull(v: unknown): bigint | null {
  return v === null || v === undefined ? null : BigInt(v as string);
}

/** `[begin, end, unwindRva, unwind]` from the crate (see output.rs) as a RuntimeFunction. */
type RawRf = [number, number, number, RawUnwind | null];
type RawUnwind = [number, number, number, number, number, number, number, number[], number | null, number | null, RawRf | null, number];

function runtimeFunction(a: RawRf): RuntimeFunction {
  const u = a[3];
  let unwind: UnwindInfo | null = null;
  if (u !== null) {
    unwind = {
      rva: u[0] as Rva,
      version: u[1],
      flags: u[2],
      sizeOfProlog: u[3],
      countOfCodes: u[4],
      frameRegister: u[5],
      frameOffset: u[6],
      unwindCodes: u[7],
      handler: u[8] as Rva | null,
      handlerData: u[9] as Rva | null,
      chained: u[10] === null ? null : runtimeFunction(u[10]),
      size: u[11],
    };
  }
  return { beginAddress: a[0] as Rva, endAddress: a[1] as Rva, unwindInfoAddress: a[2] as Rva, unwind };
}

type RawSymbol = [number, string, number, number, number, number, number];

function coffSymbol(a: RawSymbol): CoffSymbol {
  return { index: a[0], name: a[1], value: a[2], sectionNumber: a[3], type: a[4], storageClass: a[5], numberOfAuxSymbols: a[6] };
}

/** LoadConfig without its Guard CF function table (which the two shapes write differently). */
function loadConfigHeader(lc: Raw): Omit<LoadConfig, 'guardCfFunctions'> {
  return {
    size: lc['size'] as number,
    securityCookie: bigOrNull(lc['securityCookie']),
    guardCfCheckFunctionPointer: bigOrNull(lc['guardCfCheckFunctionPointer']),
    guardCfFunctionTable: bigOrNull(lc['guardCfFunctionTable']),
    guardCfFunctionCount: bigOrNull(lc['guardCfFunctionCount']),
    guardFlags: lc['guardFlags'] as number | null,
    hotPatchTableOffset: lc['hotPatchTableOffset'] as number | null,
  };
}

type Tables = 'relocations' | 'exceptions' | 'loadConfig' | 'symbols';

/**
 * The PeFile fields both shapes share, converted from the parser's JSON, with the four big
 * tables as the caller built them (lists for PeFile, counts for PeOverview), in PeFile's
 * field order.
 */
function assemble<R, X, L, S>(raw: Raw, relocations: R, exceptions: X, loadConfig: L, symbols: S): Omit<PeFile, Tables> & { relocations: R; exceptions: X; loadConfig: L; symbols: S } {
  const oh = raw['optionalHeader'] as Raw;
  const t = raw['tls'] as Raw | null;
  const tls: TlsDirectory | null =
    t === null
      ? null
      : {
          startAddressOfRawData: big(t['startAddressOfRawData']),
          endAddressOfRawData: big(t['endAddressOfRawData']),
          addressOfIndex: big(t['addressOfIndex']),
          addressOfCallBacks: big(t['addressOfCallBacks']),
          sizeOfZeroFill: t['sizeOfZeroFill'] as number,
          characteristics: t['characteristics'] as number,
          callbacks: (t['callbacks'] as string[]).map(big),
        };
  const sections = (raw['sections'] as Raw[]).map(
    (s): ImageSectionHeader => ({
      name: s['name'] as string,
      virtualSize: s['virtualSize'] as number,
      virtualAddress: s['virtualAddress'] as Rva,
      sizeOfRawData: s['sizeOfRawData'] as number,
      pointerToRawData: s['pointerToRawData'] as FileOffset,
      characteristics: s['characteristics'] as number,
    }),
  );
  // Everything else already has the PeFile shape (numbers for <= 32-bit fields; branded
  // Rva/FileOffset are numbers at run time).
  return {
    format: raw['format'] as PeFile['format'],
    fileHeader: raw['fileHeader'] as PeFile['fileHeader'],
    optionalHeader: { ...(oh as unknown as PeFile['optionalHeader']), imageBase: big(oh['imageBase']) },
    dataDirectories: raw['dataDirectories'] as PeFile['dataDirectories'],
    sections,
    exports: raw['exports'] as PeFile['exports'],
    imports: raw['imports'] as PeFile['imports'],
    relocations,
    exceptions,
    debug: raw['debug'] as PeFile['debug'],
    codeView: raw['codeView'] as PeFile['codeView'],
    loadConfig,
    tls,
    symbols,
    diagnostics: raw['diagnostics'] as string[],
  };
}

function toPeFile(raw: Raw): PeFile {
  const rel = raw['relocations'] as { blocks: number; flat: number[] };
  const flat = rel.flat;
  const entries: BaseRelocation[] = new Array<BaseRelocation>(flat.length >> 1);
  for (let i = 0, k = 0; i + 1 < flat.length; i += 2, k++) {
    entries[k] = { rva: flat[i] as Rva, type: flat[i + 1] as number };
  }
  const lc = raw['loadConfig'] as Raw | null;
  const loadConfig: LoadConfig | null = lc === null ? null : { ...loadConfigHeader(lc), guardCfFunctions: lc['guardCfFunctions'] as Rva[] };
  return assemble(raw, { blocks: rel.blocks, entries }, (raw['exceptions'] as RawRf[]).map(runtimeFunction), loadConfig, (raw['symbols'] as RawSymbol[]).map(coffSymbol));
}

/** The counts shape the crate writes with COUNTS_ONLY (output.rs). */
function toPeOverview(raw: Raw): PeOverview {
  const lc = raw['loadConfig'] as Raw | null;
  return assemble(
    raw,
    raw['relocations'] as PeOverview['relocations'],
    raw['exceptions'] as number,
    lc === null ? null : { ...loadConfigHeader(lc), guardCfFunctions: lc['guardCfFunctions'] as number },
    raw['symbols'] as number,
  );
}

/**
 * Parses a PE32 or PE32+ file. Errors are PE_* values with the file offset; oddities in
 * optional directories land in `diagnostics`. Never throws on bad input.
 */
export function parsePe(bytes: Uint8Array): Result<PeFile> {
  return callParser(
    () => rawParser.parse(bytes),
    (data) => toPeFile(decodeJson(data) as Raw),
  );
}

/** The optional parts of a PE file `parsePeParts` can read (headers and sections always are). */
export type PePart = 'exports' | 'imports' | 'relocations' | 'exceptions' | 'debug' | 'loadConfig' | 'tls' | 'symbols';

const PART_BITS: Record<PePart, number> = {
  exports: 1,
  imports: 2,
  relocations: 4,
  exceptions: 8,
  debug: 16,
  loadConfig: 32,
  tls: 64,
  symbols: 128,
};

/**
 * `parsePe` reading only `parts` besides the headers, sections and data directories: the
 * parts left out come back empty (`[]`, `null`, zero relocations), so only use the fields you
 * asked for. For callers that need a quick look (identity checks, import lists of big files).
 */
export function parsePeParts(bytes: Uint8Array, parts: readonly PePart[]): Result<PeFile> {
  const mask = parts.reduce((m, p) => m | PART_BITS[p], 0);
  return callParser(
    () => rawParser.parse(bytes, mask),
    (data) => toPeFile(decodeJson(data) as Raw),
  );
}

/** Bit of the parse mask that asks for the big tables as counts (COUNTS_ONLY in output.rs). */
const COUNTS_ONLY = 256;

/**
 * Every part read and checked as `parsePe` does (same errors, same diagnostics), with the
 * big tables (relocation entries, .pdata, the Guard CF function table, COFF symbols) as
 * counts: for callers that show how many there are (`hotpatch pe`), without writing and
 * parsing them as JSON (a mingw DLL's symbol table is most of its parse).
 */
export function parsePeOverview(bytes: Uint8Array): Result<PeOverview> {
  return callParser(
    () => rawParser.parse(bytes, 255 | COUNTS_ONLY),
    (data) => toPeOverview(decodeJson(data) as Raw),
  );
}

/** Bytes a section occupies in memory: VirtualSize, or SizeOfRawData when VirtualSize is 0 (as the loader does). */
function mappedSize(s: ImageSectionHeader): number {
  return s.virtualSize === 0 ? s.sizeOfRawData : s.virtualSize;
}

/**
 * Where the loader reads a section's raw data: PointerToRawData rounded down to 0x200 when
 * FileAlignment is at least 0x200 (the crate does the same).
 */
export function rawDataStart(pe: PeFile, s: ImageSectionHeader): FileOffset {
  return asFileOffset(pe.optionalHeader.fileAlignment >= 0x200 ? s.pointerToRawData - (s.pointerToRawData % 0x200) : s.pointerToRawData);
}

/** The section whose memory range holds `rva`, or null. */
export function sectionOfRva(pe: PeFile, rva: Rva): ImageSectionHeader | null {
  for (const s of pe.sections) {
    if (rva >= s.virtualAddress && rva - s.virtualAddress < mappedSize(s)) return s;
  }
  return null;
}

/**
 * File offset of `rva`, or null when no file byte backs it (past a section's raw data, in
 * a gap, past the headers). The same mapping the crate uses.
 */
export function rvaToFileOffset(pe: PeFile, rva: Rva): FileOffset | null {
  const s = sectionOfRva(pe, rva);
  if (s !== null) {
    const delta = rva - s.virtualAddress;
    return delta < Math.min(s.sizeOfRawData, mappedSize(s)) ? asFileOffset(rawDataStart(pe, s) + delta) : null;
  }
  let first = Infinity;
  for (const sec of pe.sections) first = Math.min(first, sec.virtualAddress);
  return rva < first && rva < pe.optionalHeader.sizeOfHeaders ? asFileOffset(rva) : null;
}

/**
 * RVA of file offset `off`: inside a section's raw data (the part that is mapped) or in
 * the headers; null for bytes the loader does not map (file alignment padding, overlay,
 * the part of SizeOfRawData beyond VirtualSize).
 */
export function fileOffsetToRva(pe: PeFile, off: FileOffset): Rva | null {
  for (const s of pe.sections) {
    const start = rawDataStart(pe, s);
    const backed = Math.min(s.sizeOfRawData, mappedSize(s));
    if (off >= start && off - start < backed) return asRva(s.virtualAddress + (off - start));
  }
  let first = Infinity;
  for (const sec of pe.sections) first = Math.min(first, sec.virtualAddress);
  return off < pe.optionalHeader.sizeOfHeaders && off < first ? asRva(off) : null;
}

/**
 * `len` bytes of the image at `rva`, read from the file `bytes` that `pe` was parsed from.
 * Bytes a section has in memory beyond its raw data read as zero (as once mapped); a range
 * that leaves its section or the image is PE_BAD_RVA.
 */
export function readAtRva(pe: PeFile, bytes: Uint8Array, rva: Rva, len: number): Result<Uint8Array> {
  if (!Number.isSafeInteger(len) || len < 0) return err('PE_BAD_RVA', `bad length ${len} at RVA 0x${rva.toString(16)}`, rva);
  const s = sectionOfRva(pe, rva);
  if (s === null) {
    const off = rvaToFileOffset(pe, rva);
    if (off === null || off + len > Math.min(pe.optionalHeader.sizeOfHeaders, bytes.length)) {
      return err('PE_BAD_RVA', `RVA 0x${rva.toString(16)} (+${len}) is not inside a section or the headers`, rva);
    }
    return ok(bytes.slice(off, off + len));
  }
  const delta = rva - s.virtualAddress;
  if (delta + len > mappedSize(s)) {
    return err('PE_BAD_RVA', `RVA 0x${rva.toString(16)} (+${len}) runs past the end of section ${s.name}`, rva);
  }
  const out = new Uint8Array(len);
  const backed = Math.max(0, Math.min(len, Math.min(s.sizeOfRawData, mappedSize(s)) - delta));
  const start = rawDataStart(pe, s) + delta;
  if (start + backed > bytes.length) return err('PE_TRUNCATED', `file ends before RVA 0x${rva.toString(16)}`, start);
  out.set(bytes.subarray(start, start + backed));
  return ok(out);
}
