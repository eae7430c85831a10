//! Export directory (IMAGE_EXPORT_DIRECTORY): names, ordinals, RVAs and forwarders.

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::{Headers, DIR_EXPORT};

/// Longest name read from a file; longer ones are cut (real names are far shorter).
pub const MAX_NAME: usize = 4096;

/// One exported name or ordinal; `rva` is the forwarder string's RVA for forwarders.
pub struct ExportEntry {
    pub name: Option<Vec<u8>>,
    pub ordinal: u32,
    pub rva: u32,
    pub forwarder: Option<Vec<u8>>,
}

/// IMAGE_EXPORT_DIRECTORY with its entries.
pub struct Exports {
    pub dll_name: Option<Vec<u8>>,
    pub ordinal_base: u32,
    pub time_date_stamp: u32,
    pub entries: Vec<ExportEntry>,
}

/// One entry per exported name, then one per function that has no name (ordinal-only);
/// zero slots in the function table are unused ordinals and are skipped.
pub fn parse_exports(h: &Headers, diags: &mut Vec<String>) -> Option<Exports> {
    let d = h.dir(DIR_EXPORT);
    if d.virtual_address == 0 {
        return None;
    }
    let Some(ed) = h.at_rva(d.virtual_address, 40) else {
        diags.push(alloc::format!("export directory at RVA 0x{:x} is not readable", d.virtual_address));
        return None;
    };
    let r32 = |o: usize| crate::read::u32_at(ed, o).unwrap_or(0);
    let name_rva = r32(12);
    let base = r32(16);
    let nfun = r32(20) as usize;
    let nnames = r32(24) as usize;
    let funcs_rva = r32(28);
    let names_rva = r32(32);
    let ords_rva = r32(36);
    let dll_name = if name_rva != 0 { h.cstr_at_rva(name_rva, MAX_NAME).map(|s| s.to_vec()) } else { None };

    // Counts come from the file: cap them by the bytes the tables can actually occupy.
    let funcs = if nfun == 0 { Some(&[][..]) } else { h.rest_at_rva(funcs_rva) };
    let Some(funcs) = funcs else {
        diags.push(alloc::format!("export function table at RVA 0x{:x} is not readable", funcs_rva));
        return Some(Exports { dll_name, ordinal_base: base, time_date_stamp: r32(4), entries: Vec::new() });
    };
    let nfun_ok = nfun.min(funcs.len() / 4);
    if nfun_ok < nfun {
        diags.push(alloc::format!("export function table: {} entries declared, {} readable", nfun, nfun_ok));
    }
    let fun_rva = |i: usize| crate::read::u32_at(funcs, i * 4);
    let names = if nnames == 0 { Some(&[][..]) } else { h.rest_at_rva(names_rva) };
    let ords = if nnames == 0 { Some(&[][..]) } else { h.rest_at_rva(ords_rva) };
    let (names, ords) = match (names, ords) {
        (Some(n), Some(o)) => (n, o),
        _ => {
            diags.push(alloc::format!("export name tables at RVA 0x{:x}/0x{:x} are not readable", names_rva, ords_rva));
            (&[][..], &[][..])
        }
    };
    let nnames_ok = nnames.min(names.len() / 4).min(ords.len() / 2);
    if nnames_ok < nnames && !names.is_empty() {
        diags.push(alloc::format!("export name table: {} names declared, {} readable", nnames, nnames_ok));
    }
    let in_dir = |rva: u32| rva >= d.virtual_address && (rva - d.virtual_address) < d.size;
    let forwarder_of = |rva: u32| if in_dir(rva) { h.cstr_at_rva(rva, MAX_NAME).map(|s| s.to_vec()) } else { None };

    let mut entries = Vec::with_capacity(nnames_ok.min(nfun_ok.saturating_add(nnames_ok)));
    let mut named = alloc::vec![false; nfun_ok];
    for i in 0..nnames_ok {
        let (Some(nrva), Some(idx)) = (crate::read::u32_at(names, i * 4), crate::read::u16_at(ords, i * 2)) else { break };
        let idx = idx as usize;
        let Some(frva) = (if idx < nfun_ok { fun_rva(idx) } else { None }) else {
            diags.push(alloc::format!("export name {} has ordinal index {} outside the function table", i, idx));
            continue;
        };
        let Some(name) = h.cstr_at_rva(nrva, MAX_NAME) else {
            diags.push(alloc::format!("export name {} at RVA 0x{:x} is not readable", i, nrva));
            continue;
        };
        if let Some(n) = named.get_mut(idx) {
            *n = true;
        }
        entries.push(ExportEntry {
            name: Some(name.to_vec()),
            ordinal: base.wrapping_add(idx as u32),
            rva: frva,
            forwarder: forwarder_of(frva),
        });
    }
    for idx in 0..nfun_ok {
        if named.get(idx).copied().unwrap_or(true) {
            continue;
        }
        let Some(frva) = fun_rva(idx) else { break };
        if frva == 0 {
            continue;
        }
        entries.push(ExportEntry { name: None, ordinal: base.wrapping_add(idx as u32), rva: frva, forwarder: forwarder_of(frva) });
    }
    Some(Exports { dll_name, ordinal_base: base, time_date_stamp: r32(4), entries })
}
