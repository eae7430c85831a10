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
//! ABI (C-like, for any wasm host):
//! - `pe_alloc(len) -> ptr`, `pe_free(ptr, len)`: buffers in linear memory.
//! - `pe_parse(ptr, len) -> handle`, `pe_parse_parts(ptr, len, mask) -> handle`,
//!   `pe_map_image(ptr, len, base: i64) -> handle`, `pe_map_image_lenient(ptr, len) -> handle`,
//!   `pe_sha256(ptr, len) -> handle`,
//!   `pe_apply_fixups(block_ptr, block_len, fixups_ptr, fixups_len, block_va: i64,
//!   unwind_base: i64, image_base: i64, block_id, container) -> handle` (see fixups.rs).
//! - A handle points at three u32: status (0 ok, 1 error), data pointer, data length.
//!   Data is UTF-8 JSON for parse results and every error (`{"code","message","offset"}`),
//!   raw bytes for a mapped image, a digest or a block with its fixups applied. `pe_result_free(handle)` releases it.

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

use alloc::boxed::Box;
use alloc::vec::Vec;

#[global_allocator]
static HEAP: heap::BumpHeap = heap::BumpHeap::new();

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Unreachable by design (no indexing or arithmetic on file values can panic); should a
    // bug get here, the host sees a trap and reports PE_INTERNAL.
    core::arch::wasm32::unreachable()
}

/// A result handed to the host: the handle is the address of `status`.
#[repr(C)]
pub struct Handle {
    status: u32,
    ptr: u32,
    len: u32,
    /// Keeps the buffer alive until pe_result_free.
    _buf: Vec<u8>,
}

fn handle(status: u32, mut buf: Vec<u8>) -> *mut Handle {
    buf.shrink_to_fit();
    let h = Box::new(Handle { status, ptr: buf.as_ptr() as u32, len: buf.len() as u32, _buf: buf });
    Box::into_raw(h)
}

fn error_handle(e: &error::PeError) -> *mut Handle {
    let mut j = json::Json::new();
    output::write_error(&mut j, e);
    handle(1, j.out)
}

/// # Safety
/// `ptr..ptr+len` must be a buffer the host obtained from `pe_alloc`.
unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        core::slice::from_raw_parts(ptr, len)
    }
}

/// Allocates `len` bytes for the host to fill (input files). Returns 0 when memory is exhausted.
#[no_mangle]
pub extern "C" fn pe_alloc(len: usize) -> *mut u8 {
    let mut v: Vec<u8> = Vec::new();
    if v.try_reserve_exact(len.max(1)).is_err() {
        return core::ptr::null_mut();
    }
    let p = v.as_mut_ptr();
    core::mem::forget(v);
    p
}

/// Frees a buffer from `pe_alloc` (same `len`).
///
/// # Safety
/// `ptr` must come from `pe_alloc(len)` and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn pe_free(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        drop(Vec::from_raw_parts(ptr, 0, len.max(1)));
    }
}

/// Frees a result handle and its data.
///
/// # Safety
/// `h` must come from one of the pe_* calls below and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn pe_result_free(h: *mut Handle) {
    if !h.is_null() {
        drop(Box::from_raw(h));
    }
}

/// Parses a PE file; the handle holds the PeFile as JSON, or an error.
///
/// # Safety
/// `ptr..ptr+len` must be readable linear memory (from `pe_alloc`).
#[no_mangle]
pub unsafe extern "C" fn pe_parse(ptr: *const u8, len: usize) -> *mut Handle {
    pe_parse_parts(ptr, len, output::PART_ALL)
}

/// Like `pe_parse`, reading only the parts in `parts` (bit mask: exports 1, imports 2,
/// relocations 4, exceptions 8, debug 16, load config 32, TLS 64, symbols 128) besides the
/// headers and sections; the others come back empty.
///
/// # Safety
/// As `pe_parse`.
#[no_mangle]
pub unsafe extern "C" fn pe_parse_parts(ptr: *const u8, len: usize, parts: u32) -> *mut Handle {
    let data = input(ptr, len);
    match output::parse_to_json(data, parts) {
        Ok(j) => handle(0, j),
        Err(e) => error_handle(&e),
    }
}

/// Maps a PE file into a SizeOfImage buffer for `base` (see map.rs).
///
/// # Safety
/// As `pe_parse`.
#[no_mangle]
pub unsafe extern "C" fn pe_map_image(ptr: *const u8, len: usize, base: i64) -> *mut Handle {
    let data = input(ptr, len);
    let base = base as u64;
    let h = match headers::parse_headers(data) {
        Ok(h) => h,
        Err(e) => return error_handle(&e),
    };
    if !h.is64 && base > u32::MAX as u64 {
        return error_handle(&error::pe_err!("PE_BAD_BASE", h.nt_offset, "base 0x{:x} does not fit a PE32 image", base));
    }
    let mut diags = Vec::new();
    let relocs = relocs::parse_relocations(&h, &mut diags);
    match map::map_image(&h, &relocs, base) {
        Ok(img) => handle(0, img),
        Err(e) => error_handle(&e),
    }
}

/// Maps a PE file at its own ImageBase as the compiler reads it: overlapping sections
/// accepted, relocations neither read nor applied (see map.rs).
///
/// # Safety
/// As `pe_parse`.
#[no_mangle]
pub unsafe extern "C" fn pe_map_image_lenient(ptr: *const u8, len: usize) -> *mut Handle {
    match headers::parse_headers(input(ptr, len)) {
        Ok(h) => match map::map_image_lenient(&h) {
            Ok(img) => handle(0, img),
            Err(e) => error_handle(&e),
        },
        Err(e) => error_handle(&e),
    }
}

/// SHA-256 of the buffer; the handle holds the 32-byte digest.
///
/// # Safety
/// As `pe_parse`.
#[no_mangle]
pub unsafe extern "C" fn pe_sha256(ptr: *const u8, len: usize) -> *mut Handle {
    handle(0, sha256::sha256(input(ptr, len)).to_vec())
}

/// Applies a block's fixups (targets already resolved to absolute addresses; record layout
/// in fixups.rs) to a copy of the block; the handle holds the completed bytes, or a
/// PLAN_FIXUP / PLAN_FIXUP_RANGE error. `container`: 0 the block's bytes, 1 its unwind info.
///
/// # Safety
/// Both ranges must be readable linear memory (from `pe_alloc`, or null with length 0).
#[no_mangle]
pub unsafe extern "C" fn pe_apply_fixups(
    block_ptr: *const u8,
    block_len: usize,
    fixups_ptr: *const u8,
    fixups_len: usize,
    block_va: i64,
    unwind_base: i64,
    image_base: i64,
    block_id: u32,
    container: u32,
) -> *mut Handle {
    let container = match container {
        0 => fixups::Container::Block,
        1 => fixups::Container::Unwind,
        _ => return error_handle(&error::PeError::new("PLAN_FIXUP", alloc::format!("container {} is neither a block (0) nor unwind info (1)", container), None)),
    };
    let ctx = fixups::Context { block_va: block_va as u64, unwind_base: unwind_base as u64, image_base: image_base as u64, block_id, container };
    match fixups::apply_fixups(input(block_ptr, block_len), input(fixups_ptr, fixups_len), &ctx) {
        Ok(bytes) => handle(0, bytes),
        Err(e) => error_handle(&e),
    }
}
