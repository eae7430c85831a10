// @node-rs/crc32 (Rust, napi-rs, MSVC): crc32 and crc32c over strings and buffers of many
// lengths and alignments, with and without an initial state. Deterministic inputs.
'use strict';
const { bytes } = require('./inputs.cjs');
const LENGTHS = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 255, 256, 1000, 4096, 65536, 1 << 20];
exports.run = (c) => {
  const out = [];
  for (const n of LENGTHS) {
    const b = bytes(n + 3, n + 1);
    for (const off of [0, 1, 3]) {
      const v = b.subarray(off, off + n);
      out.push(`crc32 n=${n} off=${off} ${c.crc32(v)} ${c.crc32(v, 0x12345678)} crc32c ${c.crc32c(v)} ${c.crc32c(v, 0xdeadbeef)}`);
    }
    const s = v8String(n);
    out.push(`string n=${n} ${c.crc32(s)} ${c.crc32c(s)} ${c.crc32(s, 7)} ${c.crc32c(s, 7)}`);
  }
  return out;
};
function v8String(n) {
  let s = '';
  for (let i = 0; i < Math.min(n, 5000); i++) s += String.fromCharCode(32 + ((i * 7) % 90));
  return s + (n > 5000 ? 'é€😀'.repeat(3) : '');
}
const tickBuf = bytes(4096, 9);
exports.tick = (c) => {
  for (let i = 0; i < 20; i++) c.crc32c(tickBuf, i);
  c.crc32(tickBuf);
};
