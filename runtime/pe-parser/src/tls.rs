//! TLS directory (IMAGE_TLS_DIRECTORY32/64) and its callback array.

use alloc::string::String;
use alloc::vec::Vec;

use crate::headers::{Headers, DIR_TLS};
use crate::read::{u32_at, u64_at};

/// IMAGE_TLS_DIRECTORY (VAs for the preferred ImageBase) and its callbacks.
pub struct Tls {
    pub start: u64,
    pub end: u64,
    pub index: u64,
    pub callbacks_va: u64,
    pub size_of_zero_fill: u32,
    pub characteristics: u32,
    pub callbacks: Vec<u64>,
}

/// The TLS directory and its callback array (up to the terminating zero).
pub fn parse_tls(h: &Headers, diags: &mut Vec<String>) -> Option<Tls> {
    let d = h.dir(DIR_TLS);
    if d.virtual_address == 0 {
        return None;
    }
    let ps = h.ptr_size();
    let Some(t) = h.at_rva(d.virtual_address, 4 * ps + 8) else {
        diags.push(alloc::format!("TLS directory at RVA 0x{:x} is not readable", d.virtual_address));
        return None;
    };
    let p = |i: usize| if ps == 8 { u64_at(t, i * 8).unwrap_or(0) } else { u32_at(t, i * 4).unwrap_or(0) as u64 };
    let mut tls = Tls {
        start: p(0),
        end: p(1),
        index: p(2),
        callbacks_va: p(3),
        size_of_zero_fill: u32_at(t, 4 * ps).unwrap_or(0),
        characteristics: u32_at(t, 4 * ps + 4).unwrap_or(0),
        callbacks: Vec::new(),
    };
    if tls.callbacks_va != 0 {
        match h.va_to_rva(tls.callbacks_va).and_then(|r| h.rest_at_rva(r)) {
            Some(arr) => {
                let mut terminated = false;
                for c in arr.chunks_exact(ps) {
                    let v = if ps == 8 { u64_at(c, 0).unwrap_or(0) } else { u32_at(c, 0).unwrap_or(0) as u64 };
                    if v == 0 {
                        terminated = true;
                        break;
                    }
                    tls.callbacks.push(v);
                }
                if !terminated {
                    diags.push(String::from("TLS callback array has no terminating zero"));
                }
            }
            None => diags.push(alloc::format!("TLS callback array at VA 0x{:x} is not readable", tls.callbacks_va)),
        }
    }
    Some(tls)
}
