//! hotpatch pe-parser: a bounds-checked PE/COFF parser for wasm32 (no_std + alloc, no
//! third-party crates).
//!
//! Strict vs permissive: the DOS header, NT headers, optional header, data directory array
//! and section table must be sound, or `parse` fails with a PE_* error and the file offset
//! (a section whose raw data lies past the end of the file is such an error: the image
//! cannot be mapped). Every directory after that is optional data: when one is damaged, the
//! parser keeps what it could read, adds a one-line diagnostic and goes on.
//!
//! Every read is bounds-checked (read.rs), every sum of file values is checked, and counts
//! from the file are capped by the bytes that could back them, so output stays
//! proportional to the input.
//!
//! Bindings: wasm-bindgen (`wasm-pack build --target web`, see build.sh) generates the
//! JS/TS glue in pkg/. Exports: `parse(bytes, parts)`, `mapImage(bytes, base)`,
//! `mapImageLenient(bytes)`, `sha256(bytes)`, `applyFixups(block, records, blockVa, unwindBase, imageBase, blockId,
//! container)` and `fits(len)`. Results are byte arrays: UTF-8 JSON for a parse, raw bytes
//! for a mapped image, a digest or a completed block. An error is thrown to JS as a string
//! holding `{"code","message","offset"?}` JSON (runtime/pe/wasm.ts turns it back into a
//! value).

#![no_std]

extern crate alloc;

mod debug;
mod error;
mod exception;
mod exports;
mod fixups;
mod headers;
mod heap;
mod imports;
mod json;
mod load_config;
mod map;
mod output;
mod read;
mod relocs;
mod sha256;
mod symbols;
mod tls;

use alloc::string::String;
use alloc::vec::Vec;
use wasm_bindgen::prelude::wasm_bindgen;

#[global_allocator]
static HEAP: heap::BumpHeap = heap::BumpHeap::new();

/// Linear memory never shrinks: past this, the instance is replaced before the next call
/// (wasm-bindgen's reinit) so one big mapped image does not pin its memory for good.
const KEEP_MEMORY_BYTES: usize = 256 * 1024 * 1024;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Unreachable by design (no indexing or arithmetic on file values can panic); should a
    // bug get here, the host sees a trap and reports PE_INTERNAL. A trap leaves the heap and
    // the shadow stack mid-call, so the glue starts a fresh instance before the next call.
    wasm_bindgen::handler::schedule_reinit();
    core::arch::wasm32::unreachable()
}

/// Every export ends here: the error as the JSON the host parses, and a fresh instance
/// scheduled when memory has grown past KEEP_MEMORY_BYTES.
fn finish(r: Result<Vec<u8>, error::PeError>) -> Result<Vec<u8>, String> {
    if core::arch::wasm32::memory_size(0) * 65536 > KEEP_MEMORY_BYTES {
        wasm_bindgen::handler::schedule_reinit();
    }
    r.map_err(|e| {
        let mut j = json::Json::new();
        output::write_error(&mut j, &e);
        // The writer emits UTF-8 only (file strings are escaped).
        String::from_utf8(j.out).unwrap_or_default()
    })
}

/// Does nothing: calling it lets the glue replace the instance when a reinit is scheduled.
/// wasm-bindgen's glue runs its reinit guard after it has copied an export's arguments into
/// the old instance's memory (0.2.129), so the new instance would read them from memory
/// that does not hold them; the bridge calls this argument-free export before every call so
/// the replacement always happens first.
#[wasm_bindgen(js_name = beginCall)]
pub fn begin_call() {}

/// True when a `len`-byte argument fits in linear memory. wasm-bindgen's allocator traps
/// when it cannot copy an argument in, so the host asks first about big inputs and reports
/// PE_TOO_LARGE instead of a trap.
#[wasm_bindgen]
pub fn fits(len: usize) -> bool {
    let mut v: Vec<u8> = Vec::new();
    // The bump heap returns to empty when this is dropped; the memory it grew stays for the
    // argument that follows.
    v.try_reserve_exact(len.max(1)).is_ok()
}

/// Parses a PE file into PeFile JSON, reading only the parts in `parts` (bit mask: exports
/// 1, imports 2, relocations 4, exceptions 8, debug 16, load config 32, TLS 64, symbols 128;
/// 255 for all) besides the headers and sections; the others come back empty. Bit 256 writes
/// the big tables (relocation entries, .pdata, Guard CF functions, symbols) as counts
/// (output.rs, COUNTS_ONLY).
#[wasm_bindgen]
pub fn parse(bytes: &[u8], parts: u32) -> Result<Vec<u8>, String> {
    finish(output::parse_to_json(bytes, parts))
}

/// Maps a PE file into a SizeOfImage buffer for `base` (see map.rs).
#[wasm_bindgen(js_name = mapImage)]
pub fn map_image(bytes: &[u8], base: u64) -> Result<Vec<u8>, String> {
    finish(map_at(bytes, base))
}

fn map_at(data: &[u8], base: u64) -> Result<Vec<u8>, error::PeError> {
    let h = headers::parse_headers(data)?;
    if !h.is64 && base > u32::MAX as u64 {
        return Err(error::pe_err!("PE_BAD_BASE", h.nt_offset, "base 0x{:x} does not fit a PE32 image", base));
    }
    let mut diags = Vec::new();
    let relocs = relocs::parse_relocations(&h, &mut diags);
    map::map_image(&h, &relocs, base)
}

/// Maps a PE file at its own ImageBase as the compiler reads it: overlapping sections
/// accepted, relocations neither read nor applied (see map.rs).
#[wasm_bindgen(js_name = mapImageLenient)]
pub fn map_image_lenient(bytes: &[u8]) -> Result<Vec<u8>, String> {
    finish(headers::parse_headers(bytes).and_then(|h| map::map_image_lenient(&h)))
}

/// SHA-256 of the bytes (32-byte digest).
#[wasm_bindgen]
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    sha256::sha256(bytes).to_vec()
}

/// Applies a block's fixups (targets already resolved to absolute addresses; record layout
/// in fixups.rs) to a copy of the block: the completed bytes, or a PLAN_FIXUP /
/// PLAN_FIXUP_RANGE error. `container`: 0 the block's bytes, 1 its unwind info.
#[wasm_bindgen(js_name = applyFixups)]
pub fn apply_fixups(block: &[u8], records: &[u8], block_va: u64, unwind_base: u64, image_base: u64, block_id: u32, container: u32) -> Result<Vec<u8>, String> {
    let container = match container {
        0 => fixups::Container::Block,
        1 => fixups::Container::Unwind,
        _ => return finish(Err(error::PeError::new("PLAN_FIXUP", alloc::format!("container {} is neither a block (0) nor unwind info (1)", container), None))),
    };
    let ctx = fixups::Context { block_va, unwind_base, image_base, block_id, container };
    finish(fixups::apply_fixups(block, records, &ctx))
}
