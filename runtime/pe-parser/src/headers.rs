//! DOS header, NT headers (PE32 and PE32+), data directories and the section table, plus
//! RVA <-> file offset mapping. Anything wrong here makes the file unusable, so it is a
//! fatal `PeError`; everything after the headers is optional data (see lib.rs).

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{pe_err, PeError};
use crate::read::{bytes, u16_at, u32_at, u64_at};

/// winnt.h signatures, magics and sizes.
pub const IMAGE_DOS_SIGNATURE: u16 = 0x5a4d; // "MZ"
pub const IMAGE_NT_SIGNATURE: u32 = 0x0000_4550; // "PE\0\0"
pub const IMAGE_NT_OPTIONAL_HDR32_MAGIC: u16 = 0x10b;
pub const IMAGE_NT_OPTIONAL_HDR64_MAGIC: u16 = 0x20b;
pub const IMAGE_SIZEOF_FILE_HEADER: usize = 20;
pub const IMAGE_SIZEOF_SECTION_HEADER: usize = 40;
pub const IMAGE_NUMBEROF_DIRECTORY_ENTRIES: usize = 16;
/// Offset of the data directories inside IMAGE_OPTIONAL_HEADER32 / 64.
const DIRS_OFFSET_32: usize = 96;
const DIRS_OFFSET_64: usize = 112;

/// IMAGE_DIRECTORY_ENTRY_* indices used here.
pub const DIR_EXPORT: usize = 0;
pub const DIR_IMPORT: usize = 1;
pub const DIR_EXCEPTION: usize = 3;
pub const DIR_BASERELOC: usize = 5;
pub const DIR_DEBUG: usize = 6;
pub const DIR_TLS: usize = 9;
pub const DIR_LOAD_CONFIG: usize = 10;
pub const DIR_DELAY_IMPORT: usize = 13;

/// IMAGE_FILE_HEADER.
#[derive(Clone, Copy)]
pub struct FileHeader {
    pub machine: u16,
    pub number_of_sections: u16,
    pub time_date_stamp: u32,
    pub pointer_to_symbol_table: u32,
    pub number_of_symbols: u32,
    pub size_of_optional_header: u16,
    pub characteristics: u16,
}

/// The IMAGE_OPTIONAL_HEADER32/64 fields hotpatch uses.
#[derive(Clone, Copy)]
pub struct OptionalHeader {
    pub magic: u16,
    pub address_of_entry_point: u32,
    pub image_base: u64,
    pub section_alignment: u32,
    pub file_alignment: u32,
    pub size_of_image: u32,
    pub size_of_headers: u32,
    pub check_sum: u32,
    pub subsystem: u16,
    pub dll_characteristics: u16,
    pub number_of_rva_and_sizes: u32,
}

/// IMAGE_DATA_DIRECTORY.
#[derive(Clone, Copy, Default)]
pub struct DataDirectory {
    pub virtual_address: u32,
    pub size: u32,
}

/// IMAGE_SECTION_HEADER (name resolved later when it is a `/N` long name).
#[derive(Clone)]
pub struct SectionHeader {
    pub name: Vec<u8>,
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub size_of_raw_data: u32,
    pub pointer_to_raw_data: u32,
    pub characteristics: u32,
    /// Where the loader really reads the raw data: PointerToRawData rounded down to 0x200
    /// when FileAlignment is at least 0x200 (the sector size it assumes).
    pub raw_start: u32,
}

impl SectionHeader {
    /// Bytes the section spans in memory: VirtualSize, or SizeOfRawData when VirtualSize is 0
    /// (old linkers), as the loader does.
    pub fn mapped_size(&self) -> u32 {
        if self.virtual_size == 0 {
            self.size_of_raw_data
        } else {
            self.virtual_size
        }
    }
    /// Bytes of the section that come from the file (the rest of its memory is zero).
    pub fn file_backed_size(&self) -> u32 {
        self.size_of_raw_data.min(self.mapped_size())
    }
}

