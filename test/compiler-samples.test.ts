/**
 * The compiler on every sample scenario, with symbols and stripped: the diff finds the
 * changed functions the scenario names, build (emit + verify) succeeds for hotpatchable
 * ones and the package survives encode -> load -> verify and an in-memory apply; unsafe
 * ones are refused with the right reason; every DLL diffed with itself is empty.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, emitPackage, verifyFiles, verifyPackage, type ImageDiff } from '../compiler/index.ts';
import { encodePackage, loadPackage } from '../formats/container.ts';
import { applyPackage } from '../runtime/apply/apply-package.ts';
import { MemoryBackend } from '../runtime/backends/memory-backend.ts';
import { loadProcessImage } from '../runtime/image/load-image.ts';
import { expectationOf, readScenarios, scenarioDll, TOOLCHAINS, type SampleVersion, type Scenario, type Toolchain } from '../samples/scenarios.ts';

const read = (name: string, v: SampleVersion, stripped: boolean, tc: Toolchain = 'gcc'): Uint8Array => new Uint8Array(readFileSync(scenarioDll(name, v, stripped, undefined, tc)));

function mustDiff(o: Uint8Array, n: Uint8Array): ImageDiff {
  const d = diffFiles(o, n);
  if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
  return d.value;
}

/** RVA of each named function in the build with symbols (stripped builds share the layout). */
function rvasOf(name: string, v: SampleVersion, fns: readonly string[], tc: Toolchain): Map<string, number> {
  const d = mustDiff(read(name, v, false, tc), read(name, v, false, tc));
  const out = new Map<string, number>();
  for (const f of d.match.new.fns.functions) for (const n of f.names) if (fns.includes(n)) out.set(n, f.entry);
  return out;
}

const scenarios = readScenarios();

