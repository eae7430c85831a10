// @node-rs/crc32 (Rust, napi-rs, MSVC): crc32 and crc32c over strings and buffers of many
// lengths and alignments, with and without an initial state. Deterministic inputs.
'use strict';
const { bytes } = require('./inputs.cjs');
const LENGTHS = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 255, 256, 1000, 4096, 65536, 1 << 20];
const { inWorker } = require('./worker.cjs');
// Arguments that go through napi-rs's conversions (a string where a u32 is due, negative,
// past 2^32, fractional initial states, a Uint8Array, a lone surrogate), each reported as the
// value or as the error's code and message. Left out: inputs that are not a string or a
// Buffer (a number, null, an object, a Uint16Array, a DataView, a Symbol). 1.10.4 takes
// `TypedArray<u8>` instead of `Buffer`, so their error messages (and whether a Uint16Array or
// DataView is accepted) differ between OLD and NEW, and the --skip-refused package leaves the
// function that decides it old: the patched process answers those as OLD (README).
const BAD = [
  (c) => c.crc32('x', 'y'),
  (c) => c.crc32c(Buffer.from('ab'), -1),
  (c) => c.crc32(Buffer.from('ab'), 2 ** 33 + 5),
  (c) => c.crc32c(Buffer.from('ab'), 1.5),
  (c) => c.crc32(new Uint8Array([1, 2, 3])),
  (c) => c.crc32c('\ud800 lone surrogate'),
];
exports.run = async (c, dir, addonPath) => {
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
  for (const [i, f] of BAD.entries()) {
    try {
      out.push(`bad ${i} ${f(c)}`);
    } catch (e) {
      out.push(`bad ${i} throws ${e && e.code} ${e && e.message}`);
    }
  }
  out.push(...(await inWorker(addonPath, 'crc32')));
  return out;
};
exports.inWorker = (c) => [`crc32 ${c.crc32('worker')} crc32c ${c.crc32c(Buffer.from('worker'))}`];
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
