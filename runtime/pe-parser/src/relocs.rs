//! Base relocations (IMAGE_BASE_RELOCATION blocks).

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::{Headers, DIR_BASERELOC};

/// IMAGE_REL_BASED_* relocation types.
pub const IMAGE_REL_BASED_ABSOLUTE: u8 = 0;
pub const IMAGE_REL_BASED_HIGH: u8 = 1;
pub const IMAGE_REL_BASED_LOW: u8 = 2;
pub const IMAGE_REL_BASED_HIGHLOW: u8 = 3;
pub const IMAGE_REL_BASED_DIR64: u8 = 10;

/// The base relocation directory.
pub struct Relocations {
    pub blocks: u32,
    /// (rva, type), ABSOLUTE padding left out.
    pub entries: Vec<(u32, u8)>,
    /// False when the directory was damaged (a diagnostic says how); mapping then refuses.
    pub complete: bool,
}

/// Every relocation block; a damaged block ends the list with a diagnostic and `complete = false`.
pub fn parse_relocations(h: &Headers, diags: &mut Vec<String>) -> Relocations {
    let mut r = Relocations { blocks: 0, entries: Vec::new(), complete: true };
    let d = h.dir(DIR_BASERELOC);
    if d.virtual_address == 0 || d.size == 0 {
        return r;
    }
    let Some(rest) = h.rest_at_rva(d.virtual_address) else {
        diags.push(alloc::format!("base relocation directory at RVA 0x{:x} is not readable", d.virtual_address));
        r.complete = false;
        return r;
    };
    let size = (d.size as usize).min(rest.len());
    if size < d.size as usize {
        diags.push(alloc::format!("base relocation directory: {} bytes declared, {} readable", d.size, size));
        r.complete = false;
    }
    let table = &rest[..size];
    let mut off = 0usize;
    while off + 8 <= table.len() {
        let page = crate::read::u32_at(table, off).unwrap_or(0);
        let block_size = crate::read::u32_at(table, off + 4).unwrap_or(0) as usize;
        if block_size < 8 || block_size % 2 != 0 {
            // A zero block is how some linkers pad the directory; anything else is damage.
            if !(page == 0 && block_size == 0) {
                diags.push(alloc::format!("base relocation block at +0x{:x}: bad SizeOfBlock {}", off, block_size));
                r.complete = false;
            }
            break;
        }
        let Some(end) = off.checked_add(block_size).filter(|&e| e <= table.len()) else {
            diags.push(alloc::format!("base relocation block at +0x{:x} runs past the directory", off));
            r.complete = false;
            break;
        };
        r.blocks += 1;
        let mut e = off + 8;
        while e + 2 <= end {
            let v = crate::read::u16_at(table, e).unwrap_or(0);
            let ty = (v >> 12) as u8;
            if ty != IMAGE_REL_BASED_ABSOLUTE {
                match page.checked_add((v & 0xfff) as u32) {
                    Some(rva) => r.entries.push((rva, ty)),
                    None => {
                        diags.push(alloc::format!("base relocation at page 0x{:x} overflows", page));
                        r.complete = false;
                    }
                }
            }
            e += 2;
        }
        off = end;
    }
    r
}
