// @rollup/rollup-win32-x64-msvc (Rust, napi-rs, MSVC): the native half of rollup, driven as
// rollup drives it: parse (SWC parser + rollup's AST-to-buffer conversion) over modules of
// many syntax kinds (ES2024, JSX, syntax errors, return outside functions), parseAsync, and
// the xxhash digests rollup names chunks with. Each parse result is reported as its length
// and an FNV-1a hash of the buffer, so any change in the AST encoding shows. Deterministic.
'use strict';
const SOURCES = [
  'export const a = 1; export default function f(x, ...r) { return x ?? r.length; }',
  'import x, { y as z } from "m"; import * as ns from "n"; export { z, ns }; export * from "o";',
  'class A extends B { #p = 1; static { this.q = 2; } get g() { return this.#p; } async *m() { yield* [1, await 2]; } }',
  'const { a, b: [c, , d = 3], ...e } = obj; label: for (const k in o) { if (k) continue label; else break; }',
  'let s = `t${1 + 2}x${`nested${3}`}`; const re = /a(?<n>b)+/giu; x ||= y; x &&= z; x ??= w; 1_000n ** 2n;',
  'try { throw new Error("e") } catch { } finally { }; switch (v) { case 1: f(); default: g(); }',
  'const el = <div className="x" {...p}><span>{a ? <b/> : null}</span></div>;',
  'return 42;',
  'export const broken = (;',
  'function* g() { yield; } async function h() { for await (const x of y) {} } new.target; import.meta.url;',
  'x = a?.b?.[c]?.(d); delete x.y; void 0; typeof z; o = { __proto__: null, [k]: 1, m() {}, get p() { return 1 } };',
  '/* comment */ // line\n"use strict"; if (a) b; else if (c) d; else { e }; do x++; while (x < 3); with (o) {}',
  // More syntax, and more of the parser's error paths (SWC's diagnostics as rollup reports them).
  '#!/usr/bin/env node\nimport j from "./j.json" with { type: "json" }; export * as ns from "m"; const m = await import("x");',
  '@dec class C { @field x = 1; accessor y = 2; static #z; has(o) { return #z in o; } }',
  'const re = /[\\p{L}--[a-z]]/v; const t = String.raw`\\unicode`; const \\u{61}b = 1; a = 0b101 + 0o17 + 0xff + 1e3;',
  // (No JSX namespaced name: rollup's converter panics on it, `not implemented`; a Rust panic
  // under the reach probe led to a storm of first-chance faults in Wine's ntdll, README.)
  'const f = <><A.B c="d" e={1} f /><x-y attr="&amp;&#123;" />text &nbsp;</>;',
  '<!-- html comment\nx = 1;\n--> also a comment',
  'let let = 1;',
  'function f() { "use strict"; var x = 010; }',
  'async function f() { await = 1; } function* g() { yield = 1; }',
  'export default 1; export default 2;',
  'a + = b; "unterminated',
  'class A { constructor() {} constructor() {} } for (const x of y) for (let [a, b] of z) ;',
  'label: { break label; } if (x) function f() {} ({ a = 1 }); [...a, b] = c;',
  'x?.y = 1; new a?.b(); import("a", { with: { type: "json" } }); super.x;',
  '`${`${`${deep}`}`}`; a ? b : c ? d : e; a ** -b; (a, b) => { "use strict"; }; async (x) => await x;',
];
function fnv(buf) {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) h = Math.imul(h ^ buf[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
const { bytes } = require('./inputs.cjs');
const describe = (r) => (Buffer.isBuffer(r) || r instanceof Uint8Array ? `${r.length} ${fnv(r)}` : `?${typeof r}`);
const { inWorker } = require('./worker.cjs');
exports.run = async (r, dir, addonPath) => {
  const out = [];
  for (const [i, src] of SOURCES.entries()) {
    for (const [ret, jsx] of [[false, false], [true, false], [false, true], [true, true]]) {
      let s;
      try {
        s = describe(r.parse(src, ret, jsx));
      } catch (e) {
        s = `throws ${e && e.message}`;
      }
      out.push(`parse ${i} ret=${ret} jsx=${jsx} ${s}`);
    }
    out.push(`parseAsync ${i} ${describe(await r.parseAsync(src, false, true))}`);
  }
  const big = SOURCES.slice(0, 7).join('\n').repeat(40);
  out.push(`parse big ${describe(r.parse(big, false, true))}`);
  for (const n of [0, 1, 3, 16, 31, 32, 33, 64, 255, 1000, 65536]) {
    const b = bytes(n, n + 1);
    out.push(`xxhash n=${n} ${r.xxhashBase64Url(b)} ${r.xxhashBase36(b)} ${r.xxhashBase16(b)}`);
  }
  out.push(...(await inWorker(addonPath, 'rollup')));
  return out;
};
exports.inWorker = (r) => [`parse ${describe(r.parse(SOURCES[0], false, false))} xxhash ${r.xxhashBase16(Buffer.from('worker'))}`];
const tickSrc = SOURCES[3];
const tickBuf = bytes(256, 5);
exports.tick = (r) => {
  r.parse(tickSrc, false, false);
  r.xxhashBase16(tickBuf);
};
