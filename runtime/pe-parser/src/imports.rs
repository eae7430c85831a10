//! Import directory (IMAGE_IMPORT_DESCRIPTOR) and delay-load import directory
//! (ImgDelayDescr, both the RVA-based form and the old VA-based one).

use alloc::string::String;
use alloc::vec::Vec;

use crate::exports::MAX_NAME;
use crate::headers::{Headers, DIR_DELAY_IMPORT, DIR_IMPORT};

/// One imported symbol and the IAT slot the loader fills for it.
pub struct ImportSymbol {
    pub name: Option<Vec<u8>>,
    pub ordinal: Option<u16>,
    pub hint: Option<u16>,
    pub iat_rva: u32,
}

/// One import descriptor (normal or delay-load) and its symbols.
pub struct ImportDll {
    pub dll: Vec<u8>,
    pub delayed: bool,
    pub symbols: Vec<ImportSymbol>,
}

/// Shared cap on the symbols listed over all descriptors: thunk arrays can be shared, so
/// without it N descriptors over one long array would list N x M symbols from a small file.
pub struct Budget(pub usize);

/// The import directory, then the delay-load import directory, in directory order; each stops with a diagnostic at the first unreadable descriptor.
pub fn parse_imports(h: &Headers, diags: &mut Vec<String>, budget: &mut Budget) -> Vec<ImportDll> {
    let mut out = Vec::new();
    let d = h.dir(DIR_IMPORT);
    if d.virtual_address != 0 {
        match h.rest_at_rva(d.virtual_address) {
            None => diags.push(alloc::format!("import directory at RVA 0x{:x} is not readable", d.virtual_address)),
            Some(table) => {
                let mut terminated = false;
                for desc in table.chunks_exact(20) {
                    let r = |o: usize| crate::read::u32_at(desc, o).unwrap_or(0);
                    let (oft, name_rva, ft) = (r(0), r(12), r(16));
                    if desc.iter().all(|&b| b == 0) || (name_rva == 0 && ft == 0) {
                        terminated = true;
                        break;
                    }
                    let Some(dll) = h.cstr_at_rva(name_rva, MAX_NAME) else {
                        diags.push(alloc::format!("import descriptor: DLL name at RVA 0x{:x} is not readable; stopping", name_rva));
                        terminated = true;
                        break;
                    };
                    let lookup = if oft != 0 { oft } else { ft };
                    let symbols = read_thunks(h, lookup, ft, dll, diags, budget);
                    out.push(ImportDll { dll: dll.to_vec(), delayed: false, symbols });
                }
                if !terminated {
                    diags.push(String::from("import directory: no terminating null descriptor"));
                }
            }
        }
    }
    let d = h.dir(DIR_DELAY_IMPORT);
    if d.virtual_address != 0 {
        match h.rest_at_rva(d.virtual_address) {
            None => diags.push(alloc::format!("delay import directory at RVA 0x{:x} is not readable", d.virtual_address)),
            Some(table) => {
                for desc in table.chunks_exact(32) {
                    let r = |o: usize| crate::read::u32_at(desc, o).unwrap_or(0);
                    if desc.iter().all(|&b| b == 0) {
                        break;
                    }
                    let attrs = r(0);
                    // dlattrRva (bit 0) clear in a PE32 file: the fields (and the hint/name
                    // pointers in the INT) are VAs for the preferred ImageBase, as Visual C++
                    // before 7.0 wrote them; convert them to RVAs. No 64-bit toolchain ever
                    // wrote that form, so PE32+ descriptors are always read as RVAs.
                    let va_based = attrs & 1 == 0 && !h.is64;
                    let fix = |v: u32| -> Option<u32> {
                        if v == 0 || !va_based { Some(v) } else { h.va_to_rva(v as u64) }
                    };
                    let (Some(name_rva), Some(iat), Some(int)) = (fix(r(4)), fix(r(12)), fix(r(16))) else {
                        diags.push(String::from("delay import descriptor: VA below ImageBase; stopping"));
                        break;
                    };
                    if name_rva == 0 {
                        break;
                    }
                    let Some(dll) = h.cstr_at_rva(name_rva, MAX_NAME) else {
                        diags.push(alloc::format!("delay import descriptor: DLL name at RVA 0x{:x} is not readable; stopping", name_rva));
                        break;
                    };
                    let lookup = if int != 0 { int } else { iat };
                    let symbols = read_thunks_delay(h, lookup, iat, va_based, dll, diags, budget);
                    out.push(ImportDll { dll: dll.to_vec(), delayed: true, symbols });
                }
            }
        }
    }
    out
}

fn read_thunks(h: &Headers, lookup: u32, iat: u32, dll: &[u8], diags: &mut Vec<String>, budget: &mut Budget) -> Vec<ImportSymbol> {
    read_thunks_delay(h, lookup, iat, false, dll, diags, budget)
}

/// Walks a lookup table (ILT/INT, or the IAT itself when there is none) up to its zero
/// entry. `va_names`: old delay-load descriptors store hint/name pointers as VAs.
fn read_thunks_delay(
    h: &Headers,
    lookup: u32,
    iat: u32,
    va_names: bool,
    dll: &[u8],
    diags: &mut Vec<String>,
    budget: &mut Budget,
) -> Vec<ImportSymbol> {
    let mut syms = Vec::new();
    let ps = h.ptr_size();
    let Some(table) = h.rest_at_rva(lookup) else {
        diags.push(alloc::format!("imports of {}: lookup table at RVA 0x{:x} is not readable", String::from_utf8_lossy(dll), lookup));
        return syms;
    };
    let ord_flag: u64 = if ps == 8 { 1 << 63 } else { 1 << 31 };
    let mut terminated = false;
    for (i, t) in table.chunks_exact(ps).enumerate() {
        let v = if ps == 8 { crate::read::u64_at(t, 0).unwrap_or(0) } else { crate::read::u32_at(t, 0).unwrap_or(0) as u64 };
        if v == 0 {
            terminated = true;
            break;
        }
        if budget.0 == 0 {
            diags.push(String::from("imports: more symbols than the file can hold; listing cut"));
            break;
        }
        budget.0 -= 1;
        let Some(iat_rva) = (i as u32).checked_mul(ps as u32).and_then(|o| iat.checked_add(o)) else { break };
        if v & ord_flag != 0 {
            syms.push(ImportSymbol { name: None, ordinal: Some((v & 0xffff) as u16), hint: None, iat_rva });
            continue;
        }
        let hn = if va_names { h.va_to_rva(v) } else { u32::try_from(v & 0x7fff_ffff).ok() };
        let named = hn.and_then(|hn| Some((h.u16_at_rva(hn)?, h.cstr_at_rva(hn.checked_add(2)?, MAX_NAME)?)));
        match named {
            Some((hint, name)) => syms.push(ImportSymbol { name: Some(name.to_vec()), ordinal: None, hint: Some(hint), iat_rva }),
            None => {
                diags.push(alloc::format!(
                    "imports of {}: hint/name 0x{:x} is not readable; stopping",
                    String::from_utf8_lossy(dll),
                    v
                ));
                terminated = true;
                break;
            }
        }
    }
    if !terminated && budget.0 > 0 {
        diags.push(alloc::format!("imports of {}: lookup table has no terminating zero", String::from_utf8_lossy(dll)));
    }
    syms
}
