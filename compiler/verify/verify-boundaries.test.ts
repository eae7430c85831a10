/**
 * Near misses the verifier must reject: a fixup that lands on bytes equal to the right ones
 * but on the wrong object. The case that shipped: in cpp-exceptions (stripped), hp_run walks
 * its test-vector table up to `&inputs[N]`, one past the end of the table; that address is
 * also the start of the next read-only item (8 zero bytes), and the emitter sent it to an
 * unrelated old item with the same 8 bytes. Every test first checks that the untampered
 * package verifies, so a rejection is the tamper's doing.
 */
import { movesOf } from '../../formats/moves.ts';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { scenarioDll, type SampleVersion } from '../../samples/scenarios.ts';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage, type ImageDiff } from '../index.ts';
import { layoutRanges } from '../diff/diff-images.ts';
import type { DataItem } from '../image/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { DataBlock, Fixup, FixupTarget, HotpatchPackage } from '../../formats/package.ts';
import { asRva } from '../../common/types.ts';
import { literalBlock } from '../../test/support/literal-block.ts';

const read = (name: string, v: SampleVersion, stripped = false): Uint8Array => new Uint8Array(readFileSync(scenarioDll(name, v, stripped)));

interface Built {
  readonly diff: ImageDiff;
  readonly pkg: HotpatchPackage;
  readonly blockOf: ReadonlyMap<number, number>;
}

