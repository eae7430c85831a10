//! Fatal parse errors: a stable PE_* code, one line of text and the file offset.

use alloc::string::String;

/// A fatal error: the file cannot be used (damaged optional data becomes a diagnostic instead).
#[derive(Debug, Clone)]
pub struct PeError {
    /// Stable id (`PE_TRUNCATED`, `PE_BAD_DOS_MAGIC`, ...); never reworded.
    pub code: &'static str,
    /// One line for people.
    pub message: String,
    /// File offset where the problem sits (or an RVA when the message says so).
    pub offset: Option<u64>,
}

impl PeError {
    /// A fatal error value.
    pub fn new(code: &'static str, message: String, offset: Option<u64>) -> Self {
        PeError { code, message, offset }
    }
}

/// `PeError` with format!-style message and an offset.
macro_rules! pe_err {
    ($code:expr, $off:expr, $($arg:tt)*) => {
        $crate::error::PeError::new($code, alloc::format!($($arg)*), Some(($off) as u64))
    };
}
pub(crate) use pe_err;