/** The refusal reason each must-refuse scenario's diff must give (symbols or stripped). */
const REFUSAL: Record<string, RegExp> = {
  'global-init': /initial value/,
  'struct-layout': /layout/,
  'padded-struct': /changed layout|no counterpart in the old image|does not hold the two globals adjacent/,
  'object-layout': /structure layout changed: field offsets shift by [+-]\d+ from 0x[0-9a-f]+ \(needs a baseline\)/,
  // No field moves, so only the added-field rule (compiler/diff/added-field.ts) sees it.
  'object-field-added': /structure layout changed: accesses \[arg1\+0x20\] \(8 bytes\), past the old function's last field access \+0x18 on that pointer \(a field added; needs a baseline\)/,
  // No code-pointer table was compared before compiler/diff/code-tables.ts: every build was patched.
  'vtable-append': /code pointer table at \.rdata 0x[0-9a-f]+.* \(old \.rdata 0x[0-9a-f]+.*\): 1 -> 2 slots; it installs the new table, but objects built before the patch keep the old table/,
  'vtable-insert': /code pointer table at \.rdata 0x[0-9a-f]+.* \(old \.rdata 0x[0-9a-f]+.*\): 2 -> 3 slots; it installs the new table, but objects built before the patch keep the old table/,
  'vtable-reorder': /code pointer table at \.rdata 0x[0-9a-f]+.* \(old \.rdata 0x[0-9a-f]+.*\): 2 slots, reordered from slot 0; it installs the new table, but objects built before the patch keep the old table/,
  'ops-insert': /code pointer table at \.rdata 0x[0-9a-f]+.* \(old \.rdata 0x[0-9a-f]+.*\): 2 -> 3 slots; it installs the new table, but objects built before the patch keep the old table/,
  'exported-const': /exported data hp_limits changed value/,
  'enum-renumber': /structure layout changed: field offsets shift by \+8 from 0x[0-9a-f]+ \(needs a baseline\)/,
  'enum-global': /structure layout changed: field offsets shift by \+8 from 0x[0-9a-f]+ \(needs a baseline\)/,
  // compiler/diff/load-time-only.ts: found from the .ctors list and the entry point, not symbols.
  'static-ctor': /static constructor changed: \S+ is reached only from static constructor \S+ \(\.ctors entry \d+ of \d+\), via \S+ -> \S+: it ran when the module loaded/,
  'c-constructor': /static constructor changed: \S+ is the static constructor \(\.ctors entry \d+ of \d+\): it ran when the module loaded/,
  'guarded-static': /function-local static initialiser changed: \S+ is called only from the guarded initialisation of a function-local static in \S+ \(guard 0x[0-9a-f]+\)(, via \S+ -> \S+)?: it ran when the first call initialised the static/,
  'dllmain-attach': /DllMain code changed: \S+ is reached only from the DLL entry point \S+ .*, via \S+ -> \S+ -> \S+: its DLL_PROCESS_ATTACH work ran when the module loaded/,
  // GCC interprocedural register allocation (compiler/diff/caller-registers.ts): old total keeps
  // its loop counter (edx) and sum (r8d) across call mix; the new mix writes both.
  'ipra-clobber': /old (total|0x[0-9a-f]+) keeps rdx, r8 across its call to (mix|0x[0-9a-f]+) at 0x[0-9a-f]+; the new (mix|0x[0-9a-f]+) clobbers rdx, r8 \(GCC interprocedural register allocation\)/,  // The export scale_by reads k from rdx in v2; old importers pass x alone (compiler/diff/entry-arguments.ts).
  'entry-args': /its new body reads rdx at entry, which the old body never read: old callers left active \(the export scale_by\) do not pass it/,
  // The export pick(p, i) became pick(i, p): the same registers, other roles (compiler/diff/argument-roles.ts).
  'entry-args-roles': /it dereferences rdx, which its old body used as an integer \(parameters reordered or removed\?\): old callers left active \(the export pick\) pass what the old signature meant there/,
  // compiler/diff/rodata-escape.ts: OLD use_default's lea of default_cfg reaches a store to g_cfg.
  // An LLVM self-relative table with no bound check and no lengths table beside it (clang);
  // before compiler/disasm/relative-tables.ts scanned its entries for the diff, tok_str looked
  // unchanged (the table's bytes stay when a string changes in place) and the build was patched.
  'enum-unbounded': /self-relative table at 0x[0-9a-f]+ \(entries relative to the table\) has no bound check this compiler recognises: its extent is unknown/,
  'rodata-escape': /read-only object (default_cfg|\.rdata 0x[0-9a-f]+) \(OLD 0x[0-9a-f]+\) changed content and its OLD address escapes \(OLD code at 0x[0-9a-f]+ takes it; it is stored to memory at 0x[0-9a-f]+\): pointers taken before the patch keep the old object/,
  // The export gather(a, b, c, d, p, n) became gather(a, b, c, d, n, p): the same stack slots, other
  // roles (compiler/diff/stack-arguments.ts stackArgumentRoles).
  'entry-args-stack': /it dereferences the stack argument \[rsp\+0x30\], which its old body used as an integer \(parameters reordered or removed\?\): old callers left active \(the export gather\) pass what the old signature meant there/,
  // The export ratio(num, den) became ratio(den, num): the same registers and roles; the module's
  // caller passes its constants swapped (compiler/diff/argument-permutation.ts).
  'entry-args-swap': /its new body reads rcx and rdx as its old body did, but its callers in the module now pass them swapped \(old (ratio_all|0x[0-9a-f]+) passed 60, 7 there; its new body 7, 60: parameters reordered\?\): old callers left active \(the export ratio\) pass what the old signature meant there/,
  // area_of(b, s) became area_of(s, b): the fields read through rcx and rdx moved to each other
  // (compiler/diff/pointer-fields.ts); mix3(a, b, c) became mix3(a, c): the caller now passes in rdx
  // what it passed in r8 (compiler/diff/argument-permutation.ts shiftedArguments). Both refused.
  'entry-args-order': /^(?=[\s\S]*its new body dereferences rdx at the fields its old body read through rcx \(\+0x0 \(4 bytes\), \+0x4 \(4 bytes\)\) and rcx at those it read through rdx \(\+0x0 \(8 bytes\)\), and neither at its own old ones \(two pointer parameters reordered\?\): old callers left active \(the export area_of\))(?=[\s\S]*its new body stops reading r8, and its callers in the module now pass in rdx what they passed in r8 \(old (mix_all|0x[0-9a-f]+) passed 5, 7 in rdx, r8; its new body 7 in rdx: a parameter removed\?\): old callers left active \(the export mix3\) pass what the old signature meant there)/,
  // A pin: step_a and step_b, reached by run's loop through a const table, gain a parameter; no
  // quiescent range can name an indirect call's callee, but the table makes each a root.
  'caller-loop-pointer': /its new body reads rdx at entry, which the old body never read: old callers left active \(a pointer in \.rdata 0x[0-9a-f]+[;)]/,
  // gather_api is `jmp gather_impl` in both builds; gather_impl's fifth and sixth parameters swap
  // (compiler/diff/entry-arguments.ts: stack roles through tail jumps at an unchanged root's entry).
  'entry-args-thunk': /it dereferences the stack argument \[rsp\+0x30\], which old gather_api did before the patch used as an integer \(parameters reordered or removed\?\) \(through old gather_api, which enters it and is unchanged\): old callers left active \(the export gather_api\) pass what the old signature meant there/,
  'computed-goto': /code address 0x[0-9a-f]+ inside the function is stored as data \(a label used as a value\): a copy old code kept would resume the old body/,
  // An array's element grew 8 -> 12 bytes at its end: no field moves and no new constant offset,
  // only the loop steps and index scales show it (compiler/diff/element-stride.ts).
  // Pins (refused before the samples were written): gcc's emulated-TLS control object carries
  // the thread-local array's size, clang's TLS template grows; a grown .bss array grows its section.
  'tls-resize': /writable global \S+ changed initial value \(or layout\)|TLS template changed size/,
  'bss-array-grow': /writable section \.(bss|data) changed size \(0x[0-9a-f]+ -> 0x[0-9a-f]+ bytes\): globals were added, removed or resized/,
  'heap-stride': /structure layout changed: walks the array at arg1 in 0xc-byte elements \((steps|index scale) of 0xc at 0x[0-9a-f]+\), the old function in 0x8-byte ones \((steps|index scale) of 0x8 at 0x[0-9a-f]+\) \(an element grown or shrunk; needs a baseline\)/,
};

