// Deterministic inputs shared by the workloads: n pseudo-random bytes from a seed
// (xorshift32), so OLD, NEW and the patched process see the same buffers every round.
'use strict';
exports.bytes = (n, seed) => {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
};
