//! Load config directory (IMAGE_LOAD_CONFIG_DIRECTORY32/64): security cookie, Guard CF
//! table and flags, HotPatchTableOffset. A field is reported only when the structure's own
//! Size covers it (the structure has grown with every Windows release).

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::{Headers, DIR_LOAD_CONFIG};
use crate::read::{u32_at, u64_at};

/// The IMAGE_LOAD_CONFIG_DIRECTORY fields hotpatch uses; None when the structure is too short to hold one.
pub struct LoadConfig {
    pub size: u32,
    pub security_cookie: Option<u64>,
    pub guard_cf_check_function_pointer: Option<u64>,
    pub guard_cf_function_table: Option<u64>,
    pub guard_cf_function_count: Option<u64>,
    pub guard_flags: Option<u32>,
    pub hot_patch_table_offset: Option<u32>,
    pub guard_cf_functions: Vec<u32>,
}

/// Field offsets: (PE32, PE32+).
const SECURITY_COOKIE: (usize, usize) = (60, 88);
const GUARD_CF_CHECK: (usize, usize) = (72, 112);
const GUARD_CF_TABLE: (usize, usize) = (80, 128);
const GUARD_CF_COUNT: (usize, usize) = (84, 136);
const GUARD_FLAGS: (usize, usize) = (88, 144);
const HOT_PATCH_TABLE_OFFSET: (usize, usize) = (148, 240);
/// IMAGE_GUARD_CF_FUNCTION_TABLE_SIZE_MASK: extra bytes after each table entry's RVA.
const GUARD_CF_FUNCTION_TABLE_SIZE_MASK: u32 = 0xf000_0000;

/// The load config directory, with the Guard CF function table read (capped by the bytes behind it).
pub fn parse_load_config(h: &Headers, diags: &mut Vec<String>) -> Option<LoadConfig> {
    let d = h.dir(DIR_LOAD_CONFIG);
    if d.virtual_address == 0 {
        return None;
    }
    let Some(rest) = h.rest_at_rva(d.virtual_address) else {
        diags.push(alloc::format!("load config directory at RVA 0x{:x} is not readable", d.virtual_address));
        return None;
    };
    let Some(size) = u32_at(rest, 0) else {
        diags.push(String::from("load config directory: Size is not readable"));
        return None;
    };
    let avail = (size as usize).min(rest.len());
    if avail < size as usize {
        diags.push(alloc::format!("load config directory: Size {} but {} bytes readable", size, avail));
    }
    let lc = &rest[..avail];
    let is64 = h.is64;
    let pick = |f: (usize, usize)| if is64 { f.1 } else { f.0 };
    let ptr = |f: (usize, usize)| -> Option<u64> {
        if is64 { u64_at(lc, f.1) } else { u32_at(lc, f.0).map(u64::from) }
    };
    let guard_flags = u32_at(lc, pick(GUARD_FLAGS));
    let table = ptr(GUARD_CF_TABLE);
    let count = ptr(GUARD_CF_COUNT);
    let mut funcs = Vec::new();
    if let (Some(t), Some(c)) = (table, count) {
        if t != 0 && c != 0 {
            let stride = 4 + ((guard_flags.unwrap_or(0) & GUARD_CF_FUNCTION_TABLE_SIZE_MASK) >> 28) as usize;
            match h.va_to_rva(t).and_then(|r| h.rest_at_rva(r)) {
                Some(bytes) => {
                    let n = (c.min(usize::MAX as u64) as usize).min(bytes.len() / stride);
                    if (n as u64) < c {
                        diags.push(alloc::format!("Guard CF function table: {} entries declared, {} readable", c, n));
                    }
                    funcs.reserve(n);
                    for e in bytes.chunks_exact(stride).take(n) {
                        funcs.push(u32_at(e, 0).unwrap_or(0));
                    }
                }
                None => diags.push(alloc::format!("Guard CF function table at VA 0x{:x} is not readable", t)),
            }
        }
    }
    Some(LoadConfig {
        size,
        security_cookie: ptr(SECURITY_COOKIE),
        guard_cf_check_function_pointer: ptr(GUARD_CF_CHECK),
        guard_cf_function_table: table,
        guard_cf_function_count: count,
        guard_flags,
        hot_patch_table_offset: u32_at(lc, pick(HOT_PATCH_TABLE_OFFSET)),
        guard_cf_functions: funcs,
    })
}