/// The parsed headers and everything needed to resolve RVAs.
pub struct Headers<'a> {
    pub data: &'a [u8],
    pub is64: bool,
    pub nt_offset: usize,
    pub file_header: FileHeader,
    pub optional: OptionalHeader,
    pub directories: Vec<DataDirectory>,
    pub sections: Vec<SectionHeader>,
    pub section_table_offset: usize,
    pub diagnostics: Vec<String>,
    /// Indices of the non-empty sections by VirtualAddress, for binary search.
    by_va: Vec<usize>,
    /// True when no two sections overlap in memory (every linked file): lookups can then
    /// binary-search `by_va`; otherwise they scan in table order (first match wins).
    pub disjoint: bool,
    /// Lowest section RVA (the headers end below it).
    first_va: u32,
}

/// DOS header, NT headers, data directories and section table; any damage here is a fatal PeError with its file offset.
pub fn parse_headers(data: &[u8]) -> Result<Headers<'_>, PeError> {
    let mut diagnostics = Vec::new();
    if data.len() < 64 {
        return Err(pe_err!("PE_TRUNCATED", 0, "file is {} bytes, shorter than a DOS header (64)", data.len()));
    }
    if u16_at(data, 0) != Some(IMAGE_DOS_SIGNATURE) {
        return Err(pe_err!("PE_BAD_DOS_MAGIC", 0, "no MZ signature: not a PE file"));
    }
    let e_lfanew = u32_at(data, 0x3c).unwrap_or(0) as usize;
    let sig = u32_at(data, e_lfanew).ok_or_else(|| {
        pe_err!("PE_TRUNCATED", 0x3c, "e_lfanew 0x{:x} points past the end of the file ({} bytes)", e_lfanew, data.len())
    })?;
    if sig != IMAGE_NT_SIGNATURE {
        return Err(pe_err!("PE_BAD_NT_SIGNATURE", e_lfanew, "no PE\\0\\0 signature at e_lfanew 0x{:x}", e_lfanew));
    }
    let fh_off = e_lfanew + 4;
    let fh = bytes(data, fh_off, IMAGE_SIZEOF_FILE_HEADER)
        .ok_or_else(|| pe_err!("PE_TRUNCATED", fh_off, "file ends inside IMAGE_FILE_HEADER"))?;
    let file_header = FileHeader {
        machine: u16_at(fh, 0).unwrap_or(0),
        number_of_sections: u16_at(fh, 2).unwrap_or(0),
        time_date_stamp: u32_at(fh, 4).unwrap_or(0),
        pointer_to_symbol_table: u32_at(fh, 8).unwrap_or(0),
        number_of_symbols: u32_at(fh, 12).unwrap_or(0),
        size_of_optional_header: u16_at(fh, 16).unwrap_or(0),
        characteristics: u16_at(fh, 18).unwrap_or(0),
    };
    let oh_off = fh_off + IMAGE_SIZEOF_FILE_HEADER;
    let soh = file_header.size_of_optional_header as usize;
    let magic = u16_at(data, oh_off)
        .ok_or_else(|| pe_err!("PE_TRUNCATED", oh_off, "file ends before the optional header"))?;
    let is64 = match magic {
        IMAGE_NT_OPTIONAL_HDR32_MAGIC => false,
        IMAGE_NT_OPTIONAL_HDR64_MAGIC => true,
        m => return Err(pe_err!("PE_BAD_OPTIONAL_MAGIC", oh_off, "optional header magic 0x{:x} is neither 0x10b (PE32) nor 0x20b (PE32+)", m)),
    };
    let dirs_off = if is64 { DIRS_OFFSET_64 } else { DIRS_OFFSET_32 };
    if soh < dirs_off {
        return Err(pe_err!("PE_BAD_OPTIONAL_HEADER", fh_off + 16, "SizeOfOptionalHeader {} is smaller than the fixed part ({})", soh, dirs_off));
    }
    let oh = bytes(data, oh_off, dirs_off)
        .ok_or_else(|| pe_err!("PE_TRUNCATED", oh_off, "file ends inside the optional header"))?;
    let r32 = |o: usize| u32_at(oh, o).unwrap_or(0);
    let r16 = |o: usize| u16_at(oh, o).unwrap_or(0);
    let optional = OptionalHeader {
        magic,
        address_of_entry_point: r32(16),
        image_base: if is64 { u64_at(oh, 24).unwrap_or(0) } else { r32(28) as u64 },
        section_alignment: r32(32),
        file_alignment: r32(36),
        size_of_image: r32(56),
        size_of_headers: r32(60),
        check_sum: r32(64),
        subsystem: r16(68),
        dll_characteristics: r16(70),
        number_of_rva_and_sizes: r32(if is64 { 108 } else { 92 }),
    };
    if optional.number_of_rva_and_sizes as usize > IMAGE_NUMBEROF_DIRECTORY_ENTRIES {
        diagnostics.push(alloc::format!(
            "NumberOfRvaAndSizes is {}; only the first 16 directories are read",
            optional.number_of_rva_and_sizes
        ));
    }
    if optional.section_alignment == 0 || optional.file_alignment == 0 {
        diagnostics.push(alloc::format!(
            "SectionAlignment 0x{:x} / FileAlignment 0x{:x}: zero alignment",
            optional.section_alignment, optional.file_alignment
        ));
    }
    // Directories: as many as NumberOfRvaAndSizes says, capped at 16 and at what fits in
    // SizeOfOptionalHeader; missing ones are zero (the loader treats them as absent).
    let room = (soh - dirs_off) / 8;
    let ndirs = (optional.number_of_rva_and_sizes as usize).min(IMAGE_NUMBEROF_DIRECTORY_ENTRIES).min(room);
    let mut directories = alloc::vec![DataDirectory::default(); IMAGE_NUMBEROF_DIRECTORY_ENTRIES];
    for (i, d) in directories.iter_mut().enumerate().take(ndirs) {
        let o = oh_off + dirs_off + i * 8;
        match (u32_at(data, o), u32_at(data, o + 4)) {
            (Some(va), Some(size)) => *d = DataDirectory { virtual_address: va, size },
            _ => return Err(pe_err!("PE_TRUNCATED", o, "file ends inside the data directories")),
        }
    }
    let section_table_offset = oh_off
        .checked_add(soh)
        .ok_or_else(|| pe_err!("PE_BAD_OPTIONAL_HEADER", fh_off + 16, "SizeOfOptionalHeader overflows"))?;
    let nsec = file_header.number_of_sections as usize;
    let table = bytes(data, section_table_offset, nsec * IMAGE_SIZEOF_SECTION_HEADER).ok_or_else(|| {
        pe_err!("PE_TRUNCATED", section_table_offset, "file ends inside the section table ({} sections)", nsec)
    })?;
    let mut sections = Vec::with_capacity(nsec);
    for (i, s) in table.chunks_exact(IMAGE_SIZEOF_SECTION_HEADER).enumerate() {
        let mut raw_name = [0u8; 8];
        if let Some(n) = bytes(s, 0, 8) {
            raw_name.copy_from_slice(n);
        }
        let name_len = raw_name.iter().position(|&b| b == 0).unwrap_or(8);
        let pointer_to_raw_data = u32_at(s, 20).unwrap_or(0);
        let sh = SectionHeader {
            name: raw_name[..name_len].to_vec(),
            virtual_size: u32_at(s, 8).unwrap_or(0),
            virtual_address: u32_at(s, 12).unwrap_or(0),
            size_of_raw_data: u32_at(s, 16).unwrap_or(0),
            pointer_to_raw_data,
            characteristics: u32_at(s, 36).unwrap_or(0),
            raw_start: if optional.file_alignment >= 0x200 { pointer_to_raw_data & !0x1ff } else { pointer_to_raw_data },
        };
        let at = section_table_offset + i * IMAGE_SIZEOF_SECTION_HEADER;
        if sh.virtual_address.checked_add(sh.mapped_size()).is_none() {
            return Err(pe_err!("PE_BAD_SECTION", at, "section {} spans past 4 GiB (VirtualAddress 0x{:x} + size 0x{:x})", i + 1, sh.virtual_address, sh.mapped_size()));
        }
        if sh.size_of_raw_data != 0 {
            let end = (sh.raw_start as u64) + (sh.size_of_raw_data as u64);
            if end > data.len() as u64 {
                return Err(pe_err!(
                    "PE_BAD_SECTION",
                    at,
                    "section {} raw data 0x{:x}..0x{:x} extends past the end of the file (0x{:x} bytes)",
                    i + 1, sh.raw_start, end, data.len()
                ));
            }
        }
        sections.push(sh);
    }
    let mut by_va: Vec<usize> = (0..sections.len()).filter(|&i| sections.get(i).is_some_and(|s| s.mapped_size() > 0)).collect();
    by_va.sort_by_key(|&i| sections.get(i).map_or(0, |s| s.virtual_address));
    let disjoint = by_va.windows(2).all(|w| match (sections.get(w[0]), sections.get(w[1])) {
        (Some(a), Some(b)) => a.virtual_address as u64 + a.mapped_size() as u64 <= b.virtual_address as u64,
        _ => true,
    });
    // The loader refuses overlapping sections; beyond its 96-section limit they would also
    // make every RVA lookup a long scan, so that combination is an error here.
    if !disjoint && nsec > 96 {
        return Err(pe_err!("PE_BAD_SECTION", section_table_offset, "{} sections, some overlapping in memory", nsec));
    }
    check_image_budget(&optional, &sections, data.len(), nt_offset_size_of_image(e_lfanew), section_table_offset)?;
    let first_va = sections.iter().map(|s| s.virtual_address).min().unwrap_or(u32::MAX);
    Ok(Headers {
        data,
        is64,
        nt_offset: e_lfanew,
        file_header,
        optional,
        directories,
        sections,
        section_table_offset,
        diagnostics,
        by_va,
        disjoint,
        first_va,
    })
}

