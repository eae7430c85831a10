/** Raw result of a call into the wasm module. */
export interface RawResult {
  /** 0 ok, 1 error (data is `{"code","message","offset"?}` JSON), 2 the module trapped (data is the trap message). */
  readonly status: 0 | 1 | 2;
  readonly data: Uint8Array;
}

/** Loads the module once; `source` defaults to pe_parser_bg.wasm next to the loader. */
export function init(source?: WebAssembly.Module | Uint8Array | ArrayBuffer | URL | string): Promise<void>;
/** Synchronous init from a compiled module or the .wasm bytes. */
export function initSync(source: WebAssembly.Module | Uint8Array | ArrayBuffer): void;
/** True once init/initSync has run. */
export function isReady(): boolean;
/**
 * Parses a PE file; status 0 data is PeFile JSON (64-bit values as "0x..." strings; relocations,
 * .pdata and symbols positional). `parts`: bit mask of what to read besides headers and sections
 * (exports 1, imports 2, relocations 4, exceptions 8, debug 16, load config 32, TLS 64, symbols 128; default 255).
 */
export function parse(bytes: Uint8Array, parts?: number): RawResult;
/** Maps a PE file into a SizeOfImage buffer for `base`, relocations applied. */
export function mapImage(bytes: Uint8Array, base: bigint): RawResult;
/** Maps a PE file into a SizeOfImage buffer at its own ImageBase: overlapping sections accepted, no relocations read (the compiler's mode). */
export function mapImageLenient(bytes: Uint8Array): RawResult;
/** SHA-256 digest (32 bytes). */
export function sha256(bytes: Uint8Array): Uint8Array;
/**
 * Applies fixups to a copy of `block`. `records`: 32-byte little-endian records (kind u8
 * 1 rel32 / 2 rel8 / 3 abs64 / 4 rip-disp32 / 5 addr32nb / 6 imagerel32, flags u8 (1: target unresolved,
 * last record only: check the field and stop), 0 u16, 0 u32, offset u64, S u64, A i64).
 * `container`: 0 the block's bytes, 1 its unwind info (changes error wording only).
 * status 0: data is the completed block; 1: error JSON (PLAN_FIXUP, PLAN_FIXUP_RANGE).
 */
export function applyFixups(block: Uint8Array, records: Uint8Array, blockVa: bigint, unwindBase: bigint, imageBase: bigint, blockId: number, container: 0 | 1): RawResult;
