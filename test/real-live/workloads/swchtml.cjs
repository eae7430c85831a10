// @swc/html-win32-x64-msvc (Rust, napi-rs, MSVC): swc's HTML parser and minifier, with its
// inline CSS and JS minifiers, over documents and fragments of many kinds (doctype or none,
// comments, conditional comments, entities, SVG/MathML, templates, tables, broken markup,
// script- and style-heavy pages), each under several option sets, sync and async, and options
// that fail to deserialize. The minified code and the parse errors are printed whole.
// Deterministic. Serves swc-html-1.15.41-1.16.1 and swc-html-1.15.24-1.15.33.
'use strict';
const DOCS = [
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title> T  &amp; t </title><style> a , b > c { color : #ff0000 ; margin : 0px 0px } @media (min-width:100px){.x{padding:1px}} </style></head><body>  <p class="a  b" id=x>one   two</p>\n<!-- note --> <ul><li>1<li>2</ul><script> const a = 1 + 2; function f(x){ return x * a } console.log(f(3)) </script></body></html>',
  '<html><body><table><tr><td>a<td>b</tr><tr><th>c</table><select><option selected>o1<option>o2</select><input type="text" value="" disabled="disabled"><button type="submit">go</button></body></html>',
  '<!DOCTYPE html><svg viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="red"/><text x="1">&lt;s&gt;</text></svg><math><mi>x</mi><mo>=</mo><mn>2</mn></math><template><div>  t  </div></template>',
  '<!doctype html><p>unclosed <b>bold <i>both</b> italic</i><div><p>nested<div>block</div></p></div></a></span><![CDATA[x]]><!--[if IE]><p>ie</p><![endif]-->',
  '<!doctype html><pre>  keep\n   this  </pre><textarea>  and\n this </textarea><code> a  b </code><span> s </span> <span> t </span><a href="/x?y=1&amp;z=2" target="_blank" rel="noopener">link</a>',
  '<!doctype html><head><script type="module">import x from "./x.js"; export const y = x ?? 1;</script><script type="application/ld+json">{ "a" : [1, 2] }</script><script>var broken = (;</script><link rel="stylesheet" href="s.css"><style>.z{color:rgb(255,0,0)}</style></head>',
  '<!doctype html><body onload="init( 1 , 2 )"><div style="color : red ; background : url( x.png )" data-x="  1 " hidden="hidden">&nbsp;&copy;&#x41;&#65;&unknown;</div></body>',
  // Script-heavy: what the JS minifier's compress and mangle passes work on (classes,
  // destructuring, spread, async and generators, labels, switch, try, regexes, BigInt,
  // constant folding, dead branches, IIFEs, unused bindings, event-handler attributes).
  '<!doctype html><script>"use strict";const K=1+2*3,U=void 0;var unused=42;class A extends Object{static #n=0;#v;constructor(v=K){super();this.#v=v;A.#n++}get v(){return this.#v}set v(x){this.#v=x|0}static count(){return A.#n}*gen(n){for(let i=0;i<n;i++)yield i*2}async load(u){try{const r=await fetch(u);return r?.ok??false}catch({message:m}){return m}finally{void 0}}}function f(a,{b=2,...r}={},...rest){outer:for(const x of[a,b,...rest]){switch(typeof x){case"number":if(x>10)break outer;continue;case"string":return x.replace(/a+b?/gu,"c");default:}}if(false){console.log("dead")}return(()=>a+b+r.c??0)()}const big=123n**2n,t=`v=${f(1,{c:3})} ${big}`;(function(){var s=0;for(var i=0;i<10;i++)s+=i;return s})();console.log(new A(5).v,A.count(),[...new A().gen(3)],t,!0,!1,U===undefined,"a"+"b",1e3,0x10,typeof null)</script><button data-js="let  q = 1 +  2 ; q ++" data-css="color : #FF0000 ; margin : 0px" onclick="if ( a ) { b ( ) } else { c ( 1 + 2 ) } ; return false">x</button><a href="javascript:void( 0 )" onmouseover="this.style.color = \'red\'">y</a>',
  // Style-heavy: the CSS minifier on selectors, at-rules, colours, lengths, functions and
  // custom properties, in a style element and in style attributes.
  '<!doctype html><style>@charset "utf-8";@import url("a.css") screen and (orientation:landscape);@font-face{font-family:"F";src:url(f.woff2) format("woff2"),url(f.woff) format("woff");unicode-range:U+0000-00FF}:root{--gap:  10px ;--c:#FFFFFF}@layer base,theme;@layer base{html{margin:0px 0px 0px 0px;padding:0.50em 0em}}@supports (display:grid) and (not (display:inline-grid)){.g{display:grid;grid-template-columns:repeat(2,1fr)}}@keyframes spin{from{transform:rotate(0deg)}to{transform:rotate(360deg)}}@media screen and (min-width:768px),print and (max-width:1024px){a:hover,a:focus-visible{color:rgba(255,0,0,1.0);background-color:hsl(120,100%,50%)}}@container (min-width:400px){.c{font-size:calc(1rem + 2px)}}.a:is(.b,.c)>.d~.e+.f:not([data-x="1"]):nth-child(2n+1)::before{content:"\\201C";color:#ff0000!important;transition:all .30s ease-in-out 0s;font:italic bold 12px/30px Georgia,serif}.h{color:red;color:red;margin:var(--gap,0)}.m{transform:rotate(acos(0.5)) rotate(asin(1)) rotate(atan2(1,1));width:calc(sin(30deg)*10px + cos(0deg)*1px);color:color-mix(in srgb,red 50%,blue);background:lab(50% 40 59.5) lch(52% 72 50) oklch(70% 0.1 200) hwb(120 10% 20%)}</style><div style="margin : 0px 0px ; color : #AABBCC ; width : calc( 100% - 10px )">s</div><svg><style>circle{fill:#00ff00}</style><circle r="1" style="stroke : blue"/></svg>',
];
const FRAGMENTS = ['<td>cell</td><td> two </td>', '<li> a </li><li>b</li>', '  <b> x </b>  <i>y</i> ', '<p>a<p>b', '<style>a{color:red}</style><script>let q = 1 + 1</script>'];
const OPTIONS = [
  {},
  { collapseWhitespaces: 'all', removeComments: true, minifyJs: true, minifyCss: true },
  { collapseWhitespaces: 'conservative', removeEmptyAttributes: true, collapseBooleanAttributes: true, normalizeAttributes: true },
  { collapseWhitespaces: 'smart', removeRedundantAttributes: 'all', sortAttributes: true, sortSpaceSeparatedAttributeValues: true, minifyJson: true },
  { collapseWhitespaces: 'only-metadata', tagOmission: true, selfClosingVoidElements: true, quotes: true, minifyConditionalComments: true },
  { collapseWhitespaces: 'none', removeEmptyMetadataElements: true, removeComments: true, minifyJs: true },
  { collapseWhitespaces: 'advanced-conservative', mergeMetadataElements: true, minifyJs: true, minifyCss: true, forceSetHtml5Doctype: true },
  { collapseWhitespaces: 'all', minifyJs: true, minifyCss: true, minifyAdditionalAttributes: [['^data-js$', 'js-script'], ['^data-css$', 'css']] },
];
const BAD_OPTIONS = [
  '42',
  '[]',
  '{"collapseWhitespaces": 5}',
  '{"tagOmission": "sometimes"}',
  '{"minifyJs": {"parser": 5}}',
  '{"minifyJs": {"minifier": {"mangle": 5}}}',
  '{"minifyJs": {"minifier": {"mangle": {"props": 5}}}}',
  '{"minifyJs": {"minifier": {"compress": []}}}',
  '{"minifyCss": {"lib": "lightningcss", "targets": 5}}',
  '{"minifyCss": {"lib": "swc", "parser": 5}}',
  '{"minifyAdditionalAttributes": [["^x", 5]]}',
];
const show = (r) => `${JSON.stringify(r.code)} errors=${JSON.stringify((r.errors ?? []).map((e) => `${e.level}:${e.message}`))}`;
const attempt = (f) => {
  try {
    return show(f());
  } catch (e) {
    return `throws ${e && e.message}`;
  }
};
const buf = (s) => Buffer.from(s);
exports.run = async (h) => {
  const out = [];
  for (const [d, doc] of DOCS.entries())
    for (const [k, opts] of OPTIONS.entries()) out.push(`doc ${d} opts ${k} ${attempt(() => h.minifySync(buf(doc), buf(JSON.stringify(opts))))}`);
  for (const [f, frag] of FRAGMENTS.entries())
    for (const [k, opts] of OPTIONS.entries())
      out.push(`fragment ${f} opts ${k} ${attempt(() => h.minifyFragmentSync(buf(frag), buf(JSON.stringify(opts))))}`);
  for (const [d, doc] of DOCS.entries()) {
    let s;
    try {
      s = show(await h.minify(buf(doc), buf(JSON.stringify(OPTIONS[1]))));
    } catch (e) {
      s = `throws ${e && e.message}`;
    }
    out.push(`async ${d} ${s}`);
  }
  out.push(`bad options ${attempt(() => h.minifySync(buf(DOCS[0]), buf('{ not json')))}`);
  // Options of the wrong type: serde builds its error from the expecting text of each level
  // (MinifyOptions, JsOptions, the mangle options, the CSS options, tag omission).
  for (const bad of BAD_OPTIONS) out.push(`wrong options ${bad} ${attempt(() => h.minifySync(buf(DOCS[1]), buf(bad)))}`);
  return out;
};
const TICK = buf('<!doctype html><p>  a  <b> b </b></p><script>let t = 1 + 2</script>');
const TICK_OPTS = buf(JSON.stringify(OPTIONS[1]));
exports.tick = (h) => {
  h.minifySync(TICK, TICK_OPTS);
};
