//! Maps a PE file as the Windows loader does: a SizeOfImage buffer holding the headers and
//! each section at its RVA (tails beyond the raw data zero-filled), with base relocations
//! applied for the chosen base and OptionalHeader.ImageBase updated to it (the loader
//! rewrites it too). Imports are not bound here: that needs the process.
//!
//! Two modes share the layout:
//! - `map_image` (strict, the runtime's): refuses what the loader refuses, rebases.
//! - `map_image_lenient` (the compiler's): the file's bytes at its own ImageBase, for
//!   reading two builds rather than running one. It accepts overlapping sections (laid in
//!   section-table order, a later section's bytes winning), which `parse` accepts too, and
//!   never reads or applies base relocations. Every other refusal is the strict one.

use alloc::vec::Vec;

use crate::error::{pe_err, PeError};
use crate::headers::Headers;
use crate::relocs::{self, Relocations};

/// Largest image mapped (SizeOfImage is a file value; this keeps a hostile header from
/// asking wasm for gigabytes).
pub const MAX_IMAGE: u32 = 1 << 30;

/// The SizeOfImage buffer for `base`; refuses what the loader would refuse (see module docs).
pub fn map_image(h: &Headers, relocs: &Relocations, base: u64) -> Result<Vec<u8>, PeError> {
    let mut img = lay_out(h, true)?;
    if base != h.optional.image_base {
        rebase(h, relocs, base, &mut img)?;
    }
    Ok(img)
}

/// The SizeOfImage buffer at the file's own ImageBase, overlapping sections accepted (see
/// module docs): what the compiler reads.
pub fn map_image_lenient(h: &Headers) -> Result<Vec<u8>, PeError> {
    lay_out(h, false)
}

/// Headers and sections at their RVAs. `loader`: refuse overlapping sections as the loader does.
fn lay_out(h: &Headers, loader: bool) -> Result<Vec<u8>, PeError> {
    let size = h.optional.size_of_image;
    let size_at = h.nt_offset + 4 + 20 + 56;
    if size > MAX_IMAGE {
        return Err(pe_err!("PE_IMAGE_TOO_LARGE", size_at, "SizeOfImage 0x{:x} is over the 1 GiB mapping limit", size));
    }
    if loader && !h.disjoint {
        // The loader refuses these too; mapping them would also let a few hundred bytes of
        // headers ask for the same large copy over and over.
        return Err(pe_err!("PE_BAD_SECTION", h.section_table_offset, "sections overlap in memory"));
    }
    // Every refusal before the allocation: a section that lies past SizeOfImage or outside
    // the file must cost nothing (a hostile header could otherwise have us zero 1 GiB first).
    for (i, s) in h.sections.iter().enumerate() {
        let at = h.section_table_offset + i * 40;
        let end = s.virtual_address as u64 + s.mapped_size() as u64;
        if end > size as u64 {
            return Err(pe_err!("PE_BAD_SECTION", at, "section {} ends at RVA 0x{:x}, past SizeOfImage 0x{:x}", i + 1, end, size));
        }
        if crate::read::bytes(h.data, s.raw_start as usize, s.file_backed_size() as usize).is_none() {
            return Err(pe_err!("PE_BAD_SECTION", at, "section {} raw data is outside the file", i + 1));
        }
    }
    let hdr_len = (h.optional.size_of_headers as usize).min(h.data.len()).min(size as usize);
    let mut img: Vec<u8> = Vec::new();
    if img.try_reserve_exact(size as usize).is_err() {
        return Err(pe_err!("PE_IMAGE_TOO_LARGE", size_at, "cannot allocate SizeOfImage 0x{:x}", size));
    }
    img.resize(size as usize, 0);
    img[..hdr_len].copy_from_slice(&h.data[..hdr_len]);
    for s in &h.sections {
        // Both bounds were checked above.
        let va = s.virtual_address as usize;
        let n = s.file_backed_size() as usize;
        if let (Some(src), Some(dst)) = (crate::read::bytes(h.data, s.raw_start as usize, n), img.get_mut(va..va + n)) {
            dst.copy_from_slice(src);
        }
    }
    Ok(img)
}

/// Applies the base relocations for `base` and writes it into the mapped OptionalHeader.
fn rebase(h: &Headers, relocs: &Relocations, base: u64, img: &mut [u8]) -> Result<(), PeError> {
    if h.file_header.characteristics & 1 != 0 {
        return Err(pe_err!("PE_RELOCS_STRIPPED", h.nt_offset + 22, "IMAGE_FILE_RELOCS_STRIPPED: the image can only load at 0x{:x}", h.optional.image_base));
    }
    if !relocs.complete {
        return Err(pe_err!("PE_BAD_RELOCATION", h.nt_offset, "the base relocation directory is damaged; the image cannot be rebased"));
    }
    let delta = base.wrapping_sub(h.optional.image_base);
    for &(rva, ty) in &relocs.entries {
        let o = rva as usize;
        let width = match ty {
            relocs::IMAGE_REL_BASED_DIR64 => 8,
            relocs::IMAGE_REL_BASED_HIGHLOW => 4,
            relocs::IMAGE_REL_BASED_HIGH | relocs::IMAGE_REL_BASED_LOW => 2,
            _ => return Err(pe_err!("PE_BAD_RELOCATION", rva, "base relocation type {} at RVA 0x{:x} is not supported", ty, rva)),
        };
        let Some(slot) = o.checked_add(width).and_then(|e| img.get_mut(o..e)) else {
            return Err(pe_err!("PE_BAD_RELOCATION", rva, "base relocation at RVA 0x{:x} is outside the image", rva));
        };
        match ty {
            relocs::IMAGE_REL_BASED_DIR64 => {
                let v = u64::from_le_bytes(slot.try_into().unwrap_or([0; 8])).wrapping_add(delta);
                slot.copy_from_slice(&v.to_le_bytes());
            }
            relocs::IMAGE_REL_BASED_HIGHLOW => {
                let v = u32::from_le_bytes(slot.try_into().unwrap_or([0; 4])).wrapping_add(delta as u32);
                slot.copy_from_slice(&v.to_le_bytes());
            }
            relocs::IMAGE_REL_BASED_HIGH => {
                let v = u16::from_le_bytes(slot.try_into().unwrap_or([0; 2])).wrapping_add((delta >> 16) as u16);
                slot.copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                let v = u16::from_le_bytes(slot.try_into().unwrap_or([0; 2])).wrapping_add(delta as u16);
                slot.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    // OptionalHeader.ImageBase in the mapped headers, as the loader leaves it.
    let ib = h.nt_offset + 4 + 20 + if h.is64 { 24 } else { 28 };
    let w = if h.is64 { 8 } else { 4 };
    if let Some(slot) = img.get_mut(ib..ib + w) {
        slot.copy_from_slice(&base.to_le_bytes()[..w]);
    }
    Ok(())
}
