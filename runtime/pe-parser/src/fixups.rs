//! Fixup resolution for the runtime's planner: writes every fixup field of one block (or
//! one block's unwind info) once the planner has decided where each target lives.
//!
//! The planner (runtime/plan) places blocks and resolves each target to an absolute
//! address S (image RVA -> VA, patch block -> VA, import -> slot or resolved address);
//! this module applies the formats' formulas (formats/FORMAT.md, Fixup) with every check:
//!
//! | kind (value) | width | stores | must fit |
//! | --- | --- | --- | --- |
//! | rel32 (1), rip-disp32 (4) | 4 | S + A - P | int32 |
//! | rel8 (2) | 1 | S + A - P | int8 |
//! | abs64 (3) | 8 | S + A | uint64 |
//! | addr32nb (5) | 4 | S + A - B | uint32 |
//! | imagerel32 (6) | 4 | S + A - L | 0..=i32::MAX |
//!
//! P = block VA + field offset, B = the package's unwind base, L = the target image's load
//! base (MSVC code adds `__ImageBase` to a sign-extended disp32 or a zero-extended table
//! entry, so only values valid under both readings are written). All arithmetic is on i128
//! from u64/i64 inputs, so nothing can overflow; fields are bounds-checked before any write.
//!
//! Input records (little-endian, 32 bytes each):
//! `kind u8, flags u8, 0 u16, 0 u32, offset u64, S u64, A i64`. Flag bit 0 marks a fixup
//! whose target the planner could not resolve: it must be the last record; the core checks
//! its field and stops there (returning the bytes so far), so the planner reports its own
//! target error in the order the checks have always run: field, then target, then reach.
//!
//! Errors carry the planner's wording: `block {id} fixup {i}: ...` (or `block {id} unwind
//! fixup {i}: ...` for unwind info), codes PLAN_FIXUP (field outside its container, a
//! malformed record) and PLAN_FIXUP_RANGE (a value that does not fit its field).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::error::PeError;

/// Bytes per input record.
pub const RECORD_SIZE: usize = 32;
/// Flag: the target is unresolved; check the field, then stop (last record only).
pub const FLAG_UNRESOLVED: u8 = 1;

/// Which container the fixups sit in (only changes the wording of errors).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// A code or data block's own bytes.
    Block,
    /// The unwind info blob of a code block.
    Unwind,
}

