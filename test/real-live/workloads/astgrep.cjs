// @ast-grep/napi-win32-x64-msvc (Rust, napi-rs, MSVC; tree-sitter grammars in C): structural
// search and rewrite over sources of its five built-in languages. Per source: the tree walked
// (kinds, ranges, fields, parents), pattern matches with their meta-variables (single and
// multiple), rule objects (kind, regex, inside/has/not/any), the node predicates, and edits
// committed back to text; `pattern`/`kind` and the sync and async parsers too. Files and
// processes are not touched, so every round of OLD, NEW and the patched process prints the
// same lines for the same code. Deterministic.
'use strict';
const SOURCES = [
  ['JavaScript', 'const a = 1; let b = a + 2;\nfunction f(x, ...r) { return x ?? r.length; }\nconsole.log(f(a, b), a + b);\nclass K extends B { #p = 1; get g() { return this.#p + 1; } }'],
  ['JavaScript', 'for (const k in o) { if (k) continue; else break; }\ntry { g(`t${1 + 2}`); } catch (e) { console.log(e); } finally {}\nexport default async () => await h(1, 2, 3);'],
  ['TypeScript', 'interface P { x: number; y?: string }\ntype U = A | B<C>;\nfunction add<T extends number>(a: T, b: T): number { return a + b; }\nconst p: P = { x: 1 } as P;\nenum E { A = 1, B }'],
  ['Tsx', 'export function C({ n }: { n: number }) { return <div className="x" onClick={() => f(n + 1)}>{n > 0 ? <b>{n}</b> : null}</div>; }'],
  ['Html', '<!doctype html><html><head><title>t</title></head><body><div id="a" class="b"><p>one</p><p>two<br>three</p></div><script>let x = 1 + 2;</script></body></html>'],
  ['Css', 'a, .b > #c { color: red; margin: 0 auto; }\n@media (max-width: 600px) { .d:hover { padding: 1px 2px; } }\n:root { --v: calc(1px + 2em); }'],
  ['JavaScript', 'const broken = (; function'],
];
const PATTERNS = {
  JavaScript: ['$A + $B', 'console.log($$$ARGS)', 'const $X = $V', 'function $F($$$P) { $$$B }', 'return $E'],
  TypeScript: ['$A + $B', 'function $F<$T>($$$P): $R { $$$B }', 'const $X: $T = $V', 'type $N = $T'],
  Tsx: ['<$T $$$A>$$$C</$T>', '$A + $B', '$C ? $X : $Y'],
  Html: ['<p>$$$C</p>'],
  Css: ['color: $V'],
};
const RULES = [
  { rule: { kind: 'identifier' } },
  { rule: { kind: 'number', inside: { kind: 'binary_expression' } } },
  { rule: { regex: '^[a-c]$', kind: 'identifier' } },
  { rule: { any: [{ kind: 'string' }, { kind: 'template_string' }] } },
  { rule: { kind: 'call_expression', has: { kind: 'arguments', stopBy: 'end' }, not: { regex: 'console' } } },
  { rule: { pattern: '$A + $B' }, constraints: { A: { regex: '^a' } } },
];
const attempt = (f) => {
  try {
    return String(f());
  } catch (e) {
    return `throws ${e && e.message}`;
  }
};
const pos = (r) => `${r.start.line}:${r.start.column}-${r.end.line}:${r.end.column}@${r.start.index}`;
const show = (n) => `${n.kind()}[${pos(n.range())}]${JSON.stringify(n.text().slice(0, 40))}`;
function walk(node, depth, out) {
  const kids = node.children();
  out.push(`${' '.repeat(depth)}${show(node)} named=${node.isNamed()} leaf=${node.isLeaf()} kids=${kids.length}`);
  if (depth < 6) for (const c of kids) walk(c, depth + 1, out);
}
function matches(root, lang, out) {
  for (const p of PATTERNS[lang] ?? []) {
    const found = root.findAll(p);
    out.push(`pattern ${JSON.stringify(p)} ${found.length}`);
    for (const m of found) {
      const vars = ['A', 'B', 'X', 'V', 'F', 'E', 'T', 'N', 'R', 'C', 'Y'].map((v) => m.getMatch(v)).map((n, i) => (n ? `${'ABXVFETNRCY'[i]}=${show(n)}` : '')).filter(Boolean);
      const multi = ['ARGS', 'P', 'B', 'A', 'C'].map((v) => `${v}:${m.getMultipleMatches(v).length}`);
      const parent = m.parent();
      out.push(`  ${show(m)} ${vars.join(' ')} ${multi.join(',')} parent=${parent ? parent.kind() : '-'} next=${m.next()?.kind() ?? '-'} prev=${m.prev()?.kind() ?? '-'}`);
    }
  }
}
function rules(root, out) {
  for (const r of RULES) {
    let s;
    try {
      const found = root.findAll(r);
      s = `${found.length} ${found.slice(0, 6).map(show).join(' ')}`;
    } catch (e) {
      s = `throws ${e && e.message}`;
    }
    out.push(`rule ${JSON.stringify(r)} ${s}`);
  }
}
function predicates(root, out) {
  const ids = root.findAll({ rule: { kind: 'identifier' } }).slice(0, 8);
  for (const n of ids)
    out.push(
      `ident ${show(n)} inside-fn=${attempt(() => n.inside({ rule: { kind: 'function_declaration' } }))} has=${attempt(() => n.has('$X'))} matches=${attempt(() => n.matches('a'))} follows=${attempt(() => n.follows({ rule: { kind: 'identifier' } }))} precedes=${attempt(() => n.precedes({ rule: { kind: 'identifier' } }))} ancestors=${n.ancestors().length}`,
    );
  const fn = root.find({ rule: { kind: 'function_declaration' } });
  if (fn) out.push(`field name=${fn.field('name')?.text() ?? '-'} params=${fn.field('parameters')?.text() ?? '-'} body-kids=${fn.field('body')?.children().length ?? '-'} fieldChildren=${fn.fieldChildren('name').length}`);
}
function edits(root, lang, out) {
  const p = (PATTERNS[lang] ?? [])[0];
  if (p === undefined) return;
  const found = root.findAll(p);
  const es = found.map((m) => m.replace(`(${m.text().split('').reverse().join('')})`));
  out.push(`edits ${es.length} ${es.map((e) => `${e.startPos}-${e.endPos}`).join(',')}`);
  out.push(`committed ${JSON.stringify(root.commitEdits(es))}`);
}
exports.run = async (sg) => {
  const out = [];
  out.push(`langs ${Object.keys(sg.Lang).sort().join(',')}`);
  for (const [i, [lang, src]] of SOURCES.entries()) {
    const tree = sg.parse(lang, src);
    const root = tree.root();
    out.push(`source ${i} ${lang} filename=${tree.filename()} ${show(root)}`);
    // A rule naming a kind the language lacks throws; the message is part of the output.
    for (const [name, step] of [['walk', () => walk(root, 0, out)], ['matches', () => matches(root, lang, out)], ['rules', () => rules(root, out)], ['predicates', () => predicates(root, out)], ['edits', () => edits(root, lang, out)]]) {
      try {
        step();
      } catch (e) {
        out.push(`${name} throws ${e && e.message}`);
      }
    }
    const again = await sg.parseAsync(lang, src);
    out.push(`async ${show(again.root())} same=${again.root().text() === root.text()}`);
  }
  for (const [lang, name] of [['JavaScript', 'identifier'], ['TypeScript', 'type_identifier'], ['Css', 'declaration'], ['Html', 'element'], ['Tsx', 'jsx_element'], ['JavaScript', 'no_such_kind']]) {
    let s;
    try {
      s = String(sg.kind(lang, name));
    } catch (e) {
      s = `throws ${e && e.message}`;
    }
    out.push(`kind ${lang} ${name} ${s}`);
  }
  for (const [lang, p] of [['JavaScript', 'a + $B'], ['TypeScript', 'let $X: $T'], ['Css', 'color: $V']]) {
    let s;
    try {
      s = JSON.stringify(sg.pattern(lang, p));
    } catch (e) {
      s = `throws ${e && e.message}`;
    }
    out.push(`pattern() ${lang} ${JSON.stringify(p)} ${s}`);
  }
  for (const [name, src] of [['js', 'let q = 1 + 2 * 3;'], ['ts', 'let q: number = f<T>(1);'], ['tsx', 'const e = <a href="x">y</a>;'], ['css', 'p { color: blue }'], ['html', '<b>x</b>']]) {
    const r = sg[name].parse(src).root();
    out.push(`${name}.parse ${show(r)} nodes=${attempt(() => r.findAll({ rule: { any: [{ kind: 'identifier' }, { kind: 'number' }] } }).length)} tags=${attempt(() => r.findAll({ rule: { kind: 'tag_name' } }).length)}`);
  }
  return out;
};
const TICK = 'const t = a + b * c; function g(x) { return x + 1 }';
exports.tick = (sg) => {
  const root = sg.parse('JavaScript', TICK).root();
  root.findAll('$A + $B').forEach((m) => m.getMatch('A')?.text());
  root.find({ rule: { kind: 'return_statement' } })?.text();
};
