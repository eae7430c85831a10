// Loader for pe_parser_bg.wasm (the Rust crate in ..; rebuild with ../build.sh).
// Works in any JS runtime: it imports no `node:` module statically. The wasm bytes come
// from the caller, or from `new URL('./pe_parser_bg.wasm', import.meta.url)`: read with
// node:fs (imported dynamically, only when the runtime is Node and the URL is file:), and
// with fetch everywhere else.
//
// ABI: pe_alloc/pe_free for buffers; pe_parse / pe_map_image / pe_map_image_lenient / pe_sha256 /
// pe_apply_fixups return a handle,
// the address of three u32 (status 0 ok / 1 error, data pointer, data length), released
// with pe_result_free. Parse results and errors are UTF-8 JSON.

const KEEP_MEMORY_BYTES = 256 * 1024 * 1024;

let wasmModule = null;
let exportsRef = null;

function instantiate(module) {
  const instance = new WebAssembly.Instance(module, {});
  exportsRef = instance.exports;
  wasmModule = module;
  return exportsRef;
}

async function loadBytes(url) {
  const isNode = typeof process !== 'undefined' && process.versions != null && process.versions.node != null;
  if (url.protocol === 'file:' && isNode) {
    const fs = await import(/* @vite-ignore */ 'node:fs/promises');
    return await fs.readFile(url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error(`pe_parser: cannot load ${url.href}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Loads the module once (later calls return at once). `source`: a WebAssembly.Module,
 * the .wasm bytes, or a URL; default: pe_parser_bg.wasm next to this file.
 */
export async function init(source) {
  if (exportsRef !== null) return;
  let module;
  if (source instanceof WebAssembly.Module) module = source;
  else if (source instanceof Uint8Array || source instanceof ArrayBuffer) module = await WebAssembly.compile(source);
  else {
    const url = source === undefined ? new URL('./pe_parser_bg.wasm', import.meta.url) : new URL(String(source), import.meta.url);
    module = await WebAssembly.compile(await loadBytes(url));
  }
  instantiate(module);
}

/** Synchronous init from a WebAssembly.Module or the .wasm bytes (workers that already have them). */
export function initSync(source) {
  if (exportsRef !== null) return;
  instantiate(source instanceof WebAssembly.Module ? source : new WebAssembly.Module(source));
}

/** True once init/initSync has run. */
export function isReady() {
  return exportsRef !== null;
}

function wasm() {
  if (exportsRef === null) throw new Error('pe_parser: call init() first');
  return exportsRef;
}

/**
 * A trap leaves the instance's heap in an unknown state: start a fresh instance of the
 * same module so the next call is unaffected.
 */
function reset() {
  if (wasmModule !== null) instantiate(wasmModule);
}

function tooLarge(len) {
  return { status: 1, data: new TextEncoder().encode(JSON.stringify({ code: 'PE_TOO_LARGE', message: `cannot allocate ${len} bytes in the parser's memory` })) };
}

function readResult(w, handle) {
  const view = new DataView(w.memory.buffer);
  const status = view.getUint32(handle, true);
  const dataPtr = view.getUint32(handle + 4, true);
  const dataLen = view.getUint32(handle + 8, true);
  const data = new Uint8Array(w.memory.buffer, dataPtr, dataLen).slice();
  w.pe_result_free(handle);
  return { status, data };
}

function call(fn, bytes, extra) {
  const w = wasm();
  const len = bytes.length;
  const ptr = w.pe_alloc(len);
  if (ptr === 0) return tooLarge(len);
  try {
    new Uint8Array(w.memory.buffer, ptr, len).set(bytes);
    const handle = extra === undefined ? w[fn](ptr, len) : w[fn](ptr, len, extra);
    const r = readResult(w, handle);
    w.pe_free(ptr, len);
    // Linear memory never shrinks: after a call that needed a lot (a big mapped image),
    // start a fresh instance so the process does not keep the high-water mark.
    if (w.memory.buffer.byteLength > KEEP_MEMORY_BYTES) reset();
    return r;
  } catch (e) {
    reset();
    if (e instanceof WebAssembly.RuntimeError) return { status: 2, data: new TextEncoder().encode(String(e.message)) };
    throw e;
  }
}

/**
 * Parses a PE file. status 0: data is the PeFile JSON; 1: data is an error JSON; 2: the
 * parser trapped (a bug). `parts` (default all, 255) is a bit mask of what to read besides
 * headers and sections: exports 1, imports 2, relocations 4, exceptions 8, debug 16, load
 * config 32, TLS 64, symbols 128.
 */
export function parse(bytes, parts) {
  return call('pe_parse_parts', bytes, parts === undefined ? 255 : parts);
}

/** Maps a PE as the Windows loader does for `base` (bigint). status 0: data is the image; 1: error JSON; 2: trap. */
export function mapImage(bytes, base) {
  return call('pe_map_image', bytes, BigInt.asIntN(64, base));
}

/** Maps a PE at its own ImageBase as the compiler reads it (overlapping sections accepted, no relocations). status as mapImage. */
export function mapImageLenient(bytes) {
  return call('pe_map_image_lenient', bytes);
}

/** SHA-256 of `bytes` (32 bytes). */
export function sha256(bytes) {
  return call('pe_sha256', bytes).data;
}

/**
 * Applies fixups to a copy of `block`: `records` holds 32-byte little-endian records
 * (kind u8, flags u8, 0 u16, 0 u32, offset u64, S u64, A i64); `blockVa` and `unwindBase`
 * are bigints, `container` 0 for a block, 1 for unwind info. status 0: data is the
 * completed block; 1: error JSON (PLAN_FIXUP, PLAN_FIXUP_RANGE); 2: trap.
 */
export function applyFixups(block, records, blockVa, unwindBase, imageBase, blockId, container) {
  const w = wasm();
  const bptr = w.pe_alloc(block.length);
  if (bptr === 0) return tooLarge(block.length);
  const fptr = w.pe_alloc(records.length);
  if (fptr === 0) {
    w.pe_free(bptr, block.length);
    return tooLarge(records.length);
  }
  try {
    new Uint8Array(w.memory.buffer, bptr, block.length).set(block);
    new Uint8Array(w.memory.buffer, fptr, records.length).set(records);
    const handle = w.pe_apply_fixups(bptr, block.length, fptr, records.length, BigInt.asIntN(64, blockVa), BigInt.asIntN(64, unwindBase), BigInt.asIntN(64, imageBase), blockId >>> 0, container >>> 0);
    const r = readResult(w, handle);
    w.pe_free(fptr, records.length);
    w.pe_free(bptr, block.length);
    if (w.memory.buffer.byteLength > KEEP_MEMORY_BYTES) reset();
    return r;
  } catch (e) {
    reset();
    if (e instanceof WebAssembly.RuntimeError) return { status: 2, data: new TextEncoder().encode(String(e.message)) };
    throw e;
  }
}
