//! COFF symbol table (IMAGE_SYMBOL records) and the string table after it, which also
//! holds long section names (`/N`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::Headers;
use crate::read::{bytes, cstr, u16_at, u32_at, u8_at};

/// Size of an IMAGE_SYMBOL record.
pub const IMAGE_SIZEOF_SYMBOL: usize = 18;

/// IMAGE_SYMBOL (aux records are skipped; `number_of_aux_symbols` says how many).
pub struct Symbol {
    pub index: u32,
    pub name: Vec<u8>,
    pub value: u32,
    pub section_number: i16,
    pub ty: u16,
    pub storage_class: u8,
    pub number_of_aux_symbols: u8,
}

/// The COFF symbol table and its string table.
pub struct SymbolTable<'a> {
    pub symbols: Vec<Symbol>,
    /// The string table including its 4-byte size field (offsets count from its start).
    pub strings: Option<&'a [u8]>,
}

impl<'a> SymbolTable<'a> {
    /// The NUL-terminated string at `off` in the string table (offsets below 4 are the size field).
    pub fn string_at(&self, off: u32) -> Option<&'a [u8]> {
        let st = self.strings?;
        if off < 4 {
            return None;
        }
        cstr(st, off as usize, st.len())
    }
}

/// The symbol table at PointerToSymbolTable, capped by the file size, and the string table after it.
pub fn parse_symbols<'a>(h: &Headers<'a>, diags: &mut Vec<String>) -> SymbolTable<'a> {
    let mut t = SymbolTable { symbols: Vec::new(), strings: None };
    let ptr = h.file_header.pointer_to_symbol_table as usize;
    let n = h.file_header.number_of_symbols as usize;
    if ptr == 0 {
        return t;
    }
    let Some(avail) = h.data.len().checked_sub(ptr) else {
        diags.push(alloc::format!("COFF symbol table at 0x{:x} is past the end of the file", ptr));
        return t;
    };
    let n_ok = n.min(avail / IMAGE_SIZEOF_SYMBOL);
    if n_ok < n {
        diags.push(alloc::format!("COFF symbol table: {} symbols declared, {} readable", n, n_ok));
    }
    let st_off = ptr + n_ok * IMAGE_SIZEOF_SYMBOL;
    if n_ok == n {
        if let Some(st_size) = u32_at(h.data, st_off) {
            let size = (st_size as usize).min(h.data.len() - st_off);
            if size < st_size as usize {
                diags.push(alloc::format!("COFF string table: {} bytes declared, {} readable", st_size, size));
            }
            t.strings = bytes(h.data, st_off, size);
        }
    }
    let table = bytes(h.data, ptr, n_ok * IMAGE_SIZEOF_SYMBOL).unwrap_or(&[]);
    let mut i = 0usize;
    while i < n_ok {
        let Some(s) = bytes(table, i * IMAGE_SIZEOF_SYMBOL, IMAGE_SIZEOF_SYMBOL) else { break };
        let short = bytes(s, 0, 8).unwrap_or(&[]);
        let name = if u32_at(s, 0) == Some(0) {
            let off = u32_at(s, 4).unwrap_or(0);
            t.string_at(off).map(|n| n.to_vec()).unwrap_or_default()
        } else {
            let len = short.iter().position(|&b| b == 0).unwrap_or(8);
            short.get(..len).unwrap_or(&[]).to_vec()
        };
        let aux = u8_at(s, 17).unwrap_or(0);
        t.symbols.push(Symbol {
            index: i as u32,
            name,
            value: u32_at(s, 8).unwrap_or(0),
            section_number: u16_at(s, 12).unwrap_or(0) as i16,
            ty: u16_at(s, 14).unwrap_or(0),
            storage_class: u8_at(s, 16).unwrap_or(0),
            number_of_aux_symbols: aux,
        });
        i += 1 + aux as usize;
    }
    t
}

/// Resolves a `/N` section name through the string table (N decimal).
pub fn resolve_section_name(raw: &[u8], st: &SymbolTable) -> Option<Vec<u8>> {
    let digits = raw.strip_prefix(b"/")?;
    let mut off: u32 = 0;
    for &d in digits.iter().take_while(|&&d| d != 0) {
        if !d.is_ascii_digit() {
            return None;
        }
        off = off.checked_mul(10)?.checked_add((d - b'0') as u32)?;
    }
    st.string_at(off).map(|s| s.to_vec())
}
