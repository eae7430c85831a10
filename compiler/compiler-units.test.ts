/**
 * Unit tests of the compiler stages on real sample binaries: function discovery, jump
 * tables, the GCC LSDA reader, redirect planning, malformed input, and a verifier that
 * catches tampered packages.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { scenarioDll, type SampleVersion } from '../samples/scenarios.ts';
import { buildFromDiff, COMPILER_VERSION, diffFiles, findFunctions, REASON_CODES, verifyPackage, type ImageDiff } from './index.ts';
import { planRedirect } from './diff/diff-images.ts';
import { parseGccLsda } from './eh/gcc-lsda.ts';
import type { HotpatchPackage } from '../formats/package.ts';
import { asRva } from '../common/types.ts';

const read = (name: string, v: SampleVersion, stripped = false): Uint8Array => new Uint8Array(readFileSync(scenarioDll(name, v, stripped)));

function mustDiff(o: Uint8Array, n: Uint8Array): ImageDiff {
  const d = diffFiles(o, n);
  if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
  return d.value;
}

describe('functions', () => {
  test('a 3-byte leaf is found and ends after its code, not at the next function', () => {
    const t = findFunctions(read('tiny-function', 'v1'));
    if (!t.ok) throw new Error(t.error.message);
    const f = t.value.functions.find((x) => x.name === 'feature_level')!;
    expect(f.sources).toContain('symbol');
    expect(f.ranges).toEqual([{ start: f.entry, end: f.entry + 3 }]); // xor eax,eax; ret
  });

  test('a stripped DLL still yields its functions from .pdata, exports and descent', () => {
    const withSyms = findFunctions(read('logic-fix', 'v1'));
    const stripped = findFunctions(read('logic-fix', 'v1', true));
    if (!withSyms.ok || !stripped.ok) throw new Error('parse');
    const a = withSyms.value.functions.map((f) => f.entry);
    const b = stripped.value.functions.map((f) => f.entry);
    // Every function with .pdata or an export is found in both.
    for (const f of withSyms.value.functions) if (f.sources.includes('pdata') || f.sources.includes('export')) expect(b).toContain(f.entry);
    expect(stripped.value.functions.some((f) => f.sources.includes('descent'))).toBe(true);
    expect(a.length).toBeGreaterThan(20);
  });

  test('a gcc switch jump table is recovered with its bound, every case inside the function', () => {
    const t = findFunctions(read('switch-table', 'v1'));
    if (!t.ok) throw new Error(t.error.message);
    const f = t.value.functions.find((x) => x.name === 'apply_op')!;
    expect(f.decoded.jumpTables.length).toBe(1);
    const jt = f.decoded.jumpTables[0]!;
    expect(jt.entryKind).toBe('rel32');
    expect(jt.targets.length).toBeGreaterThanOrEqual(10);
    for (const target of jt.targets) expect(target >= f.entry && target < f.ranges[0]!.end).toBe(true);
    expect(f.decoded.problems).toEqual([]);
  });
});

describe('GCC LSDA', () => {
  test('parse_port: call sites inside the function, one type-table entry', () => {
    const bytes = read('cpp-exceptions', 'v2');
    const t = findFunctions(bytes);
    if (!t.ok) throw new Error(t.error.message);
    const f = t.value.functions.find((x) => x.name === 'parse_port')!;
    const rf = f.pdata[0]!;
    const u = rf.unwind!;
    expect(u.flags & 3).not.toBe(0);
    const d = mustDiff(bytes, bytes);
    const image = d.match.new.img.image;
    const lsda = parseGccLsda(image, rf.unwindInfoAddress + u.size, rf.endAddress - rf.beginAddress, d.match.new.img.imageBase);
    expect(lsda).not.toBeNull();
    expect(lsda!.typeRefs.length).toBe(1);
    // The type entry points at a pointer to the type_info (a data item of the image).
    expect(d.match.new.itemAt(lsda!.typeRefs[0]!.target)).toBeDefined();
    // A function shorter than its call sites is not this LSDA's function: refused, not misread.
    expect(parseGccLsda(image, rf.unwindInfoAddress + u.size, 8, d.match.new.img.imageBase)).toBeNull();
  });

  test('a changed call-site table with identical code makes the function changed', () => {
    const bytes = read('cpp-exceptions', 'v1');
    const d = mustDiff(bytes, bytes);
    const f = d.match.old.fns.functions.find((x) => x.name === 'parse_port')!;
    const rf = f.pdata[0]!;
    const lsdaRva = rf.unwindInfoAddress + rf.unwind!.size;
    const sec = d.match.old.img.pe.sections.find((x) => x.virtualAddress <= lsdaRva && lsdaRva < x.virtualAddress + x.virtualSize)!;
    const fileOff = sec.pointerToRawData + (lsdaRva - sec.virtualAddress);
    // Header: LPStart omit, TType enc, TType offset (uleb), call-site enc, table length; then
    // the first call site's start (uleb). Shift its start by one byte.
    const mutated = bytes.slice();
    expect(mutated[fileOff]).toBe(0xff);
    let p = fileOff + 2;
    while ((mutated[p]! & 0x80) !== 0) p++;
    p += 3; // end of TType offset, call-site encoding, table length (one byte here)
    mutated[p] = mutated[p]! ^ 0x01;
    const changed = mustDiff(bytes, mutated);
    const c = changed.functions.find((x) => x.oldRva === f.entry)!;
    expect(c.status).toBe('changed');
  });

  test('unknown encodings are refused', () => {
    const lsda = Uint8Array.of(0x00, 0x9b, 0x05, 0x01, 0x00, 0, 0, 0, 0);
    expect(parseGccLsda(lsda, 0, 100, 0n)).toBeNull(); // LPStart present
    expect(parseGccLsda(Uint8Array.of(0xff, 0x03, 0x01, 0x01, 0x00), 0, 100, 0n)).toBeNull(); // udata4 type table
    expect(parseGccLsda(Uint8Array.of(0xff, 0xff, 0x03, 0x00), 0, 100, 0n)).toBeNull(); // udata4 call sites
    expect(parseGccLsda(Uint8Array.of(0xff, 0xff, 0x01, 0x04, 0x00, 0x10, 0x00, 0x00), 0, 100, 0n)).toEqual({ length: 8, typeRefs: [] });
  });
});

describe('redirect sites', () => {
  test('a 3-byte function with nop padding after it takes a 5-byte jump; without padding it is refused', () => {
    const bytes = read('tiny-function', 'v1');
    const d = mustDiff(bytes, bytes);
    const f = d.match.old.fns.functions.find((x) => x.name === 'feature_level')!;
    expect(planRedirect(d.match.old, f)).toEqual({ kind: 'jmp-rel32' });
    // Put code-like bytes right after it: the redirect would overwrite them.
    const patched = bytes.slice();
    const sec = d.match.old.img.pe.sections.find((s) => s.virtualAddress <= f.entry && f.entry < s.virtualAddress + s.virtualSize)!;
    const fileOff = sec.pointerToRawData + (f.entry - sec.virtualAddress);
    patched.fill(0x53, fileOff + 3, fileOff + 16); // push rbx ...
    const d2 = mustDiff(patched, patched);
    const f2 = d2.match.old.fns.functions.find((x) => x.name === 'feature_level')!;
    const r = planRedirect(d2.match.old, f2);
    expect('code' in r ? `${r.code} ${r.message}` : r.kind).toMatch(/REDIRECT_SITE_TOO_SHORT .*too short|short-to-pad/);
  });
});

describe('code outside every function', () => {
  test('new instructions in what was padding are refused, not ignored', () => {
    const bytes = read('logic-fix', 'v1');
    const d = mustDiff(bytes, bytes);
    const fns = d.match.old.fns.functions;
    const sec = d.match.old.img.pe.sections[0]!;
    // A padding gap of at least 5 bytes between two functions.
    let gap = -1;
    for (let i = 0; i + 1 < fns.length && gap < 0; i++) {
      const end = fns[i]!.ranges[0]!.end;
      if (fns[i + 1]!.entry - end >= 8 && d.match.old.fns.containing(end) === undefined) gap = end;
    }
    expect(gap).toBeGreaterThan(0);
    const mutated = bytes.slice();
    const off = sec.pointerToRawData + (gap - sec.virtualAddress);
    mutated.set([0xb8, 0x01, 0x00, 0x00, 0x00], off + 1); // mov eax, 1
    const changed = mustDiff(bytes, mutated);
    expect(changed.hotpatchable).toBe(false);
    expect(changed.data.some((x) => x.verdict === 'refused' && x.reason.code === 'UNOWNED_CODE_CHANGED' && /no discovered function/.test(x.reason.message))).toBe(true);
  });
});

describe('malformed input', () => {
  test('garbage and truncated files are error values, never exceptions', () => {
    const good = read('logic-fix', 'v1');
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131) & 0xff);
    const r1 = diffFiles(garbage, good);
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.error.code).toMatch(/^PE_/);
    for (const cut of [64, 512, 1024, good.length >> 1]) {
      const r = diffFiles(good.slice(0, cut), good);
      if (!r.ok) expect(r.error.code).toMatch(/^(PE|DIFF)_/);
    }
  });

  test('random byte flips in code never crash the diff, and a flip inside a function changes it', () => {
    const good = read('logic-fix', 'v2');
    const d0 = mustDiff(good, good);
    const f = d0.match.old.fns.functions.find((x) => x.name === 'sum_first')!;
    const sec = d0.match.old.img.pe.sections[0]!;
    let seed = 12345;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 12; i++) {
      const m = good.slice();
      const at = f.entry + Math.floor(rnd() * (f.ranges[0]!.end - f.entry));
      const off = sec.pointerToRawData + (at - sec.virtualAddress);
      m[off] = m[off]! ^ (1 + Math.floor(rnd() * 255));
      const d = diffFiles(good, m);
      expect(d.ok).toBe(true);
      if (d.ok) expect(d.value.functions.some((x) => x.oldRva === f.entry && x.status === 'changed')).toBe(true);
    }
  });
});

describe('verifier', () => {
  const build = (name: string): { diff: ImageDiff; pkg: HotpatchPackage } => {
    const d = mustDiff(read(name, 'v1'), read(name, 'v2'));
    const b = buildFromDiff(d, { moduleName: `${name}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) throw new Error(b.error.message);
    return { diff: d, pkg: b.value.emitted.pkg };
  };

  test('an untouched package verifies at another base and region', () => {
    const { diff, pkg } = build('new-import');
    const v = verifyPackage(diff, pkg, { imageBase: 0x1_4000_0000n, regionBase: 0x1_7000_0000n });
    expect(v.ok).toBe(true);
  });

  test('a flipped code byte is caught', () => {
    const { diff, pkg } = build('logic-fix');
    const cb = pkg.codeBlocks[0]!;
    if (cb.bytes.kind !== 'literal') throw new Error('expected literal bytes');
    const bytes = cb.bytes.bytes.slice();
    bytes[3] = bytes[3]! ^ 0x01;
    const bad: HotpatchPackage = { ...pkg, codeBlocks: [{ ...cb, bytes: { kind: 'literal', bytes } }] };
    const v = verifyPackage(diff, bad);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.code).toBe('VERIFY_MISMATCH');
  });

  test('a fixup aimed at the wrong place is caught', () => {
    const { diff, pkg } = build('new-helper');
    const cb = pkg.codeBlocks.find((c) => c.fixups.some((f) => f.target.kind === 'image' || f.target.kind === 'block'))!;
    const i = cb.fixups.findIndex((f) => f.target.kind === 'image' || f.target.kind === 'block');
    const f = cb.fixups[i]!;
    const moved = f.target.kind === 'image' ? { ...f, target: { kind: 'image' as const, rva: asRva(f.target.rva + 16) } } : { ...f, addend: f.addend + 1n };
    const fixups = cb.fixups.map((x, k) => (k === i ? moved : x));
    const bad: HotpatchPackage = { ...pkg, codeBlocks: pkg.codeBlocks.map((c) => (c === cb ? { ...c, fixups } : c)) };
    expect(verifyPackage(diff, bad).ok).toBe(false);
  });

  test('a missing redirect, or changed read-only data left out, is caught', () => {
    const { diff, pkg } = build('logic-fix');
    expect(verifyPackage(diff, { ...pkg, redirects: [] }).ok).toBe(false);
    const s = build('string-change');
    const data = s.pkg.dataBlocks[0]!;
    if (data.bytes.kind !== 'literal') throw new Error('expected literal');
    // Point the string reference back at the OLD string: the verifier must notice the text differs.
    const oldStr = s.diff.match.old.items.find((x) => !x.writable && new TextDecoder().decode(s.diff.match.old.img.image.subarray(x.start, x.end)).startsWith('Hello, wrold'))!;
    const cb = s.pkg.codeBlocks[0]!;
    const fixups = cb.fixups.map((f) => (f.target.kind === 'block' && f.target.blockId === data.id ? { ...f, target: { kind: 'image' as const, rva: asRva(oldStr.start) } } : f));
    const v = verifyPackage(s.diff, { ...s.pkg, codeBlocks: [{ ...cb, fixups }] });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.message).toMatch(/read-only data differs/);
  });
});

describe('reason codes', () => {
  test('compiler/README.md lists every reason code, and no other', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const listed = [...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((x) => x[1]);
    expect(listed).toEqual(Object.keys(REASON_CODES));
  });
});