describe.each(TOOLCHAINS.flatMap((tc) => scenarios.flatMap((s) => [false, true].map((stripped) => [s, stripped, tc] as const))))('%s', (s: Scenario, stripped: boolean, tc: Toolchain) => {
  const tag = `${tc}, ${stripped ? 'stripped' : 'symbols'}`;
  for (const step of s.steps) {
    test(`${s.name} ${step.from}->${step.to} (${tag})`, async () => {
      const o = read(s.name, step.from, stripped, tc);
      const n = read(s.name, step.to, stripped, tc);
      const d = mustDiff(o, n);
      const reasons = [...d.data.filter((x) => x.verdict === 'refused').map((x) => `${x.name ?? ''}: ${x.reason.message}`), ...d.functions.filter((f) => f.verdict === 'refused').map((f) => f.reason?.message ?? '')];
      const { expect: expected, miss, safe } = expectationOf(s, step, tc, stripped);
      // A must-refuse scenario's safeWith build changes its own list of functions.
      const fns = safe?.functions ?? step.functions;
      if (miss !== undefined) {
        // A known false refusal: exactly this one, until the class is fixed.
        expect(d.hotpatchable, `known miss ${miss.class}`).toBe(false);
        expect(reasons.join('\n')).toMatch(new RegExp(miss.reason));
        return;
      }
      const changedRvas = new Set<number | null>(d.functions.filter((f) => f.status === 'changed').map((f) => f.newRva));
      const addedRvas = new Set<number | null>(d.functions.filter((f) => f.status === 'added').map((f) => f.newRva));
      const want = rvasOf(s.name, step.to, [...fns, ...(step.added ?? [])], tc);
      for (const fn of fns) expect(changedRvas.has(want.get(fn)!), `${fn} changed`).toBe(true);
      // Which cold parts a compiler splits off is its own business (gcc: apply_op.cold).
      if (tc === 'gcc') for (const fn of step.added ?? []) expect(addedRvas.has(want.get(fn)!), `${fn} added`).toBe(true);
      for (const fn of step.sameCode ?? []) {
        expect(d.functions.find((f) => f.newRva === want.get(fn))?.dataOnly, `${fn}: code same, data changed`).toBe(true);
      }

      if (expected === 'refused') {
        expect(d.hotpatchable).toBe(false);
        expect(reasons.length).toBeGreaterThan(0);
        expect(reasons.join('\n')).toMatch(REFUSAL[s.name] ?? /initial value/);
        // With symbols the refusal names the variable.
        if (!stripped) for (const g of step.data ?? []) expect(d.data.some((x) => x.name === g && x.verdict === 'refused'), `${g} refused`).toBe(true);
        const b = buildFromDiff(d, { moduleName: `${s.name}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
        expect(b.ok).toBe(false);
        if (!b.ok) expect(b.error.code).toBe('BUILD_REFUSED');
        return;
      }

      expect(d.data.filter((x) => x.verdict === 'refused')).toEqual([]);
      expect(d.functions.filter((f) => f.verdict === 'refused').map((f) => `${f.name}: ${f.reason?.message ?? ''}`)).toEqual([]);
      expect(d.hotpatchable).toBe(true);
      const b = buildFromDiff(d, { moduleName: `${s.name}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
      if (!b.ok) throw new Error(`${b.error.code}: ${b.error.message}`);
      const pkg = b.value.emitted.pkg;
      for (const fn of fns) expect(pkg.functions.some((r) => r.newRva === want.get(fn) && r.status === 'changed'), `${fn} carried`).toBe(true);
      expect(b.value.verified.instructions).toBeGreaterThan(0);

      // Round trip through the container, then verify the decoded package from the files.
      const bytes = await encodePackage(pkg);
      if (!bytes.ok) throw new Error(bytes.error.message);
      const loaded = await loadPackage(bytes.value, { trusted: [], allowUnsigned: true, readOnly: true });
      if (!loaded.ok) throw new Error(loaded.error.message);
      const v = verifyFiles(o, n, loaded.value.package);
      if (!v.ok) throw new Error(`${v.error.code}: ${v.error.message}`);
      expect(v.value.functions).toBe(pkg.functions.length);

      // The runtime accepts it: identity, original bytes, fixups, unwind, redirects.
      const img = loadProcessImage(o, { name: `${s.name}.dll` });
      if (!img.ok) throw new Error(img.error.message);
      const applied = await applyPackage(loaded.value.package, new MemoryBackend(img.value));
      if (!applied.ok) throw new Error(`${applied.error.code}: ${applied.error.message}`);
      expect(applied.value.functions.length).toBe(pkg.functions.length);
    });
  }
  test(`${s.name}: each DLL diffed with itself is empty (${tag})`, () => {
    for (const v of s.versions) {
      const b = read(s.name, v, stripped, tc);
      const d = mustDiff(b, b);
      expect(d.functions.filter((f) => f.status !== 'unchanged')).toEqual([]);
      expect(d.data).toEqual([]);
      expect(d.hotpatchable).toBe(true);
    }
  });
});

test('series: the cumulative package from the baseline carries every change since it', () => {
  const o = read('series', 'v1', false);
  const n = read('series', 'v3', false);
  const d = mustDiff(o, n);
  const b = buildFromDiff(d, { moduleName: 'series.dll', skipRefused: false, series: { baselineId: 'series-v1', sequence: 2 }, compilerVersion: COMPILER_VERSION });
  if (!b.ok) throw new Error(b.error.message);
  expect(b.value.emitted.pkg.series).toEqual({ baselineId: 'series-v1', sequence: 2 });
  expect(b.value.emitted.pkg.functions.map((f) => f.name).sort()).toEqual(['vowel_count', 'word_count']);
});

test('--skip-refused leaves a consumer out whose producer it leaves old (enum-renumber, both compilers)', () => {
  // classify (refused: struct item's layout changed) returns an enum whose numbering moved;
  // kind_name alone is hotpatchable, but new kind_name fed by old classify names every kind
  // wrong. The unchanged caller that joins them makes kind_name stay old too.
  for (const tc of ['gcc', 'clang'] as const) {
    for (const stripped of [false, true]) {
      const d = mustDiff(read('enum-renumber', 'v1', stripped, tc), read('enum-renumber', 'v2', stripped, tc));
      const name = stripped ? null : 'kind_name';
      const consumer = d.functions.filter((f) => f.status === 'changed' && f.verdict === 'hotpatchable' && (name === null || f.name === name));
      expect(consumer.length, `${tc} ${stripped}: kind_name is hotpatchable on its own`).toBeGreaterThan(0);
      expect(d.functions.filter((f) => f.reason?.code === 'STRUCTURE_LAYOUT_CHANGED').length).toBe(2);
      const b = buildFromDiff(d, { moduleName: 'enum-renumber.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
      if (!b.ok) throw new Error(b.error.message);
      const carried = new Set(b.value.emitted.pkg.functions.map((f) => Number(f.newRva)));
      // Every hotpatchable change the package still carries is not kind_name (clang: lld's moved CRT code).
      const kn = d.functions.find((f) => f.status === 'changed' && f.verdict === 'hotpatchable' && b.value.emitted.omitted.some((x) => x.what === `function ${f.name ?? `0x${f.newRva!.toString(16)}`}` && /which stays old \(changed, not carried\), and may pass values/.test(x.reason)));
      expect(kn, `${tc} ${stripped}: kind_name left out beside old classify`).toBeDefined();
      expect(carried.has(kn!.newRva!)).toBe(false);
      if (!stripped) expect(kn!.name).toBe('kind_name');
    }
  }
});

test('the verifier rejects a package that carries kind_name next to old classify (enum-renumber)', () => {
  const d = mustDiff(read('enum-renumber', 'v1', false), read('enum-renumber', 'v2', false));
  // The package an emitter without the rule would write: item_set and classify stay old
  // (presented to it as unchanged), kind_name is carried.
  const stayOld = new Set(['item_set', 'classify']);
  const functions = d.functions.map((f) => (f.name !== null && stayOld.has(f.name) ? { ...f, status: 'unchanged' as const, verdict: null, reason: null } : f));
  const e = emitPackage({ ...d, functions }, { moduleName: 'enum-renumber.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
  if (!e.ok) throw new Error(e.error.message);
  expect(e.value.pkg.functions.map((f) => f.name)).toEqual(['kind_name']);
  const v = verifyPackage(d, e.value.pkg);
  expect(v.ok).toBe(false);
  if (!v.ok) {
    expect(v.error.code).toBe('VERIFY_MISMATCH');
    expect(v.error.message).toMatch(/references carried function kind_name and changed function classify, which the package leaves old/);
  }
});

test('--skip-refused leaves a consumer out that shares a global with a producer it leaves old (enum-global, both compilers)', () => {
  // classify_store (refused) stores an enum whose numbering moved into g_last_kind;
  // last_kind_name reads it. No call joins them and no unchanged function references both:
  // only the global does (with symbols the global itself, stripped its whole section).
  for (const tc of ['gcc', 'clang'] as const) {
    for (const stripped of [false, true]) {
      const d = mustDiff(read('enum-global', 'v1', stripped, tc), read('enum-global', 'v2', stripped, tc));
      const consumer = d.functions.filter((f) => f.status === 'changed' && f.verdict === 'hotpatchable');
      expect(consumer.length, `${tc} ${stripped}: last_kind_name is hotpatchable on its own`).toBe(1);
      const b = buildFromDiff(d, { moduleName: 'enum-global.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
      if (!b.ok) throw new Error(b.error.message);
      expect(b.value.emitted.pkg.functions).toEqual([]);
      const what = `function ${consumer[0]!.name ?? `0x${consumer[0]!.newRva!.toString(16)}`}`;
      const why = b.value.emitted.omitted.find((x) => x.what === what)?.reason;
      expect(why, `${tc} ${stripped}`).toMatch(stripped ? /which stays old \(changed, not carried\), both use writable section \.(data|bss) \(no symbol/ : /it and classify_store, which stays old \(changed, not carried\), both use writable global g_last_kind/);
    }
  }
});

test('the verifier rejects a package that carries last_kind_name next to old classify_store (enum-global)', () => {
  const d = mustDiff(read('enum-global', 'v1', false), read('enum-global', 'v2', false));
  // What an emitter without the shared-global rule would write: the producer stays old, the consumer is carried.
  const stayOld = new Set(['item_set', 'classify_store']);
  const presented = d.functions.map((f) => (f.name !== null && stayOld.has(f.name) ? { ...f, status: 'unchanged' as const, verdict: null, reason: null } : f));
  const e = emitPackage({ ...d, functions: presented }, { moduleName: 'enum-global.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
  if (!e.ok) throw new Error(e.error.message);
  expect(e.value.pkg.functions.map((f) => f.name)).toEqual(['last_kind_name']);
  const v = verifyPackage(d, e.value.pkg);
  expect(v.ok).toBe(false);
  if (!v.ok) {
    expect(v.error.code).toBe('VERIFY_MISMATCH');
    expect(v.error.message).toMatch(/carried function last_kind_name and changed function classify_store, which the package leaves old, both use writable global g_last_kind/);
  }
});

test('--skip-refused leaves the refused change out and says so', () => {
  const d = mustDiff(read('struct-layout', 'v1', false), read('struct-layout', 'v2', false));
  const b = buildFromDiff(d, { moduleName: 'struct-layout.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) throw new Error(b.error.message);
  expect(b.value.emitted.pkg.functions).toEqual([]);
  expect(b.value.emitted.omitted.map((x) => x.what)).toEqual(expect.arrayContaining(['function settings_score', 'global g_settings']));
});

test('object-field-added: only the added-field rule refuses it, on both changed functions (both compilers, symbols and stripped)', () => {
  // A field appended to struct session moves no other field, so the shift rule has nothing
  // to see: without compiler/diff/added-field.ts every build of this pair would be patched.
  for (const tc of TOOLCHAINS) {
    for (const stripped of [false, true]) {
      const d = mustDiff(read('object-field-added', 'v1', stripped, tc), read('object-field-added', 'v2', stripped, tc));
      const want = rvasOf('object-field-added', 'v2', ['session_init', 'session_score'], tc);
      const refused = d.functions.filter((f) => f.verdict === 'refused');
      expect(refused.map((f) => f.newRva).sort(), `${tc} ${stripped ? 'stripped' : 'symbols'}`).toEqual([...want.values()].sort());
      expect(refused.map((f) => f.reason?.code)).toEqual(['STRUCTURE_FIELD_ADDED', 'STRUCTURE_FIELD_ADDED']);
      expect(d.data.filter((x) => x.verdict === 'refused')).toEqual([]);
    }
  }
});

test('vtable-append, vtable-insert, vtable-reorder, ops-insert: only the code-table rule refuses, the installer and the slot caller (both compilers, symbols and stripped)', () => {
  // Without compiler/diff/code-tables.ts each of these was hotpatchable, and live under Wine
  // the patched host crashed (vtable-append, vtable-insert: a call past the old vtable) or
  // printed other values than NEW (ops-insert).
  // [scenario, [installer, slot caller], the caller's message: slot, why, first changed slot]
  const NEVER = 'an offset its old body never calls';
  const cases = [
    ['vtable-append', ['make_shape', 'report'], ['+0x8', NEVER, 1]],
    ['vtable-insert', ['make_shape', 'report'], ['+0x10', NEVER, 1]],
    ['vtable-reorder', ['make_shape', 'report'], ['+0x8', 'its old body calls its slots in another order', 0]],
    ['ops-insert', ['engine_init', 'engine_run'], ['+0x10', NEVER, 1]],
  ] as const;
  for (const [name, [installer, caller], [slot, why, first]] of cases) {
    for (const tc of TOOLCHAINS) {
      for (const stripped of [false, true]) {
        const tag = `${name} ${tc} ${stripped ? 'stripped' : 'symbols'}`;
        const d = mustDiff(read(name, 'v1', stripped, tc), read(name, 'v2', stripped, tc));
        const want = rvasOf(name, 'v2', [installer, caller], tc);
        const refused = d.functions.filter((f) => f.verdict === 'refused');
        expect(refused.map((f) => f.reason?.code), tag).toEqual(['CODE_TABLE_LAYOUT_CHANGED', 'CODE_TABLE_LAYOUT_CHANGED']);
        const byRva = new Map<number | null, string>(refused.map((f) => [f.newRva, f.reason?.message ?? '']));
        expect(byRva.get(want.get(installer)!), tag).toMatch(/it installs the new table/);
        expect(byRva.get(want.get(caller)!), tag).toMatch(new RegExp(`calls through slot \\${slot} of a table pointer \\(${why}\\), at or past the first changed slot \\(${first}\\)`));
        expect(d.data.filter((x) => x.verdict === 'refused'), tag).toEqual([]);
      }
    }
  }
});

test('entry-args: only the entry-arguments rule refuses, the five functions whose new entry reads what old outside callers do not pass; --skip-refused carries none of their callers (both compilers, symbols and stripped)', () => {
  // Before compiler/diff/entry-arguments.ts each build was patched; live under Wine a module
  // compiled against v1 then got garbage from scale_by, api_scale and weigh.
  // [function, what its new body reads, how old outside callers reach it]
  const cases = [
    ['scale_by', 'rdx', /\(the export scale_by\)/],
    ['op_shift', 'rdx', /\(a pointer in \.rdata 0x[0-9a-f]+\)/],
    ['weigh', '\\[rsp\\+0x30\\]', /\(the export weigh\)/],
    ['scale_impl', 'rdx', /\(through old api_scale, which enters it and is unchanged\).*\(the export api_scale\)/],
    // Its 12-byte result now comes back through a hidden pointer in rcx, which moves x to rdx.
    ['make_span', 'rdx', /\(the export make_span\)/],
  ] as const;
  for (const tc of TOOLCHAINS) {
    for (const stripped of [false, true]) {
      const tag = `${tc} ${stripped ? 'stripped' : 'symbols'}`;
      const d = mustDiff(read('entry-args', 'v1', stripped, tc), read('entry-args', 'v2', stripped, tc));
      const want = rvasOf('entry-args', 'v2', cases.map(([f]) => f), tc);
      const refused = d.functions.filter((f) => f.verdict === 'refused');
      expect(refused.map((f) => f.reason?.code), tag).toEqual(cases.map(() => 'ENTRY_ARGUMENTS_CHANGED'));
      const byRva = new Map<number | null, string>(refused.map((f) => [f.newRva, f.reason?.message ?? '']));
      for (const [fn, reads, via] of cases) {
        const msg = byRva.get(want.get(fn)!) ?? '';
        expect(msg, `${tag} ${fn}`).toMatch(new RegExp(`^its new body reads ${reads} at entry`));
        expect(msg, `${tag} ${fn}`).toMatch(via);
      }
      const b = buildFromDiff(d, { moduleName: 'entry-args.dll', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
      if (!b.ok) throw new Error(b.error.message);
      // scaled_sum, run_op, weigh_all, use_api, span_width call the refused functions the new way: left out with them (left-old.ts).
      expect(b.value.emitted.pkg.functions, tag).toEqual([]);
    }
  }
});

test('entry-args-fix: a parameter added to a function only changed callers reach, and an export reading the same registers, are patched (both compilers, symbols and stripped)', () => {
  for (const tc of TOOLCHAINS) {
    for (const stripped of [false, true]) {
      const d = mustDiff(read('entry-args-fix', 'v1', stripped, tc), read('entry-args-fix', 'v2', stripped, tc));
      expect(d.functions.filter((f) => f.verdict === 'refused'), `${tc} ${stripped}`).toEqual([]);
      expect(d.functions.filter((f) => f.status === 'changed').length, `${tc} ${stripped}`).toBe(3);
    }
  }
});
