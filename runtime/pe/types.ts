/**
 * The parsed view of a PE file, as the wasm pe-parser returns it (runtime/pe-parser) and
 * as every later stage consumes it. Raw winnt.h structures keep their spec names
 * (ImageSectionHeader, RuntimeFunction, ...); fields are camelCase versions of the spec's.
 *
 * Numbers: every field that is 32-bit or smaller in the file is a `number`; 64-bit fields
 * (ImageBase, VAs in TLS/load config) are `bigint`. RVAs are branded `Rva`.
 */
import type { FileOffset, Rva } from '../../common/types.ts';

export type PeFormat = 'PE32' | 'PE32+';

export const IMAGE_FILE_MACHINE_I386 = 0x14c;
export const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
export const IMAGE_FILE_MACHINE_ARM64 = 0xaa64;

export const IMAGE_SCN_CNT_CODE = 0x0000_0020;
export const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x0000_0040;
export const IMAGE_SCN_CNT_UNINITIALIZED_DATA = 0x0000_0080;
export const IMAGE_SCN_MEM_EXECUTE = 0x2000_0000;
export const IMAGE_SCN_MEM_READ = 0x4000_0000;
export const IMAGE_SCN_MEM_WRITE = 0x8000_0000;

/** Data directory indices (IMAGE_DIRECTORY_ENTRY_*). */
export const enum DirectoryIndex {
  Export = 0,
  Import = 1,
  Resource = 2,
  Exception = 3,
  Security = 4,
  BaseReloc = 5,
  Debug = 6,
  Architecture = 7,
  GlobalPtr = 8,
  Tls = 9,
  LoadConfig = 10,
  BoundImport = 11,
  Iat = 12,
  DelayImport = 13,
  ComDescriptor = 14,
}

export interface ImageDataDirectory {
  readonly virtualAddress: Rva;
  readonly size: number;
}

export interface ImageSectionHeader {
  /** Section name; a `/N` long name is resolved through the COFF string table when present. */
  readonly name: string;
  readonly virtualSize: number;
  readonly virtualAddress: Rva;
  readonly sizeOfRawData: number;
  readonly pointerToRawData: FileOffset;
  readonly characteristics: number;
}

export interface ImageFileHeader {
  readonly machine: number;
  readonly numberOfSections: number;
  readonly timeDateStamp: number;
  readonly pointerToSymbolTable: FileOffset;
  readonly numberOfSymbols: number;
  readonly sizeOfOptionalHeader: number;
  readonly characteristics: number;
}

/** The fields of IMAGE_OPTIONAL_HEADER32/64 that matter here. */
export interface ImageOptionalHeader {
  readonly magic: number; // 0x10b PE32, 0x20b PE32+
  readonly addressOfEntryPoint: Rva;
  readonly imageBase: bigint;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly sizeOfImage: number;
  readonly sizeOfHeaders: number;
  readonly checkSum: number;
  readonly subsystem: number;
  readonly dllCharacteristics: number;
  readonly numberOfRvaAndSizes: number;
}

export interface ExportEntry {
  /** Null when exported by ordinal only. */
  readonly name: string | null;
  /** Biased ordinal (base + index), as tools print it. */
  readonly ordinal: number;
  /** For a forwarder, the RVA of its string. */
  readonly rva: Rva;
  /** `OTHERDLL.Name` for forwarders, else null. */
  readonly forwarder: string | null;
}

export interface ExportDirectory {
  readonly dllName: string | null;
  readonly ordinalBase: number;
  readonly timeDateStamp: number;
  readonly entries: readonly ExportEntry[];
}

export interface ImportSymbol {
  /** Null when imported by ordinal. */
  readonly name: string | null;
  /** Null when imported by name. */
  readonly ordinal: number | null;
  readonly hint: number | null;
  /** RVA of the IAT slot the loader fills with this symbol's address. */
  readonly iatRva: Rva;
}

export interface ImportDll {
  readonly dll: string;
  /** True for the delay-load import directory. */
  readonly delayed: boolean;
  readonly symbols: readonly ImportSymbol[];
}

export const IMAGE_REL_BASED_ABSOLUTE = 0;
export const IMAGE_REL_BASED_HIGHLOW = 3;
export const IMAGE_REL_BASED_DIR64 = 10;

export interface BaseRelocation {
  readonly rva: Rva;
  /** IMAGE_REL_BASED_* (ABSOLUTE padding entries are not listed). */
  readonly type: number;
}

export interface BaseRelocations {
  readonly blocks: number;
  readonly entries: readonly BaseRelocation[];
}

