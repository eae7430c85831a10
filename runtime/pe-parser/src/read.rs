//! Bounds-checked little-endian reads. Every read of file data goes through here and
//! returns None instead of panicking when it would leave the buffer.

/// `len` bytes at `off`, or None when any of them lies outside `data`.
#[inline]
pub fn bytes(data: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    data.get(off..off.checked_add(len)?)
}

/// Little-endian integers at `off`, or None past the end.
#[inline]
pub fn u8_at(data: &[u8], off: usize) -> Option<u8> {
    data.get(off).copied()
}

#[inline]
pub fn u16_at(data: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes(data, off, 2)?.try_into().ok()?))
}

#[inline]
pub fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes(data, off, 4)?.try_into().ok()?))
}

#[inline]
pub fn u64_at(data: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes(data, off, 8)?.try_into().ok()?))
}

/// Bytes up to (not including) the first NUL, at most `max` of them; None when no NUL is
/// found within `max` bytes or the buffer ends first.
pub fn cstr(data: &[u8], off: usize, max: usize) -> Option<&[u8]> {
    let rest = data.get(off..)?;
    let window = &rest[..rest.len().min(max)];
    let end = window.iter().position(|&b| b == 0)?;
    window.get(..end)
}
