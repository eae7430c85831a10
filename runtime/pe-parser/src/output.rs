//! Runs every parser over a file and writes the PeFile JSON the TypeScript binding reads
//! (runtime/pe/types.ts has the shape; 64-bit values are "0x..." strings; the big tables,
//! relocations, .pdata and symbols, are positional arrays that the binding expands).

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::PeError;
use crate::exception::RuntimeFunction;
use crate::json::Json;

/// `{"code","message","offset"?}`.
pub fn write_error(j: &mut Json, e: &PeError) {
    j.begin_obj();
    j.key("code");
    j.str(e.code);
    j.key("message");
    j.str(&e.message);
    if let Some(o) = e.offset {
        j.key("offset");
        j.num(o);
    }
    j.end_obj();
}

fn opt_bytes(j: &mut Json, v: &Option<Vec<u8>>) {
    match v {
        Some(b) => j.str_bytes(b),
        None => j.null(),
    }
}

/// Parts of the file a caller can ask for (`pe_parse_parts`); headers, sections and data
/// directories are always read. Parts left out come back empty (or null).
pub const PART_EXPORTS: u32 = 1;
pub const PART_IMPORTS: u32 = 2;
pub const PART_RELOCATIONS: u32 = 4;
pub const PART_EXCEPTIONS: u32 = 8;
pub const PART_DEBUG: u32 = 16;
pub const PART_LOAD_CONFIG: u32 = 32;
pub const PART_TLS: u32 = 64;
pub const PART_SYMBOLS: u32 = 128;
/// Not a part: the big tables (relocation entries, .pdata entries, the Guard CF function
/// table, COFF symbols) are read and checked as usual (same diagnostics) but written as
/// their counts, for callers that only show how many there are (`hotpatch pe`): a mingw DLL's
/// thousands of symbols cost more to write and parse as JSON than the rest of the file.
pub const COUNTS_ONLY: u32 = 256;