/** UNWIND_INFO (x64). */
export interface UnwindInfo {
  readonly rva: Rva;
  readonly version: number;
  /** UNW_FLAG_EHANDLER 1, UNW_FLAG_UHANDLER 2, UNW_FLAG_CHAININFO 4. */
  readonly flags: number;
  readonly sizeOfProlog: number;
  readonly countOfCodes: number;
  readonly frameRegister: number;
  readonly frameOffset: number;
  /** The raw UNWIND_CODE slots (countOfCodes u16 values). */
  readonly unwindCodes: readonly number[];
  /** Exception/termination handler RVA when flags has EHANDLER or UHANDLER. */
  readonly handler: Rva | null;
  /** RVA of the language-specific handler data that follows the handler RVA, when there is a handler. */
  readonly handlerData: Rva | null;
  /** The chained RUNTIME_FUNCTION when flags has CHAININFO. */
  readonly chained: RuntimeFunction | null;
  /** Bytes of UNWIND_INFO proper: header + codes (padded to even) + handler or chain entry. */
  readonly size: number;
}

/** RUNTIME_FUNCTION: one .pdata entry, with its unwind info resolved (chains followed). */
export interface RuntimeFunction {
  readonly beginAddress: Rva;
  readonly endAddress: Rva;
  readonly unwindInfoAddress: Rva;
  /** Null when the unwind info could not be read (a diagnostic says why). */
  readonly unwind: UnwindInfo | null;
}

export interface CodeViewInfo {
  /** RSDS GUID in the registry form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (upper-case). */
  readonly guid: string;
  readonly age: number;
  readonly path: string;
}

export interface ImageDebugDirectory {
  readonly characteristics: number;
  readonly timeDateStamp: number;
  readonly type: number;
  readonly sizeOfData: number;
  readonly addressOfRawData: Rva;
  readonly pointerToRawData: FileOffset;
}

/** IMAGE_LOAD_CONFIG_DIRECTORY64 fields (only those present in the file's `size` are non-null). */
export interface LoadConfig {
  readonly size: number;
  readonly securityCookie: bigint | null;
  readonly guardCfCheckFunctionPointer: bigint | null;
  readonly guardCfFunctionTable: bigint | null;
  readonly guardCfFunctionCount: bigint | null;
  readonly guardFlags: number | null;
  /** HotPatchTableOffset (Windows hotpatch metadata), when the structure is long enough. */
  readonly hotPatchTableOffset: number | null;
  /** RVAs from the Guard CF function table, when present and readable. */
  readonly guardCfFunctions: readonly Rva[];
}

/** IMAGE_TLS_DIRECTORY (VAs as in the file, i.e. for the preferred ImageBase). */
export interface TlsDirectory {
  readonly startAddressOfRawData: bigint;
  readonly endAddressOfRawData: bigint;
  readonly addressOfIndex: bigint;
  readonly addressOfCallBacks: bigint;
  readonly sizeOfZeroFill: number;
  readonly characteristics: number;
  /** Callback VAs, up to the terminating zero. */
  readonly callbacks: readonly bigint[];
}

/** IMAGE_SYMBOL from the COFF symbol table (mingw-w64 keeps it in DLLs). */
export interface CoffSymbol {
  readonly index: number;
  readonly name: string;
  readonly value: number;
  /** 1-based section number; 0 undefined, -1 absolute, -2 debug. */
  readonly sectionNumber: number;
  readonly type: number;
  readonly storageClass: number;
  readonly numberOfAuxSymbols: number;
}

/** A parsed PE file. Everything the file says, nothing derived by guessing. */
export interface PeFile {
  readonly format: PeFormat;
  readonly fileHeader: ImageFileHeader;
  readonly optionalHeader: ImageOptionalHeader;
  readonly dataDirectories: readonly ImageDataDirectory[];
  readonly sections: readonly ImageSectionHeader[];
  readonly exports: ExportDirectory | null;
  /** Normal then delay-load imports, in directory order. */
  readonly imports: readonly ImportDll[];
  readonly relocations: BaseRelocations;
  /** .pdata, in file order. */
  readonly exceptions: readonly RuntimeFunction[];
  readonly debug: readonly ImageDebugDirectory[];
  readonly codeView: CodeViewInfo | null;
  readonly loadConfig: LoadConfig | null;
  readonly tls: TlsDirectory | null;
  readonly symbols: readonly CoffSymbol[];
  /** Non-fatal oddities found while parsing (permissive mode), one line each. */
  readonly diagnostics: readonly string[];
}

/**
 * A PeFile whose big tables are counted, not listed (`parsePeOverview`): the file is read and
 * checked exactly as by `parsePe` (same errors, same diagnostics), only relocation entries,
 * .pdata entries, the Guard CF function table and COFF symbols come back as their counts.
 */
export interface PeOverview extends Omit<PeFile, 'relocations' | 'exceptions' | 'loadConfig' | 'symbols'> {
  readonly relocations: { readonly blocks: number; readonly entries: number };
  /** Number of .pdata entries. */
  readonly exceptions: number;
  readonly loadConfig: (Omit<LoadConfig, 'guardCfFunctions'> & { readonly guardCfFunctions: number }) | null;
  /** Number of COFF symbols. */
  readonly symbols: number;
}