/// Most zero fill (memory past each section's raw data, i.e. .bss) a file may ask for in
/// total. Every mapper allocates and zeroes it, so without a bound a few hundred bytes of
/// headers could ask for a gigabyte; 256 MiB is far above what real programs declare.
pub const MAX_ZERO_FILL: u64 = 256 << 20;

fn nt_offset_size_of_image(e_lfanew: usize) -> usize {
    e_lfanew + 4 + IMAGE_SIZEOF_FILE_HEADER + 56
}

/// SizeOfImage must be justified by the file, because every consumer (the wasm mapper, the
/// compiler, the runtime) allocates and zeroes it before looking further:
/// - at most the end of the last section (or the headers) rounded up to the section alignment
///   (the page size when that is odd);
/// - the sections' zero fill (memory past their raw data) at most MAX_ZERO_FILL;
/// - the sections map at most as many file bytes as the file holds (raw ranges shared by
///   several sections would let a small file justify a large image);
/// - the memory not backed by the file (zero fill, gaps between sections, unbacked headers) at
///   most MAX_ZERO_FILL: otherwise one section placed near 1 GiB justifies a 1 GiB image.
fn check_image_budget(o: &OptionalHeader, sections: &[SectionHeader], file_len: usize, size_at: usize, table_at: usize) -> Result<(), PeError> {
    let sa = o.section_alignment as u64;
    let align = if sa.is_power_of_two() && sa <= 0x20_0000 { sa.max(0x1000) } else { 0x1000 };
    let mut end = o.size_of_headers as u64;
    let mut zero_fill = 0u64;
    for s in sections {
        end = end.max(s.virtual_address as u64 + s.mapped_size() as u64);
        zero_fill += (s.mapped_size() - s.file_backed_size()) as u64;
    }
    let limit = (end + align - 1) & !(align - 1);
    if o.size_of_image as u64 > limit {
        return Err(pe_err!(
            "PE_SIZE_OF_IMAGE",
            size_at,
            "SizeOfImage 0x{:x} is more than the sections and headers need (0x{:x}, rounded up to 0x{:x})",
            o.size_of_image, end, limit
        ));
    }
    if zero_fill > MAX_ZERO_FILL {
        return Err(pe_err!(
            "PE_SECTION_SIZE",
            table_at,
            "the sections ask for 0x{:x} bytes of zero fill beyond their raw data, over the 0x{:x} limit",
            zero_fill, MAX_ZERO_FILL
        ));
    }
    let file_backed: u64 = sections.iter().map(|s| s.file_backed_size() as u64).sum();
    if file_backed > file_len as u64 {
        return Err(pe_err!(
            "PE_SECTION_SIZE",
            table_at,
            "the sections map 0x{:x} bytes of file data, more than the file's 0x{:x} (raw data shared between sections)",
            file_backed, file_len
        ));
    }
    let backed = file_backed + (o.size_of_headers as u64).min(file_len as u64);
    let unbacked = (o.size_of_image as u64).saturating_sub(backed);
    if unbacked > MAX_ZERO_FILL {
        return Err(pe_err!(
            "PE_SIZE_OF_IMAGE",
            size_at,
            "SizeOfImage 0x{:x} leaves 0x{:x} bytes not backed by the file (gaps between sections and zero fill), over the 0x{:x} limit",
            o.size_of_image, unbacked, MAX_ZERO_FILL
        ));
    }
    Ok(())
}