/// Parses `data` and writes the PeFile JSON for the parts in `parts` (PART_* bits).
pub fn parse_to_json(data: &[u8], parts: u32) -> Result<Vec<u8>, PeError> {
    let h = crate::headers::parse_headers(data)?;
    let mut diags: Vec<String> = Vec::new();
    let want = |p: u32| parts & p != 0;
    let counts = want(COUNTS_ONLY);
    // The symbol table also resolves long section names, so it is read whenever a name needs it.
    let long_names = h.sections.iter().any(|s| s.name.first() == Some(&b'/'));
    let mut symtab = if want(PART_SYMBOLS) || long_names {
        crate::symbols::parse_symbols(&h, &mut diags)
    } else {
        crate::symbols::SymbolTable { symbols: Vec::new(), strings: None }
    };
    let exports = if want(PART_EXPORTS) { crate::exports::parse_exports(&h, &mut diags) } else { None };
    let mut budget = crate::imports::Budget(data.len() / 4);
    let imports = if want(PART_IMPORTS) { crate::imports::parse_imports(&h, &mut diags, &mut budget) } else { Vec::new() };
    let relocs = if want(PART_RELOCATIONS) {
        crate::relocs::parse_relocations(&h, &mut diags)
    } else {
        crate::relocs::Relocations { blocks: 0, entries: Vec::new(), complete: true }
    };
    let exceptions = if want(PART_EXCEPTIONS) { crate::exception::parse_exceptions(&h, &mut diags) } else { Vec::new() };
    let (debug, cv) = if want(PART_DEBUG) { crate::debug::parse_debug(&h, &mut diags) } else { (Vec::new(), None) };
    let lc = if want(PART_LOAD_CONFIG) { crate::load_config::parse_load_config(&h, &mut diags) } else { None };
    let tls = if want(PART_TLS) { crate::tls::parse_tls(&h, &mut diags) } else { None };
    if !want(PART_SYMBOLS) {
        symtab.symbols.clear();
    }

    let mut j = Json::new();
    j.out.reserve(4096 + exceptions.len() * 160 + relocs.entries.len() * 10);
    j.begin_obj();
    j.key("format");
    j.str(if h.is64 { "PE32+" } else { "PE32" });

    let fh = &h.file_header;
    j.key("fileHeader");
    j.begin_obj();
    j.key("machine");
    j.num(fh.machine as u64);
    j.key("numberOfSections");
    j.num(fh.number_of_sections as u64);
    j.key("timeDateStamp");
    j.num(fh.time_date_stamp as u64);
    j.key("pointerToSymbolTable");
    j.num(fh.pointer_to_symbol_table as u64);
    j.key("numberOfSymbols");
    j.num(fh.number_of_symbols as u64);
    j.key("sizeOfOptionalHeader");
    j.num(fh.size_of_optional_header as u64);
    j.key("characteristics");
    j.num(fh.characteristics as u64);
    j.end_obj();

    let oh = &h.optional;
    j.key("optionalHeader");
    j.begin_obj();
    j.key("magic");
    j.num(oh.magic as u64);
    j.key("addressOfEntryPoint");
    j.num(oh.address_of_entry_point as u64);
    j.key("imageBase");
    j.hex(oh.image_base);
    j.key("sectionAlignment");
    j.num(oh.section_alignment as u64);
    j.key("fileAlignment");
    j.num(oh.file_alignment as u64);
    j.key("sizeOfImage");
    j.num(oh.size_of_image as u64);
    j.key("sizeOfHeaders");
    j.num(oh.size_of_headers as u64);
    j.key("checkSum");
    j.num(oh.check_sum as u64);
    j.key("subsystem");
    j.num(oh.subsystem as u64);
    j.key("dllCharacteristics");
    j.num(oh.dll_characteristics as u64);
    j.key("numberOfRvaAndSizes");
    j.num(oh.number_of_rva_and_sizes as u64);
    j.end_obj();

    j.key("dataDirectories");
    j.begin_arr();
    for d in &h.directories {
        j.begin_obj();
        j.key("virtualAddress");
        j.num(d.virtual_address as u64);
        j.key("size");
        j.num(d.size as u64);
        j.end_obj();
    }
    j.end_arr();

    j.key("sections");
    j.begin_arr();
    for s in &h.sections {
        j.begin_obj();
        j.key("name");
        match crate::symbols::resolve_section_name(&s.name, &symtab) {
            Some(long) => j.str_bytes(&long),
            None => j.str_bytes(&s.name),
        }
        j.key("rawName");
        j.str_bytes(&s.name);
        j.key("virtualSize");
        j.num(s.virtual_size as u64);
        j.key("virtualAddress");
        j.num(s.virtual_address as u64);
        j.key("sizeOfRawData");
        j.num(s.size_of_raw_data as u64);
        j.key("pointerToRawData");
        j.num(s.pointer_to_raw_data as u64);
        j.key("characteristics");
        j.num(s.characteristics as u64);
        j.end_obj();
    }
    j.end_arr();

    j.key("exports");
    match &exports {
        None => j.null(),
        Some(e) => {
            j.begin_obj();
            j.key("dllName");
            opt_bytes(&mut j, &e.dll_name);
            j.key("ordinalBase");
            j.num(e.ordinal_base as u64);
            j.key("timeDateStamp");
            j.num(e.time_date_stamp as u64);
            j.key("entries");
            j.begin_arr();
            for x in &e.entries {
                j.begin_obj();
                j.key("name");
                opt_bytes(&mut j, &x.name);
                j.key("ordinal");
                j.num(x.ordinal as u64);
                j.key("rva");
                j.num(x.rva as u64);
                j.key("forwarder");
                opt_bytes(&mut j, &x.forwarder);
                j.end_obj();
            }
            j.end_arr();
            j.end_obj();
        }
    }

    j.key("imports");
    j.begin_arr();
    for d in &imports {
        j.begin_obj();
        j.key("dll");
        j.str_bytes(&d.dll);
        j.key("delayed");
        j.bool(d.delayed);
        j.key("symbols");
        j.begin_arr();
        for s in &d.symbols {
            j.begin_obj();
            j.key("name");
            opt_bytes(&mut j, &s.name);
            j.key("ordinal");
            j.opt_num(s.ordinal.map(u64::from));
            j.key("hint");
            j.opt_num(s.hint.map(u64::from));
            j.key("iatRva");
            j.num(s.iat_rva as u64);
            j.end_obj();
        }
        j.end_arr();
        j.end_obj();
    }
    j.end_arr();

    j.key("relocations");
    j.begin_obj();
    j.key("blocks");
    j.num(relocs.blocks as u64);
    if counts {
        j.key("entries");
        j.num(relocs.entries.len() as u64);
    } else {
        j.key("flat");
        j.begin_arr();
        for &(rva, ty) in &relocs.entries {
            j.num(rva as u64);
            j.num(ty as u64);
        }
        j.end_arr();
    }
    j.end_obj();

    j.key("exceptions");
    if counts {
        j.num(exceptions.len() as u64);
    } else {
        j.begin_arr();
        for rf in &exceptions {
            write_runtime_function(&mut j, rf);
        }
        j.end_arr();
    }

    j.key("debug");
    j.begin_arr();
    for d in &debug {
        j.begin_obj();
        j.key("characteristics");
        j.num(d.characteristics as u64);
        j.key("timeDateStamp");
        j.num(d.time_date_stamp as u64);
        j.key("type");
        j.num(d.ty as u64);
        j.key("sizeOfData");
        j.num(d.size_of_data as u64);
        j.key("addressOfRawData");
        j.num(d.address_of_raw_data as u64);
        j.key("pointerToRawData");
        j.num(d.pointer_to_raw_data as u64);
        j.end_obj();
    }
    j.end_arr();

    j.key("codeView");
    match &cv {
        None => j.null(),
        Some(c) => {
            j.begin_obj();
            j.key("guid");
            j.str(&crate::debug::guid_string(&c.guid));
            j.key("age");
            j.num(c.age as u64);
            j.key("path");
            j.str_bytes(&c.path);
            j.end_obj();
        }
    }

    j.key("loadConfig");
    match &lc {
        None => j.null(),
        Some(l) => {
            j.begin_obj();
            j.key("size");
            j.num(l.size as u64);
            j.key("securityCookie");
            j.opt_hex(l.security_cookie);
            j.key("guardCfCheckFunctionPointer");
            j.opt_hex(l.guard_cf_check_function_pointer);
            j.key("guardCfFunctionTable");
            j.opt_hex(l.guard_cf_function_table);
            j.key("guardCfFunctionCount");
            j.opt_hex(l.guard_cf_function_count);
            j.key("guardFlags");
            j.opt_num(l.guard_flags.map(u64::from));
            j.key("hotPatchTableOffset");
            j.opt_num(l.hot_patch_table_offset.map(u64::from));
            j.key("guardCfFunctions");
            if counts {
                j.num(l.guard_cf_functions.len() as u64);
            } else {
                j.begin_arr();
                for &f in &l.guard_cf_functions {
                    j.num(f as u64);
                }
                j.end_arr();
            }
            j.end_obj();
        }
    }

    j.key("tls");
    match &tls {
        None => j.null(),
        Some(t) => {
            j.begin_obj();
            j.key("startAddressOfRawData");
            j.hex(t.start);
            j.key("endAddressOfRawData");
            j.hex(t.end);
            j.key("addressOfIndex");
            j.hex(t.index);
            j.key("addressOfCallBacks");
            j.hex(t.callbacks_va);
            j.key("sizeOfZeroFill");
            j.num(t.size_of_zero_fill as u64);
            j.key("characteristics");
            j.num(t.characteristics as u64);
            j.key("callbacks");
            j.begin_arr();
            for &c in &t.callbacks {
                j.hex(c);
            }
            j.end_arr();
            j.end_obj();
        }
    }

    j.key("symbols");
    if counts {
        j.num(symtab.symbols.len() as u64);
    } else {
        write_symbols(&mut j, &symtab.symbols);
    }

    let mut all_diags = h.diagnostics.clone();
    all_diags.extend(diags);
    j.key("diagnostics");
    j.begin_arr();
    for d in &all_diags {
        j.str(d);
    }
    j.end_arr();
    j.end_obj();
    Ok(j.out)
}

