// utf-8-validate (C++, node-gyp, MSVC; the binding is the function itself, built on the
// is_utf8 SIMD library): isValidUTF8 over valid and invalid UTF-8 of many
// lengths (the byte-at-a-time head and tail, the word-at-a-time middle): every sequence
// length 1-4, overlong forms, surrogates, code points past U+10FFFF, truncated and stray
// continuation bytes, each at several offsets inside ASCII runs. Deterministic inputs.
'use strict';
const PIECES = {
  ascii: [0x41],
  two: [0xc3, 0xa9],
  three: [0xe2, 0x82, 0xac],
  four: [0xf0, 0x9f, 0x98, 0x80],
  overlong2: [0xc0, 0xaf],
  overlong3: [0xe0, 0x80, 0xaf],
  overlong4: [0xf0, 0x80, 0x80, 0xaf],
  surrogate: [0xed, 0xa0, 0x80],
  beyond: [0xf4, 0x90, 0x80, 0x80],
  max: [0xf4, 0x8f, 0xbf, 0xbf],
  truncated: [0xe2, 0x82],
  stray: [0x80],
  ff: [0xff],
};
const RUNS = [0, 1, 3, 7, 8, 15, 16, 31, 32, 63, 64, 100, 1000];
const { inWorker } = require('./worker.cjs');
// No wrong-type arguments: the binding asserts its napi calls succeed (no check in a release
// build), so a non-buffer would be used as one.
exports.run = async (binding, dir, addonPath) => {
  const u = { isValidUTF8: binding };
  const out = [];
  for (const [name, piece] of Object.entries(PIECES)) {
    const line = [];
    for (const before of RUNS)
      for (const after of [0, 1, 8, 33]) {
        const b = Buffer.concat([Buffer.alloc(before, 0x61), Buffer.from(piece), Buffer.alloc(after, 0x62)]);
        line.push(u.isValidUTF8(b) ? 1 : 0);
      }
    out.push(`${name} ${line.join('')}`);
  }
  const text = Buffer.from('héllo wörld € 😀 '.repeat(500));
  out.push(`text ${u.isValidUTF8(text)} ${u.isValidUTF8(text.subarray(0, text.length - 1))} ${u.isValidUTF8(text.subarray(1))}`);
  out.push(`empty ${u.isValidUTF8(Buffer.alloc(0))} big-ascii ${u.isValidUTF8(Buffer.alloc(1 << 20, 0x20))}`);
  out.push(...(await inWorker(addonPath, 'utf8')));
  return out;
};
exports.inWorker = (isValidUTF8) => [`${isValidUTF8(Buffer.from('wörker'))} ${isValidUTF8(Buffer.from([0xc0, 0xaf]))}`];
const tickBuf = Buffer.from('tick € 😀 '.repeat(100));
exports.tick = (isValidUTF8) => {
  for (let i = 0; i < 20; i++) isValidUTF8(tickBuf);
};
