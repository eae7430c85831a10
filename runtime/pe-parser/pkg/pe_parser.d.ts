/* tslint:disable */
/* eslint-disable */

declare function __wbg_reset_state(): void;

/**
 * Applies a block's fixups (targets already resolved to absolute addresses; record layout
 * in fixups.rs) to a copy of the block: the completed bytes, or a PLAN_FIXUP /
 * PLAN_FIXUP_RANGE error. `container`: 0 the block's bytes, 1 its unwind info.
 */
export function applyFixups(block: Uint8Array, records: Uint8Array, block_va: bigint, unwind_base: bigint, image_base: bigint, block_id: number, container: number): Uint8Array;

/**
 * Does nothing: calling it lets the glue replace the instance when a reinit is scheduled.
 * wasm-bindgen's glue runs its reinit guard after it has copied an export's arguments into
 * the old instance's memory (0.2.129), so the new instance would read them from memory
 * that does not hold them; the bridge calls this argument-free export before every call so
 * the replacement always happens first.
 */
export function beginCall(): void;

/**
 * True when a `len`-byte argument fits in linear memory. wasm-bindgen's allocator traps
 * when it cannot copy an argument in, so the host asks first about big inputs and reports
 * PE_TOO_LARGE instead of a trap.
 */
export function fits(len: number): boolean;

/**
 * Maps a PE file into a SizeOfImage buffer for `base` (see map.rs).
 */
export function mapImage(bytes: Uint8Array, base: bigint): Uint8Array;

/**
 * Maps a PE file at its own ImageBase as the compiler reads it: overlapping sections
 * accepted, relocations neither read nor applied (see map.rs).
 */
export function mapImageLenient(bytes: Uint8Array): Uint8Array;

/**
 * Parses a PE file into PeFile JSON, reading only the parts in `parts` (bit mask: exports
 * 1, imports 2, relocations 4, exceptions 8, debug 16, load config 32, TLS 64, symbols 128;
 * 255 for all) besides the headers and sections; the others come back empty. Bit 256 writes
 * the big tables (relocation entries, .pdata, Guard CF functions, symbols) as counts
 * (output.rs, COUNTS_ONLY).
 */
export function parse(bytes: Uint8Array, parts: number): Uint8Array;

/**
 * SHA-256 of the bytes (32-byte digest).
 */
export function sha256(bytes: Uint8Array): Uint8Array;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly applyFixups: (a: number, b: number, c: number, d: number, e: bigint, f: bigint, g: bigint, h: number, i: number) => [number, number, number, number];
    readonly beginCall: () => void;
    readonly fits: (a: number) => number;
    readonly mapImage: (a: number, b: number, c: bigint) => [number, number, number, number];
    readonly mapImageLenient: (a: number, b: number) => [number, number, number, number];
    readonly parse: (a: number, b: number, c: number) => [number, number, number, number];
    readonly sha256: (a: number, b: number) => [number, number];
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