/// Symbols as `[index, name, value, sectionNumber, type, storageClass, numberOfAuxSymbols]`
/// (mingw DLLs carry thousands).
fn write_symbols(j: &mut Json, symbols: &[crate::symbols::Symbol]) {
    j.begin_arr();
    for s in symbols {
        j.begin_arr();
        j.num(s.index as u64);
        j.str_bytes(&s.name);
        j.num(s.value as u64);
        j.inum(s.section_number as i64);
        j.num(s.ty as u64);
        j.num(s.storage_class as u64);
        j.num(s.number_of_aux_symbols as u64);
        j.end_arr();
    }
    j.end_arr();
}

/// `[begin, end, unwindRva, unwind]`, unwind being null or
/// `[rva, version, flags, sizeOfProlog, countOfCodes, frameRegister, frameOffset, [codes],
/// handler, handlerData, chained, size]`: arrays, not objects, because .pdata is the largest
/// table (tens of thousands of entries) and positional JSON halves its size and parse time.
fn write_runtime_function(j: &mut Json, rf: &RuntimeFunction) {
    j.begin_arr();
    j.num(rf.begin as u64);
    j.num(rf.end as u64);
    j.num(rf.unwind_rva as u64);
    match &rf.unwind {
        None => j.null(),
        Some(u) => {
            j.begin_arr();
            j.num(u.rva as u64);
            j.num(u.version as u64);
            j.num(u.flags as u64);
            j.num(u.size_of_prolog as u64);
            j.num(u.count_of_codes as u64);
            j.num(u.frame_register as u64);
            j.num(u.frame_offset as u64);
            j.begin_arr();
            for &c in &u.codes {
                j.num(c as u64);
            }
            j.end_arr();
            j.opt_num(u.handler.map(u64::from));
            j.opt_num(u.handler_data.map(u64::from));
            match &u.chained {
                None => j.null(),
                Some(c) => write_runtime_function(j, c),
            }
            j.num(u.size as u64);
            j.end_arr();
        }
    }
    j.end_arr();
}
