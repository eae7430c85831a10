//! A minimal JSON writer for the result buffer handed to JavaScript.
//!
//! Why JSON: the host's JSON.parse is native and fast, it needs no schema code on either
//! side, and every runtime has it. 64-bit values are written as "0x..." strings because JSON
//! numbers lose precision above 2^53; the binding turns them into bigints.

use alloc::vec::Vec;

/// JSON being written; `out` is the UTF-8 result.
pub struct Json {
    pub out: Vec<u8>,
    /// Whether the next value in the current container needs a comma before it.
    comma: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Json {
    /// An empty writer.
    pub fn new() -> Self {
        Json { out: Vec::new(), comma: false }
    }

    /// Appends a short byte string. A byte loop on purpose: `extend_from_slice` becomes a
    /// `memory.copy`, which V8 runs as a runtime call, far slower than a few stores for the
    /// 1-20 byte pieces JSON is made of (profiled: it was 40% of a parse).
    #[inline(always)]
    fn put(&mut self, s: &[u8]) {
        self.out.reserve(s.len());
        for &b in s {
            self.out.push(b);
        }
    }

    fn sep(&mut self) {
        if self.comma {
            self.out.push(b',');
        }
        self.comma = true;
    }

    /// Container delimiters; commas are inserted automatically.
    pub fn begin_obj(&mut self) {
        self.sep();
        self.out.push(b'{');
        self.comma = false;
    }
    pub fn end_obj(&mut self) {
        self.out.push(b'}');
        self.comma = true;
    }
    pub fn begin_arr(&mut self) {
        self.sep();
        self.out.push(b'[');
        self.comma = false;
    }
    pub fn end_arr(&mut self) {
        self.out.push(b']');
        self.comma = true;
    }
    /// Object key; the value written next belongs to it.
    pub fn key(&mut self, k: &str) {
        self.sep();
        self.out.push(b'"');
        self.put(k.as_bytes());
        self.put(b"\":");
        self.comma = false;
    }
    /// Scalar values.
    pub fn null(&mut self) {
        self.sep();
        self.put(b"null");
    }
    pub fn bool(&mut self, b: bool) {
        self.sep();
        self.put(if b { b"true" } else { b"false" });
    }
    /// An unsigned integer (exact: JSON numbers are safe up to 2^53, and every value written this way is 32-bit or a count).
    pub fn num(&mut self, v: u64) {
        self.sep();
        // Most values are u32 (RVAs, sizes): 32-bit division is much cheaper in wasm.
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        if let Ok(mut n) = u32::try_from(v) {
            loop {
                i -= 1;
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        } else {
            let mut n = v;
            loop {
                i -= 1;
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
        }
        let digits = &buf[i..];
        self.put(digits);
    }
    /// A signed integer.
    pub fn inum(&mut self, v: i64) {
        if v < 0 {
            self.sep();
            self.out.push(b'-');
            self.comma = false;
            self.num(v.unsigned_abs());
        } else {
            self.num(v as u64);
        }
    }
    /// A 64-bit value as a "0x..." string (exact in JavaScript via BigInt).
    pub fn hex(&mut self, v: u64) {
        self.sep();
        self.put(b"\"0x");
        let mut started = false;
        for shift in (0..16).rev() {
            let d = ((v >> (shift * 4)) & 0xf) as usize;
            if d != 0 || started || shift == 0 {
                started = true;
                self.out.push(HEX[d]);
            }
        }
        self.out.push(b'"');
    }
    /// A string from file bytes: UTF-8 when valid, otherwise each byte as U+00XX (Latin-1),
    /// so names never make the output invalid.
    pub fn str_bytes(&mut self, s: &[u8]) {
        self.sep();
        self.out.push(b'"');
        if core::str::from_utf8(s).is_ok() {
            for &b in s {
                self.escape_byte(b, false);
            }
        } else {
            for &b in s {
                self.escape_byte(b, true);
            }
        }
        self.out.push(b'"');
    }
    pub fn str(&mut self, s: &str) {
        self.str_bytes(s.as_bytes());
    }
    fn escape_byte(&mut self, b: u8, latin1: bool) {
        match b {
            b'"' => self.put(b"\\\""),
            b'\\' => self.put(b"\\\\"),
            0..=0x1f | 0x7f => {
                self.put(b"\\u00");
                self.out.push(HEX[(b >> 4) as usize]);
                self.out.push(HEX[(b & 0xf) as usize]);
            }
            0x80..=0xff if latin1 => {
                // U+0080..U+00FF in UTF-8.
                self.out.push(0xc0 | (b >> 6));
                self.out.push(0x80 | (b & 0x3f));
            }
            _ => self.out.push(b),
        }
    }
    /// A number or null.
    pub fn opt_num(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.num(v),
            None => self.null(),
        }
    }
    /// A "0x..." string or null.
    pub fn opt_hex(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.hex(v),
            None => self.null(),
        }
    }
}
