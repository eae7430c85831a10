//! Debug directory (IMAGE_DEBUG_DIRECTORY) and the CodeView RSDS record that names the PDB.

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::{Headers, DIR_DEBUG};
use crate::read::{bytes, cstr, u16_at, u32_at};

/// IMAGE_DEBUG_TYPE_CODEVIEW: the entry that points at the RSDS record.
pub const IMAGE_DEBUG_TYPE_CODEVIEW: u32 = 2;

/// IMAGE_DEBUG_DIRECTORY.
pub struct DebugEntry {
    pub characteristics: u32,
    pub time_date_stamp: u32,
    pub ty: u32,
    pub size_of_data: u32,
    pub address_of_raw_data: u32,
    pub pointer_to_raw_data: u32,
}

/// The CodeView RSDS record: which PDB matches this build.
pub struct CodeView {
    pub guid: [u8; 16],
    pub age: u32,
    pub path: Vec<u8>,
}

/// Debug directory entries and the first CodeView RSDS record (NB10 and unreadable records are diagnostics).
pub fn parse_debug(h: &Headers, diags: &mut Vec<String>) -> (Vec<DebugEntry>, Option<CodeView>) {
    let mut entries = Vec::new();
    let mut cv = None;
    let d = h.dir(DIR_DEBUG);
    if d.virtual_address == 0 || d.size == 0 {
        return (entries, cv);
    }
    let Some(rest) = h.rest_at_rva(d.virtual_address) else {
        diags.push(alloc::format!("debug directory at RVA 0x{:x} is not readable", d.virtual_address));
        return (entries, cv);
    };
    let size = (d.size as usize).min(rest.len());
    for e in rest[..size].chunks_exact(28) {
        let r = |o: usize| u32_at(e, o).unwrap_or(0);
        let de = DebugEntry {
            characteristics: r(0),
            time_date_stamp: r(4),
            ty: r(12),
            size_of_data: r(16),
            address_of_raw_data: r(20),
            pointer_to_raw_data: r(24),
        };
        if de.ty == IMAGE_DEBUG_TYPE_CODEVIEW && cv.is_none() {
            // The record lives at PointerToRawData in the file; AddressOfRawData is its RVA
            // when it is mapped (it is 0 for records outside the image).
            let data = if de.pointer_to_raw_data != 0 {
                bytes(h.data, de.pointer_to_raw_data as usize, de.size_of_data as usize)
            } else {
                h.at_rva(de.address_of_raw_data, de.size_of_data as usize)
            };
            match data {
                Some(b) if b.len() >= 24 && b.starts_with(b"RSDS") => {
                    let mut guid = [0u8; 16];
                    if let Some(g) = bytes(b, 4, 16) {
                        guid.copy_from_slice(g);
                    }
                    let path = cstr(b, 24, b.len()).unwrap_or_else(|| b.get(24..).unwrap_or(&[]));
                    cv = Some(CodeView { guid, age: u32_at(b, 20).unwrap_or(0), path: path.to_vec() });
                }
                Some(b) if b.starts_with(b"NB10") => diags.push(String::from("CodeView NB10 record (old PDB 2.0) not decoded")),
                _ => diags.push(alloc::format!("CodeView record at file offset 0x{:x} is not readable", de.pointer_to_raw_data)),
            }
        }
        entries.push(de);
    }
    (entries, cv)
}

/// `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (upper case), the registry form of a GUID: the
/// first three fields are little-endian integers, the last eight bytes are in order.
pub fn guid_string(g: &[u8; 16]) -> String {
    let d1 = u32_at(g, 0).unwrap_or(0);
    let d2 = u16_at(g, 4).unwrap_or(0);
    let d3 = u16_at(g, 6).unwrap_or(0);
    let mut s = alloc::format!("{:08X}-{:04X}-{:04X}-", d1, d2, d3);
    for (i, b) in g.iter().enumerate().skip(8) {
        if i == 10 {
            s.push('-');
        }
        s.push_str(&alloc::format!("{:02X}", b));
    }
    s
}
