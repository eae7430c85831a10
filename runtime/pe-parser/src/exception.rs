//! Exception directory (.pdata): RUNTIME_FUNCTION entries with their UNWIND_INFO (x64),
//! chained entries followed up to a depth limit.

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::{Headers, DIR_EXCEPTION};

/// UNWIND_INFO flags (winnt.h UNW_FLAG_*).
pub const UNW_FLAG_EHANDLER: u8 = 1;
pub const UNW_FLAG_UHANDLER: u8 = 2;
pub const UNW_FLAG_CHAININFO: u8 = 4;
/// Deepest chain followed; real compilers chain one or two levels.
pub const MAX_CHAIN_DEPTH: u32 = 32;

/// UNWIND_INFO (x64): header, unwind codes, and the handler or chained entry that follows.
pub struct UnwindInfo {
    pub rva: u32,
    pub version: u8,
    pub flags: u8,
    pub size_of_prolog: u8,
    pub count_of_codes: u8,
    pub frame_register: u8,
    pub frame_offset: u8,
    pub codes: Vec<u16>,
    pub handler: Option<u32>,
    pub handler_data: Option<u32>,
    pub chained: Option<alloc::boxed::Box<RuntimeFunction>>,
    pub size: u32,
}

/// RUNTIME_FUNCTION with its UNWIND_INFO (None when unreadable; a diagnostic says why).
pub struct RuntimeFunction {
    pub begin: u32,
    pub end: u32,
    pub unwind_rva: u32,
    pub unwind: Option<UnwindInfo>,
}

/// Shared cap on chain steps over the whole table: without it, many entries pointing into
/// one deep chain would multiply the output far beyond the file's size.
struct ChainBudget(usize);

/// Every .pdata entry in file order, unwind info resolved; x64 only (other machines get a diagnostic).
pub fn parse_exceptions(h: &Headers, diags: &mut Vec<String>) -> Vec<RuntimeFunction> {
    let mut out = Vec::new();
    let d = h.dir(DIR_EXCEPTION);
    if d.virtual_address == 0 || d.size == 0 {
        return out;
    }
    // Only x64 uses this RUNTIME_FUNCTION layout (ARM64 packs unwind data differently).
    if h.file_header.machine != 0x8664 {
        diags.push(alloc::format!("exception directory of machine 0x{:x} is not decoded", h.file_header.machine));
        return out;
    }
    let Some(rest) = h.rest_at_rva(d.virtual_address) else {
        diags.push(alloc::format!("exception directory at RVA 0x{:x} is not readable", d.virtual_address));
        return out;
    };
    let size = (d.size as usize).min(rest.len());
    if size < d.size as usize {
        diags.push(alloc::format!("exception directory: {} bytes declared, {} readable", d.size, size));
    }
    let n = size / 12;
    let mut budget = ChainBudget(n.saturating_mul(2).saturating_add(1024));
    out.reserve(n);
    for e in rest[..size].chunks_exact(12) {
        let r = |o: usize| crate::read::u32_at(e, o).unwrap_or(0);
        let (begin, end, unwind_rva) = (r(0), r(4), r(8));
        let mut rf = RuntimeFunction { begin, end, unwind_rva, unwind: None };
        rf.unwind = unwind_info(h, unwind_rva, 0, &mut budget, diags);
        out.push(rf);
    }
    out
}

fn unwind_info(h: &Headers, rva: u32, depth: u32, budget: &mut ChainBudget, diags: &mut Vec<String>) -> Option<UnwindInfo> {
    let Some(hdr) = h.at_rva(rva, 4) else {
        diags.push(alloc::format!("UNWIND_INFO at RVA 0x{:x} is not readable", rva));
        return None;
    };
    let vf = hdr.first().copied().unwrap_or(0);
    let count = hdr.get(2).copied().unwrap_or(0);
    let fr = hdr.get(3).copied().unwrap_or(0);
    let mut u = UnwindInfo {
        rva,
        version: vf & 7,
        flags: vf >> 3,
        size_of_prolog: hdr.get(1).copied().unwrap_or(0),
        count_of_codes: count,
        frame_register: fr & 0xf,
        frame_offset: fr >> 4,
        codes: Vec::with_capacity(count as usize),
        handler: None,
        handler_data: None,
        chained: None,
        size: 4,
    };
    let slots = (count as u32 + 1) & !1; // the code array is padded to an even count
    let codes = if count == 0 { Some(&[][..]) } else { h.at_rva(rva.checked_add(4)?, count as usize * 2) };
    let Some(codes) = codes else {
        diags.push(alloc::format!("UNWIND_INFO at RVA 0x{:x}: unwind codes are not readable", rva));
        return None;
    };
    for c in codes.chunks_exact(2) {
        u.codes.push(crate::read::u16_at(c, 0).unwrap_or(0));
    }
    let tail = rva.checked_add(4 + slots * 2)?;
    u.size = 4 + slots * 2;
    if u.flags & UNW_FLAG_CHAININFO != 0 {
        u.size += 12;
        if depth >= MAX_CHAIN_DEPTH || budget.0 == 0 {
            diags.push(alloc::format!("UNWIND_INFO at RVA 0x{:x}: chain deeper than {} or too many chains; not followed", rva, MAX_CHAIN_DEPTH));
            return Some(u);
        }
        budget.0 -= 1;
        let Some(ce) = h.at_rva(tail, 12) else {
            diags.push(alloc::format!("UNWIND_INFO at RVA 0x{:x}: chained entry is not readable", rva));
            return Some(u);
        };
        let r = |o: usize| crate::read::u32_at(ce, o).unwrap_or(0);
        let (b, e, ur) = (r(0), r(4), r(8));
        let inner = unwind_info(h, ur, depth + 1, budget, diags);
        u.chained = Some(alloc::boxed::Box::new(RuntimeFunction { begin: b, end: e, unwind_rva: ur, unwind: inner }));
    } else if u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER) != 0 {
        u.size += 4;
        match h.u32_at_rva(tail) {
            Some(hr) => {
                u.handler = Some(hr);
                u.handler_data = tail.checked_add(4);
            }
            None => diags.push(alloc::format!("UNWIND_INFO at RVA 0x{:x}: handler RVA is not readable", rva)),
        }
    }
    Some(u)
}
