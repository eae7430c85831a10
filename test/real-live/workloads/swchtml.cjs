// @swc/html-win32-x64-msvc (Rust, napi-rs, MSVC): swc's HTML parser and minifier, with its
// inline CSS and JS minifiers, over documents and fragments of many kinds (doctype or none,
// comments, conditional comments, entities, SVG/MathML, templates, tables, broken markup),
// each under several option sets, sync and async. The minified code and the parse errors are
// printed whole. Deterministic.
'use strict';
const DOCS = [
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title> T  &amp; t </title><style> a , b > c { color : #ff0000 ; margin : 0px 0px } @media (min-width:100px){.x{padding:1px}} </style></head><body>  <p class="a  b" id=x>one   two</p>\n<!-- note --> <ul><li>1<li>2</ul><script> const a = 1 + 2; function f(x){ return x * a } console.log(f(3)) </script></body></html>',
  '<html><body><table><tr><td>a<td>b</tr><tr><th>c</table><select><option selected>o1<option>o2</select><input type="text" value="" disabled="disabled"><button type="submit">go</button></body></html>',
  '<!DOCTYPE html><svg viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="red"/><text x="1">&lt;s&gt;</text></svg><math><mi>x</mi><mo>=</mo><mn>2</mn></math><template><div>  t  </div></template>',
  '<!doctype html><p>unclosed <b>bold <i>both</b> italic</i><div><p>nested<div>block</div></p></div></a></span><![CDATA[x]]><!--[if IE]><p>ie</p><![endif]-->',
  '<!doctype html><pre>  keep\n   this  </pre><textarea>  and\n this </textarea><code> a  b </code><span> s </span> <span> t </span><a href="/x?y=1&amp;z=2" target="_blank" rel="noopener">link</a>',
  '<!doctype html><head><script type="module">import x from "./x.js"; export const y = x ?? 1;</script><script type="application/ld+json">{ "a" : [1, 2] }</script><script>var broken = (;</script><link rel="stylesheet" href="s.css"><style>.z{color:rgb(255,0,0)}</style></head>',
  '<!doctype html><body onload="init( 1 , 2 )"><div style="color : red ; background : url( x.png )" data-x="  1 " hidden="hidden">&nbsp;&copy;&#x41;&#65;&unknown;</div></body>',
];
const FRAGMENTS = ['<td>cell</td><td> two </td>', '<li> a </li><li>b</li>', '  <b> x </b>  <i>y</i> ', '<p>a<p>b', '<style>a{color:red}</style><script>let q = 1 + 1</script>'];
const OPTIONS = [
  {},
  { collapseWhitespaces: 'all', removeComments: true, minifyJs: true, minifyCss: true },
  { collapseWhitespaces: 'conservative', removeEmptyAttributes: true, collapseBooleanAttributes: true, normalizeAttributes: true },
  { collapseWhitespaces: 'smart', removeRedundantAttributes: 'all', sortAttributes: true, sortSpaceSeparatedAttributeValues: true, minifyJson: true },
  { collapseWhitespaces: 'only-metadata', tagOmission: true, selfClosingVoidElements: true, quotes: true, minifyConditionalComments: true },
  { collapseWhitespaces: 'none', removeEmptyMetadataElements: true, removeComments: true, minifyJs: true },
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
  return out;
};
const TICK = buf('<!doctype html><p>  a  <b> b </b></p><script>let t = 1 + 2</script>');
const TICK_OPTS = buf(JSON.stringify(OPTIONS[1]));
exports.tick = (h) => {
  h.minifySync(TICK, TICK_OPTS);
};