/// Where the block sits and what its errors are called.
pub struct Context {
    /// VA of the container's first byte (P = block_va + offset).
    pub block_va: u64,
    /// B of addr32nb.
    pub unwind_base: u64,
    /// L of imagerel32: the target image's load base.
    pub image_base: u64,
    /// The block id, for messages.
    pub block_id: u32,
    /// Block or unwind info, for messages.
    pub container: Container,
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

fn plan_err(code: &'static str, message: String) -> PeError {
    PeError::new(code, message, None)
}

/// `0x` + lower-case hex, as the TypeScript side's `hex()` writes addresses.
fn hex(v: i128) -> String {
    if v < 0 {
        format!("-0x{:x}", v.unsigned_abs())
    } else {
        format!("0x{:x}", v)
    }
}

/// `block {id} fixup {i}` or `block {id} unwind fixup {i}`: the planner's name for a fixup.
#[inline(never)]
fn name_fixup(ctx: &Context, i: usize) -> String {
    match ctx.container {
        Container::Block => format!("block {} fixup {}", ctx.block_id, i),
        Container::Unwind => format!("block {} unwind fixup {}", ctx.block_id, i),
    }
}

fn kind_name(kind: u8) -> Option<(&'static str, usize)> {
    match kind {
        1 => Some(("rel32", 4)),
        2 => Some(("rel8", 1)),
        3 => Some(("abs64", 8)),
        4 => Some(("rip-disp32", 4)),
        5 => Some(("addr32nb", 4)),
        6 => Some(("imagerel32", 4)),
        _ => None,
    }
}

/// Applies `records` to a copy of `block`; returns the completed bytes or the first refusal.
pub fn apply_fixups(block: &[u8], records: &[u8], ctx: &Context) -> Result<Vec<u8>, PeError> {
    if records.len() % RECORD_SIZE != 0 {
        return Err(plan_err("PLAN_FIXUP", format!("fixup list of {} bytes is not a whole number of {}-byte records", records.len(), RECORD_SIZE)));
    }
    let count = records.len() / RECORD_SIZE;
    let mut out = Vec::new();
    if out.try_reserve_exact(block.len()).is_err() {
        return Err(plan_err("PLAN_FIXUP", format!("cannot allocate {} bytes for the block", block.len())));
    }
    out.extend_from_slice(block);
    let len = block.len() as u64;
    for (i, rec) in records.chunks_exact(RECORD_SIZE).enumerate() {
        // Named only when refused: a big block has thousands of fixups.
        let where_ = || name_fixup(ctx, i);
        let kind = rec[0];
        let flags = rec[1];
        let (name, width) = match kind_name(kind) {
            Some(k) => k,
            None => return Err(plan_err("PLAN_FIXUP", format!("{}: kind {} is not a fixup kind", where_(), kind))),
        };
        if flags & !FLAG_UNRESOLVED != 0 || rec[2..8].iter().any(|&b| b != 0) {
            return Err(plan_err("PLAN_FIXUP", format!("{}: reserved bits are set in its record", where_())));
        }
        let unresolved = flags & FLAG_UNRESOLVED != 0;
        if unresolved && i + 1 != count {
            return Err(plan_err("PLAN_FIXUP", format!("{}: an unresolved fixup must be the last record", where_())));
        }
        let offset = le_u64(rec, 8);
        let s = le_u64(rec, 16) as i128;
        let a = le_u64(rec, 24) as i64 as i128;
        // offset + width cannot overflow in u128; a field must end inside the container.
        if offset as u128 + width as u128 > len as u128 {
            return Err(plan_err(
                "PLAN_FIXUP",
                match ctx.container {
                    Container::Block => format!("{}: field at {} runs past the block", where_(), hex(offset as i128)),
                    Container::Unwind => format!("{}: field runs past the unwind info", where_()),
                },
            ));
        }
        if unresolved {
            break;
        }
        // offset < len <= usize::MAX here, so the casts are exact.
        let at = offset as usize;
        let p = ctx.block_va as i128 + offset as i128;
        let field = match out.get_mut(at..at + width) {
            Some(f) => f,
            None => return Err(plan_err("PLAN_FIXUP", format!("{}: field at {} runs past the block", where_(), hex(offset as i128)))),
        };
        match kind {
            1 | 4 => {
                let v = s + a - p;
                if v < i32::MIN as i128 || v > i32::MAX as i128 {
                    return Err(plan_err("PLAN_FIXUP_RANGE", format!("{}: {} to {} does not reach from {}", where_(), name, hex(s), hex(p))));
                }
                field.copy_from_slice(&(v as i32).to_le_bytes());
            }
            2 => {
                let v = s + a - p;
                if v < -128 || v > 127 {
                    return Err(plan_err("PLAN_FIXUP_RANGE", format!("{}: rel8 to {} does not reach from {}", where_(), hex(s), hex(p))));
                }
                field.copy_from_slice(&(v as i8).to_le_bytes());
            }
            3 => {
                let v = s + a;
                if v < 0 || v > u64::MAX as i128 {
                    return Err(plan_err("PLAN_FIXUP_RANGE", format!("{}: abs64 value out of range", where_())));
                }
                field.copy_from_slice(&(v as u64).to_le_bytes());
            }
            6 => {
                let l = ctx.image_base as i128;
                let v = s + a - l;
                if v < 0 || v > i32::MAX as i128 {
                    return Err(plan_err("PLAN_FIXUP_RANGE", format!("{}: imagerel32 to {} is not within 2 GB above the image base {}", where_(), hex(s + a), hex(l))));
                }
                field.copy_from_slice(&(v as u32).to_le_bytes());
            }
            _ => {
                let b = ctx.unwind_base as i128;
                let v = s + a - b;
                if v < 0 || v > u32::MAX as i128 {
                    return Err(plan_err("PLAN_FIXUP_RANGE", format!("{}: addr32nb to {} is not within 4 GB above {}", where_(), hex(s), hex(b))));
                }
                field.copy_from_slice(&(v as u32).to_le_bytes());
            }
        }
    }
    Ok(out)
}