impl<'a> Headers<'a> {
    /// The section whose memory range holds `rva`.
    pub fn section_of_rva(&self, rva: u32) -> Option<&SectionHeader> {
        let contains = |s: &SectionHeader| rva >= s.virtual_address && (rva - s.virtual_address) < s.mapped_size();
        if !self.disjoint {
            return self.sections.iter().find(|s| contains(s));
        }
        // Last section starting at or below `rva`.
        let n = self.by_va.partition_point(|&i| self.sections.get(i).is_some_and(|s| s.virtual_address <= rva));
        let s = self.sections.get(*self.by_va.get(n.checked_sub(1)?)?)?;
        if contains(s) { Some(s) } else { None }
    }

    /// File offset of `rva`, when it lies in the headers or in the file-backed part of a section.
    pub fn rva_to_offset(&self, rva: u32) -> Option<usize> {
        if let Some(s) = self.section_of_rva(rva) {
            let delta = rva - s.virtual_address;
            if delta < s.file_backed_size() {
                return (s.raw_start as usize).checked_add(delta as usize);
            }
            return None;
        }
        // Below the first section the image is the headers, mapped 1:1.
        if rva < self.first_va && (rva as usize) < self.data.len() && rva < self.optional.size_of_headers {
            return Some(rva as usize);
        }
        None
    }