function build(name: string, stripped: boolean): Built {
  const d = diffFiles(read(name, 'v1', stripped), read(name, 'v2', stripped));
  if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
  const b = buildFromDiff(d.value, { moduleName: `${name}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) throw new Error(`${b.error.code}: ${b.error.message}`);
  return { diff: d.value, pkg: b.value.emitted.pkg, blockOf: b.value.emitted.blockOf };
}

/** Verification result code and message ('ok' when it passes). */
function verdict(b: Built, pkg: HotpatchPackage): string {
  const v = verifyPackage(b.diff, pkg);
  return v.ok ? 'ok' : `${v.error.code}: ${v.error.message}`;
}

/**
 * `b` with the code block of carried NEW function `fn` made literal: its implicit fields (a
 * call to another carried function may be a moved field, format 2.3) listed as records.
 */
function literalOf(b: Built, fn: FunctionInfo): Built {
  const id = b.blockOf.get(fn.index)!;
  const block = b.pkg.codeBlocks.find((c) => c.id === id)!;
  const plain = literalBlock(block, b.diff.match.old.img.image, b.pkg.target.imageBase, b.pkg.target.sizeOfImage, movesOf(b.pkg));
  const codeBlocks = b.pkg.codeBlocks.map((c) => (c.id !== id ? c : { ...c, bytes: { kind: 'literal' as const, bytes: plain.bytes }, fixups: plain.fixups.sort((x, y) => x.offset - y.offset) }));
  return { ...b, pkg: { ...b.pkg, codeBlocks } };
}

/** The fixup that completes reference field `fieldRva` of carried NEW function `fn`. */
function fixupOf(b: Built, fn: FunctionInfo, fieldRva: number): { blockId: number; index: number; fixup: Fixup } {
  const blockId = b.blockOf.get(fn.index)!;
  const offsets = layoutRanges(fn);
  const ri = fn.ranges.findIndex((r) => fieldRva >= r.start && fieldRva < r.end);
  const off = offsets[ri]! + (fieldRva - fn.ranges[ri]!.start);
  const block = b.pkg.codeBlocks.find((c) => c.id === blockId)!;
  const index = block.fixups.findIndex((f) => f.offset === off);
  if (index < 0) throw new Error(`no fixup at block ${blockId} +${off}`);
  return { blockId, index, fixup: block.fixups[index]! };
}

/** `pkg` with fixup `index` of code block `blockId` aimed at `target`, plus `extra` data blocks. */
function retarget(pkg: HotpatchPackage, blockId: number, index: number, target: FixupTarget, extra: readonly DataBlock[] = []): HotpatchPackage {
  return {
    ...pkg,
    codeBlocks: pkg.codeBlocks.map((c) => (c.id !== blockId ? c : { ...c, fixups: c.fixups.map((f, i) => (i === index ? { ...f, target } : f)) })),
    dataBlocks: [...pkg.dataBlocks, ...extra],
  };
}

const nextId = (pkg: HotpatchPackage): number => Math.max(...pkg.codeBlocks.map((c) => c.id), ...pkg.dataBlocks.map((d) => d.id)) + 1;

describe('one past the end of a read-only table (cpp-exceptions, stripped)', () => {
  let b: Built;
  let hp: FunctionInfo;
  let table: DataItem; // the item hp_run walks
  let after: DataItem; // the item that starts where the table ends
  let endRef: { blockId: number; index: number; fixup: Fixup };
  let startRef: { blockId: number; index: number; fixup: Fixup };

  beforeAll(() => {
    b = build('cpp-exceptions', true);
    const n = b.diff.match.new;
    hp = n.fns.functions.find((f) => f.name === 'hp_run')!;
    // The end pointer: a reference to an item start whose previous item, also referenced by
    // hp_run and holding pointers, ends exactly there.
    const targets = new Set(hp.decoded.refs.map((r) => r.target));
    const end = hp.decoded.refs.find((r) => {
      const q = n.itemAt(r.target);
      const p = q === undefined ? undefined : n.items[q.index - 1];
      return q !== undefined && p !== undefined && q.start === r.target && p.end === r.target && targets.has(p.start) && n.img.relocs.has(p.start);
    })!;
    after = n.itemAt(end.target)!;
    table = n.items[after.index - 1]!;
    endRef = fixupOf(b, hp, end.fieldRva);
    startRef = fixupOf(b, hp, hp.decoded.refs.find((r) => r.target === table.start)!.fieldRva);
  });

  test('the emitter places the end pointer at the end of the copy the start pointer uses', () => {
    expect(verdict(b, b.pkg)).toBe('ok');
    const s = startRef.fixup.target;
    const e = endRef.fixup.target;
    expect(e.kind).toBe(s.kind);
    if (s.kind === 'block' && e.kind === 'block') expect([e.blockId, e.offset]).toEqual([s.blockId, s.offset + (table.end - table.start)]);
    else if (s.kind === 'image' && e.kind === 'image') expect(e.rva).toBe(s.rva + (table.end - table.start));
  });

  test('an OLD item with the bytes of the item after the table is rejected (the shipped bug)', () => {
    const o = b.diff.match.old;
    const want = b.diff.match.new.img.image.subarray(after.start, after.end);
    const twin = o.items.find((d) => !d.writable && d.end - d.start === want.length && o.img.image.subarray(d.start, d.end).every((x, i) => x === want[i]));
    expect(twin).toBeDefined();
    const bad = retarget(b.pkg, endRef.blockId, endRef.index, { kind: 'image', rva: asRva(twin!.start) });
    expect(verdict(b, bad)).toMatch(/^VERIFY_MISMATCH: .*as the end of/);
  });

  test('a copy of the next item, on its own, is the start of the next item, not the end of the table', () => {
    const id = nextId(b.pkg);
    const bytes = b.diff.match.new.img.image.slice(after.start, after.end);
    const bad = retarget(b.pkg, endRef.blockId, endRef.index, { kind: 'block', blockId: id, offset: 0 }, [{ id, alignment: 8, bytes: { kind: 'literal', bytes }, fixups: [] }]);
    expect(verdict(b, bad)).toMatch(/^VERIFY_MISMATCH: /);
  });

  test('off by one (or one entry) either side of the table end is rejected', () => {
    const e = endRef.fixup.target;
    for (const delta of [-8, -1, 1, 8]) {
      const t: FixupTarget = e.kind === 'block' ? { ...e, offset: e.offset + delta } : e.kind === 'image' ? { kind: 'image', rva: asRva(e.rva + delta) } : e;
      expect(verdict(b, retarget(b.pkg, endRef.blockId, endRef.index, t)), `delta ${delta}`).toMatch(/^VERIFY_MISMATCH: /);
    }
  });

  test('start and end in two byte-identical copies of the table are rejected (one image per item)', () => {
    const e = endRef.fixup.target;
    expect(e.kind).toBe('block');
    if (e.kind !== 'block') return;
    const src = b.pkg.dataBlocks.find((d) => d.id === e.blockId)!;
    const id = nextId(b.pkg);
    // Same bytes, same pointers: only the identity of the copy differs.
    const bad = retarget(b.pkg, endRef.blockId, endRef.index, { ...e, blockId: id }, [{ ...src, id }]);
    expect(verdict(b, bad)).toMatch(/two images/);
  });

  test('a pointer inside carried data aimed at a lone copy of its string is rejected when the string is also the end of its neighbour', () => {
    // A table entry points at a string that starts where the previous (referenced) string ends.
    const n = b.diff.match.new;
    const e = startRef.fixup.target;
    if (e.kind !== 'block') throw new Error('table expected in a data block');
    const blk = b.pkg.dataBlocks.find((d) => d.id === e.blockId)!;
    // The data block starts at a NEW item and maps 1:1 from there.
    const headRva = table.start - e.offset;
    const named = (f: Fixup): DataItem | undefined => (f.target.kind === 'block' && f.target.blockId === blk.id ? n.itemAt(headRva + f.target.offset) : undefined);
    const pointed = new Set(blk.fixups.map((f) => named(f)?.index));
    const fi = blk.fixups.findIndex((f) => {
      const it = named(f);
      return it !== undefined && pointed.has(it.index - 1) && n.items[it.index - 1]!.end === it.start;
    });
    expect(fi).toBeGreaterThanOrEqual(0);
    const strItem = named(blk.fixups[fi]!)!;
    const id = nextId(b.pkg);
    const lone: DataBlock = { id, alignment: 1, bytes: { kind: 'literal', bytes: n.img.image.slice(strItem.start, strItem.end) }, fixups: [] };
    const bad: HotpatchPackage = {
      ...b.pkg,
      dataBlocks: [...b.pkg.dataBlocks.map((d) => (d.id !== blk.id ? d : { ...d, fixups: d.fixups.map((x, i) => (i === fi ? { ...x, target: { kind: 'block' as const, blockId: id, offset: 0 } } : x)) })), lone],
    };
    expect(verdict(b, bad)).toMatch(/^VERIFY_MISMATCH: /);
  });
});

describe('code references that land near the right place', () => {
  test('a call into the middle of a carried function, or the old entry of another function, is rejected', () => {
    const built = build('cpp-exceptions', true);
    const n = built.diff.match.new;
    const hp = n.fns.functions.find((f) => f.name === 'hp_run')!;
    const b = literalOf(built, hp);
    // hp_run calls the changed parse_port (carried) and unchanged helpers (in OLD).
    const toCarried = hp.decoded.refs.find((r) => r.kind === 'rel32' && b.blockOf.has(n.fns.containing(r.target)?.index ?? -1) && n.fns.containing(r.target) !== hp)!;
    // parse_port (carried) calls unchanged code in OLD (the C++ runtime).
    const pp = n.fns.functions.find((f) => f !== hp && b.blockOf.has(f.index))!;
    const toOld = pp.decoded.refs.find((r) => r.kind === 'rel32' && n.fns.containing(r.target) !== undefined && !b.blockOf.has(n.fns.containing(r.target)!.index))!;
    expect(toCarried).toBeDefined();
    expect(toOld).toBeDefined();
    expect(verdict(b, b.pkg)).toBe('ok');
    const c = fixupOf(b, hp, toCarried.fieldRva);
    const ct = c.fixup.target;
    if (ct.kind !== 'block') throw new Error('call to a carried function must target its block');
    expect(verdict(b, retarget(b.pkg, c.blockId, c.index, { ...ct, offset: ct.offset + 1 }))).toMatch(/carried body/);
    // parse_port's call may be an implicit field (a placed one since format 2.4): made literal too.
    const bp = literalOf(b, pp);
    expect(verdict(bp, bp.pkg)).toBe('ok');
    const o = fixupOf(bp, pp, toOld.fieldRva);
    const ot = o.fixup.target;
    if (ot.kind !== 'image') throw new Error('call to an unchanged function must target OLD');
    expect(verdict(bp, retarget(bp.pkg, o.blockId, o.index, { kind: 'image', rva: asRva(ot.rva + 1) }))).toMatch(/does not reach old/);
    // Another unchanged function's entry: right kind of place, wrong function.
    const og = bp.diff.match.old.fns.functions.find((f) => f.entry !== ot.rva && bp.diff.match.fnOldToNew[f.index]! >= 0 && bp.diff.newStatus[bp.diff.match.fnOldToNew[f.index]!] === 'unchanged')!;
    expect(verdict(bp, retarget(bp.pkg, o.blockId, o.index, { kind: 'image', rva: asRva(og.entry) }))).toMatch(/does not reach old/);
  });

  test('a carried jump table with two entries swapped is rejected', () => {
    const b = build('switch-table', true);
    const n = b.diff.match.new;
    const fn = n.fns.functions.find((f) => f.decoded.jumpTables.length > 0 && b.blockOf.has(f.index))!;
    expect(fn).toBeDefined();
    expect(verdict(b, b.pkg)).toBe('ok');
    const jt = fn.decoded.jumpTables[0]!;
    // Two entries leading to different cases.
    const j = jt.targets.findIndex((t) => t !== jt.targets[0]);
    expect(j).toBeGreaterThan(0);
    const id = b.blockOf.get(fn.index)!;
    const block = b.pkg.codeBlocks.find((c) => c.id === id)!;
    // Made literal when stored as a delta (format 2.1: the table may be rebuilt by intra references).
    const plain = literalBlock(block, b.diff.match.old.img.image, b.pkg.target.imageBase, b.pkg.target.sizeOfImage, movesOf(b.pkg));
    const bytes = plain.bytes;
    // The table sits after the code, 4-aligned, entries relative to the table.
    const last = fn.ranges.length - 1;
    const off = (layoutRanges(fn)[last]! + (fn.ranges[last]!.end - fn.ranges[last]!.start) + 3) & ~3;
    const dv = new DataView(bytes.buffer);
    const e0 = dv.getInt32(off, true);
    dv.setInt32(off, dv.getInt32(off + 4 * j, true), true);
    dv.setInt32(off + 4 * j, e0, true);
    const bad: HotpatchPackage = { ...b.pkg, codeBlocks: b.pkg.codeBlocks.map((c) => (c.id !== id ? c : { ...c, bytes: { kind: 'literal', bytes }, fixups: plain.fixups })) };
    expect(verdict(b, bad)).toMatch(/jump table entry/);
  });
});
