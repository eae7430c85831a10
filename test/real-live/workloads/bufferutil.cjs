// bufferutil (C, node-gyp, MSVC): WebSocket frame masking, mask() into an output buffer at
// offsets and unmask() in place, over many lengths and masks. Deterministic inputs.
'use strict';
const { bytes } = require('./inputs.cjs');
const hash = (b) => require('crypto').createHash('sha256').update(b).digest('hex').slice(0, 16);
const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 1000, 4096, 65537];
const { inWorker } = require('./worker.cjs');
// No wrong-type arguments: the binding asserts its napi calls succeed (no check in a release
// build), so a non-buffer would be used as one.
exports.run = async (u, dir, addonPath) => {
  const out = [];
  for (const n of LENGTHS) {
    for (const seed of [1, 2]) {
      const src = bytes(n, n * 3 + seed);
      const mask = bytes(4, seed + 100);
      const dst = Buffer.alloc(n + 8, 0xee);
      u.mask(src, mask, dst, 5, n);
      const copy = Buffer.from(src);
      u.unmask(copy, mask);
      out.push(`n=${n} seed=${seed} mask ${hash(dst)} unmask ${hash(copy)}`);
    }
  }
  out.push(...(await inWorker(addonPath, 'bufferutil')));
  return out;
};
exports.inWorker = (u) => {
  const b = Buffer.from('worker thread');
  u.unmask(b, Buffer.from([1, 2, 3, 4]));
  return [b.toString('hex')];
};
const tickSrc = bytes(1024, 5);
const tickMask = bytes(4, 6);
const tickDst = Buffer.alloc(1024);
exports.tick = (u) => {
  for (let i = 0; i < 20; i++) u.mask(tickSrc, tickMask, tickDst, 0, 1024);
  u.unmask(tickDst, tickMask);
};