    /// The file bytes that back `[rva, rva+len)`, when all of them lie in one region.
    pub fn at_rva(&self, rva: u32, len: usize) -> Option<&'a [u8]> {
        let off = self.rva_to_offset(rva)?;
        let avail = self.avail_at_rva(rva)?;
        if len > avail {
            return None;
        }
        bytes(self.data, off, len)
    }

    /// Every file-backed byte from `rva` to the end of its region (section or headers).
    pub fn rest_at_rva(&self, rva: u32) -> Option<&'a [u8]> {
        let off = self.rva_to_offset(rva)?;
        let avail = self.avail_at_rva(rva)?;
        let end = off.checked_add(avail)?.min(self.data.len());
        self.data.get(off..end)
    }

    fn avail_at_rva(&self, rva: u32) -> Option<usize> {
        if let Some(s) = self.section_of_rva(rva) {
            return Some((s.file_backed_size() - (rva - s.virtual_address)) as usize);
        }
        let limit = (self.optional.size_of_headers as usize).min(self.data.len());
        limit.checked_sub(rva as usize)
    }

    /// u32 at `rva` when file-backed.
    pub fn u32_at_rva(&self, rva: u32) -> Option<u32> {
        u32_at(self.at_rva(rva, 4)?, 0)
    }
    /// u16 at `rva` when file-backed.
    pub fn u16_at_rva(&self, rva: u32) -> Option<u16> {
        u16_at(self.at_rva(rva, 2)?, 0)
    }
    /// A NUL-terminated string at `rva` (at most `max` bytes).
    pub fn cstr_at_rva(&self, rva: u32, max: usize) -> Option<&'a [u8]> {
        crate::read::cstr(self.rest_at_rva(rva)?, 0, max)
    }

    /// RVA of a VA that the file stores for its preferred ImageBase.
    pub fn va_to_rva(&self, va: u64) -> Option<u32> {
        let r = va.checked_sub(self.optional.image_base)?;
        u32::try_from(r).ok()
    }

    /// Data directory `i` (zero when absent).
    pub fn dir(&self, i: usize) -> DataDirectory {
        self.directories.get(i).copied().unwrap_or_default()
    }

    /// Pointer size of the image: 8 for PE32+, 4 for PE32.
    pub fn ptr_size(&self) -> usize {
        if self.is64 { 8 } else { 4 }
    }
}
