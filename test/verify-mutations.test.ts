/**
 * Mutation test of the verifier: for every package the compiler builds from the sample
 * scenarios (both compilers, with symbols and stripped), corrupt one thing at a time and
 * require the verifier to reject the result. Every mutation here changes what the patched
 * process would do (an address off by one byte, a missing fixup, another import, a jump
 * table entry off by one byte), so the goal is all of them caught; the test prints the count.
 *
 * Mutations, each applied alone to a package that verifies untouched:
 * - every fixup of every code block, data block and unwind blob: its addend + 1;
 * - every fixup: removed (the field keeps the placeholder bytes the emitter left);
 * - every implicit fixup of a delta block (format 1.2, moved ones 2.3): removed (the field
 *   keeps the old field's bytes, relative to where the old code was);
 * - every placed implicit fixup (2.4: its value in a literal or add op): its value + 1;
 * - every import fixup: aimed at another import of the package, when it has two or more;
 * - every 8-byte absolute LSDA type entry (clang) in an unwind blob: written as rel32;
 * - every entry of every jump table copied into a code block: + 1;
 * - every intra reference of a delta block (format 2.1): removed (the field keeps the old
 *   displacement or entries);
 * - every scanned reference of a delta block (format 2.6): skipped (the field keeps the old
 *   field's bytes, labelled as the implicit field it stands for being removed), and every skip
 *   removed (the candidate is then derived as a reference);
 * - every delta base the wire leaves implied (format 2.7: the base is its function record's old
 *   body): the record's old RVA + 1, old size - 1 and old size + 1 on the wire, read back by
 *   the runtime's decoder (a package it or validation refuses is caught there; a base that
 *   still gives the same bytes is neutral, the old size meaning nothing else to a runtime).
 * - every whole op (format 2.9: a delta that is one copy or sealed add over its whole result,
 *   block or unwind blob): the other kind, kind 3, removed, its delta's size - 1 and + 1 on
 *   the wire, read back by the runtime's decoder (refused there or by validation: caught).
 * Besides, no direct call or jump of any package goes through a redirected OLD entry (calls
 * stay direct to the new body), and fn-identity's address-taken references must be the
 * redirected OLD entry (the last describe).
 */
import { readFileSync } from 'node:fs';
import { movesOf } from '../formats/moves.ts';
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage, type ImageDiff } from '../compiler/index.ts';
import { baseRanges, materialiseDelta } from '../formats/intra-refs.ts';
import { copySource, gather } from '../formats/delta-index.ts';
import { opLength } from '../formats/delta.ts';
import { literalBlock } from './support/literal-block.ts';
import { expandRefScan } from '../formats/ref-scan.ts';
import type { CodeBlock, DataBlock, Fixup, HotpatchPackage, RvaRange } from '../formats/package.ts';
import { asRva } from '../common/types.ts';
import { decodePayload, encodePayload } from '../formats/codec.ts';
import { validatePackage } from '../formats/validate.ts';
import { hotpatch } from '../formats/generated/hotpatch.js';
import { expectationOf, readScenarios, scenarioDll, TOOLCHAINS, type Toolchain } from '../samples/scenarios.ts';

interface Mutation {
  readonly what: string;
  readonly pkg: HotpatchPackage;
}

type Where = { readonly kind: 'code' | 'data' | 'unwind'; readonly block: number; readonly index: number };

const mapFixups = (fs: readonly Fixup[], index: number, f: (x: Fixup) => Fixup | null): Fixup[] => fs.flatMap((x, i) => (i !== index ? [x] : (f(x) === null ? [] : [f(x)!])));

/** `pkg` with fixup `w` replaced by `f(fixup)` (null: removed). */
function withFixup(pkg: HotpatchPackage, w: Where, f: (x: Fixup) => Fixup | null): HotpatchPackage {
  if (w.kind === 'data') return { ...pkg, dataBlocks: pkg.dataBlocks.map((d, i): DataBlock => (i !== w.block ? d : { ...d, fixups: mapFixups(d.fixups, w.index, f) })) };
  return {
    ...pkg,
    codeBlocks: pkg.codeBlocks.map((c, i): CodeBlock => {
      if (i !== w.block) return c;
      if (w.kind === 'code') return { ...c, fixups: mapFixups(c.fixups, w.index, f) };
      return { ...c, unwind: c.unwind === null ? null : { ...c.unwind, unwindFixups: mapFixups(c.unwind.unwindFixups, w.index, f) } };
    }),
  };
}

/** Every place a fixup sits in `pkg`. */
function fixupSites(pkg: HotpatchPackage): Array<Where & { fixup: Fixup }> {
  const out: Array<Where & { fixup: Fixup }> = [];
  pkg.codeBlocks.forEach((c, b) => {
    c.fixups.forEach((fixup, index) => out.push({ kind: 'code', block: b, index, fixup }));
    c.unwind?.unwindFixups.forEach((fixup, index) => out.push({ kind: 'unwind', block: b, index, fixup }));
  });
  pkg.dataBlocks.forEach((d, b) => d.fixups.forEach((fixup, index) => out.push({ kind: 'data', block: b, index, fixup })));
  return out;
}

/** Jump-table entries copied into literal code blocks: NEW's table bytes found in the block. */
function tableEntrySites(diff: ImageDiff, pkg: HotpatchPackage): Array<{ block: number; offset: number; what: string }> {
  const out: Array<{ block: number; offset: number; what: string }> = [];
  const img = diff.match.new.img.image;
  for (const rec of pkg.functions) {
    const fn = diff.match.new.fns.byEntry.get(rec.newRva as number);
    const b = pkg.codeBlocks.findIndex((c) => c.id === rec.blockId);
    const block = pkg.codeBlocks[b];
    if (fn === undefined || block === undefined || block.bytes.kind !== 'literal') continue;
    for (const t of fn.decoded.jumpTables) {
      if (t.entryKind !== 'rel32') continue;
      const want = Buffer.from(img.subarray(t.rva, t.rva + 4 * t.targets.length));
      const at = Buffer.from(block.bytes.bytes).indexOf(want);
      if (at < 0) continue;
      for (let i = 0; i < t.targets.length; i++) out.push({ block: b, offset: at + 4 * i, what: `jump table 0x${t.rva.toString(16)} entry ${i}` });
    }
  }
  return out;
}

/** `pkg` with the int32 at `offset` of literal code block `b` plus 1. */
function withEntry(pkg: HotpatchPackage, b: number, offset: number): HotpatchPackage {
  return {
    ...pkg,
    codeBlocks: pkg.codeBlocks.map((c, i): CodeBlock => {
      if (i !== b || c.bytes.kind !== 'literal') return c;
      const bytes = c.bytes.bytes.slice();
      const dv = new DataView(bytes.buffer);
      dv.setInt32(offset, dv.getInt32(offset, true) + 1, true);
      return { ...c, bytes: { kind: 'literal', bytes } };
    }),
  };
}

/** `pkg` with implicit field `offset` (list `list`) of block `b` (code or data) dropped. */
function withoutImplicit(pkg: HotpatchPackage, kind: 'code' | 'data', b: number, list: ImplicitList, offset: number): HotpatchPackage {
  const drop = <B extends CodeBlock | DataBlock>(x: B): B => {
    if (x.bytes.kind !== 'delta' || x.bytes.implicit === undefined) return x;
    const implicit = { ...x.bytes.implicit, [list]: (x.bytes.implicit[list] ?? []).filter((o) => o !== offset) };
    return { ...x, bytes: { ...x.bytes, implicit } };
  };
  if (kind === 'code') return { ...pkg, codeBlocks: pkg.codeBlocks.map((c, i) => (i === b ? drop(c) : c)) };
  return { ...pkg, dataBlocks: pkg.dataBlocks.map((d, i) => (i === b ? drop(d) : d)) };
}

type ImplicitList = 'rel32' | 'abs64' | 'moved' | 'moved64';

/**
 * `pkg` with the first byte of placed implicit field `offset` (format 2.4: no copy brings it,
 * its value is in a literal or add op) of block `b` plus one: the derived target moves by one
 * byte. Null when a copy brings the field (its value is OLD's, which a package cannot change).
 */
function withPlacedBumped(pkg: HotpatchPackage, kind: 'code' | 'data', b: number, offset: number, width: number): HotpatchPackage | null {
  const blk = kind === 'code' ? pkg.codeBlocks[b]! : pkg.dataBlocks[b]!;
  if (blk.bytes.kind !== 'delta' || copySource(blk.bytes.ops, offset, width) !== null) return null;
  let at = 0;
  const ops = blk.bytes.ops.map((op) => {
    const len = opLength(op);
    const start = at;
    at += len;
    if (offset < start || offset >= start + len || (op.kind !== 'literal' && op.kind !== 'add')) return op;
    const bytes = op.bytes.slice();
    bytes[offset - start] = (bytes[offset - start]! + 1) & 0xff;
    return { ...op, bytes };
  });
  const next = { ...blk, bytes: { ...blk.bytes, ops } };
  if (kind === 'code') return { ...pkg, codeBlocks: pkg.codeBlocks.map((c, i) => (i === b ? (next as CodeBlock) : c)) };
  return { ...pkg, dataBlocks: pkg.dataBlocks.map((d, i) => (i === b ? (next as DataBlock) : d)) };
}

/** The materialised bytes of delta `d` over OLD (every base range), or null when they do not build. */
function materialised(diff: ImageDiff, d: Extract<CodeBlock['bytes'], { kind: 'delta' }>): Uint8Array | null {
  const base = gather(diff.match.old.img.image, baseRanges(d));
  const m = base === null ? null : materialiseDelta(d, base);
  return m?.ok === true ? m.value : null;
}

/**
 * Intra references (format 2.1) of every delta code block: each field and each table run
 * removed (it keeps the old values it was copied with; moving a run's start instead would be
 * neutral: old and new anchors move together). A removal
 * that leaves the same bytes (a field listed only to replace a fixup whose old bytes were
 * already right) changes nothing and is left out, counted by the caller.
 */
function intraMutations(diff: ImageDiff, pkg: HotpatchPackage): { out: Mutation[]; neutral: number } {
  const out: Mutation[] = [];
  let neutral = 0;
  pkg.codeBlocks.forEach((c, i) => {
    const d = c.bytes;
    if (d.kind !== 'delta' || d.intra === undefined) return;
    const intra = d.intra;
    const before = materialised(diff, d);
    const withIntra = (x: typeof intra): HotpatchPackage => ({ ...pkg, codeBlocks: pkg.codeBlocks.map((b, k) => (k === i ? { ...b, bytes: { ...d, intra: x } } : b)) });
    for (const list of ['rel32', 'rel8'] as const) {
      for (const o of intra[list]) {
        const x = { ...intra, [list]: intra[list].filter((v) => v !== o) };
        const after = materialised(diff, { ...d, intra: x });
        if (before !== null && after !== null && after.every((v, k) => v === before[k])) neutral++;
        else out.push({ what: `code block ${i} intra ${list} +${o}: removed`, pkg: withIntra(x) });
      }
    }
    intra.tables.forEach((t, k) => {
      const x = { ...intra, tables: intra.tables.filter((_, j) => j !== k) };
      const after = materialised(diff, { ...d, intra: x });
      if (before !== null && after !== null && after.every((v, j) => v === before[j])) neutral++;
      else out.push({ what: `code block ${i} intra table +${t.offset}: removed`, pkg: withIntra(x) });
    });
  });
  return { out, neutral };
}

/** `pkg` with block `b`'s scan skips (format 2.6) replaced by `skips`. */
function withSkips(pkg: HotpatchPackage, kind: 'code' | 'data', b: number, skips: number[]): HotpatchPackage {
  const set = <B extends CodeBlock | DataBlock>(x: B): B => (x.bytes.kind !== 'delta' ? x : { ...x, bytes: { ...x.bytes, refScan: skips.sort((p, q) => p - q) } });
  if (kind === 'code') return { ...pkg, codeBlocks: pkg.codeBlocks.map((c, i) => (i === b ? set(c) : c)) };
  return { ...pkg, dataBlocks: pkg.dataBlocks.map((d, i) => (i === b ? set(d) : d)) };
}

/**
 * Scanned references (format 2.6) of every delta block: each scanned field skipped (labelled
 * as the removal of the implicit field it stands for, so that NEUTRAL names it either way),
 * and each skip removed.
 */
function scanMutations(diff: ImageDiff, pkg: HotpatchPackage): Mutation[] {
  const out: Mutation[] = [];
  const blocks = [...pkg.codeBlocks.map((c, i) => ['code', i, c] as const), ...pkg.dataBlocks.map((d, i) => ['data', i, d] as const)];
  for (const [kind, i, blk] of blocks) {
    const d = blk.bytes;
    if (d.kind !== 'delta' || d.refScan === undefined) continue;
    const result = materialised(diff, d);
    const opened = result === null ? null : expandRefScan(d, result, movesOf(pkg), pkg.target.sizeOfImage, blk.fixups, 'mutation');
    if (opened === null || !opened.ok) throw new Error(`${kind} block ${i}: scanned references do not open`);
    for (const list of ['rel32', 'moved'] as const) {
      const listed = new Set(d.implicit?.[list] ?? []);
      for (const o of opened.value.implicit?.[list] ?? []) if (!listed.has(o)) out.push({ what: `${kind} block ${i} implicit ${list} +${o}: removed`, pkg: withSkips(pkg, kind, i, [...d.refScan, o]) });
    }
    for (const s of d.refScan) out.push({ what: `${kind} block ${i} scan skip +${s}: removed`, pkg: withSkips(pkg, kind, i, d.refScan.filter((x) => x !== s)) });
  }
  return out;
}

/**
 * Implied delta bases (format 2.7): for each code block written without its base, its function
 * record's old RVA and old size moved on the wire and decoded as a runtime decodes them. A
 * mutation the decoder or validation refuses is caught (no runtime reads such a package):
 * `refused` counts them. One whose block materialises to the same bytes over OLD (a base one
 * byte longer or shorter that no op reads past: the runtime uses a record's old size for
 * nothing else) changes nothing and is left out, counted in `neutral`.
 */
function impliedBaseMutations(diff: ImageDiff, pkg: HotpatchPackage): { out: Mutation[]; refused: number; neutral: number } {
  const wire = hotpatch.Package.decode(encodePayload(pkg));
  const out: Mutation[] = [];
  let refused = 0;
  let neutral = 0;
  wire.codeBlocks.forEach((b, i) => {
    const d = b.bytes?.delta ?? b.bytes?.deltaWithImplicitFixups ?? b.bytes?.deltaWithIntraRefs ?? b.bytes?.deltaWithMovedAbs64 ?? b.bytes?.deltaWithRefScan;
    const given = pkg.codeBlocks[i]!.bytes;
    if (d === null || d === undefined || (d.base !== null && d.base !== undefined) || given.kind !== 'delta') return;
    const k = wire.functions.findIndex((f, j) => j > 0 && pkg.functions[j - 1]!.blockId === b.id && pkg.functions[j - 1]!.status === 'changed');
    if (k < 0) throw new Error(`code block ${i}: implied base without its record`);
    const before = materialised(diff, given);
    for (const [what, field, delta] of [['old RVA + 1', 'oldRva', 1], ['old size - 1', 'oldSize', -1], ['old size + 1', 'oldSize', 1]] as const) {
      const m = hotpatch.Package.decode(encodePayload(pkg));
      const f = m.functions[k]!;
      f[field] = (f[field] ?? 0) + delta;
      const back = decodePayload(hotpatch.Package.encode(m).finish());
      if (!back.ok || !validatePackage(back.value).ok) {
        refused++;
        continue;
      }
      const after = back.value.codeBlocks[i]!.bytes;
      const bytes = after.kind === 'delta' ? materialised(diff, after) : null;
      if (field === 'oldSize' && before !== null && bytes !== null && bytes.length === before.length && bytes.every((v, j) => v === before[j])) neutral++;
      else out.push({ what: `code block ${i} implied base: record ${what}`, pkg: back.value });
    }
  });
  return { out, refused, neutral };
}

/**
 * Whole ops (format 2.9): each delta (block or unwind blob) written as one whole copy or sealed
 * add, moved on the wire (the other kind, kind 3, none, its size - 1 or + 1) and decoded as a
 * runtime decodes it. One the decoder or validation refuses is caught: `refused` counts them.
 */
function wholeOpMutations(pkg: HotpatchPackage): { out: Mutation[]; refused: number } {
  const out: Mutation[] = [];
  let refused = 0;
  type D = hotpatch.IDelta | null | undefined;
  const deltas = (m: hotpatch.Package): Array<[string, D]> => [
    ...m.codeBlocks.flatMap((b, i): Array<[string, D]> => [
      [`code block ${i}`, b.bytes?.delta ?? b.bytes?.deltaWithImplicitFixups ?? b.bytes?.deltaWithIntraRefs ?? b.bytes?.deltaWithMovedAbs64 ?? b.bytes?.deltaWithRefScan],
      [`code block ${i} unwind`, b.unwind?.unwindDelta ?? b.unwind?.unwindDeltaImplicit ?? b.unwind?.unwindDeltaPdata],
    ]),
    ...m.dataBlocks.map((b, i): [string, D] => [`data block ${i}`, b.bytes?.delta ?? b.bytes?.deltaWithImplicitFixups ?? b.bytes?.deltaWithIntraRefs ?? b.bytes?.deltaWithMovedAbs64 ?? b.bytes?.deltaWithRefScan]),
  ];
  const moves: ReadonlyArray<readonly [string, (d: hotpatch.IDelta) => void]> = [
    ['the other kind', (d) => void (d.wholeOp = d.wholeOp === 1 ? 5 : 1)],
    ['kind 3', (d) => void (d.wholeOp = 3)],
    ['removed', (d) => void (d.wholeOp = 0)],
    ['size - 1', (d) => void (d.size = (d.size ?? 0) - 1)],
    ['size + 1', (d) => void (d.size = (d.size ?? 0) + 1)],
  ];
  deltas(hotpatch.Package.decode(encodePayload(pkg))).forEach(([what, d], k) => {
    if (d === null || d === undefined || (d.wholeOp ?? 0) === 0) return;
    for (const [how, move] of moves) {
      const m = hotpatch.Package.decode(encodePayload(pkg));
      move(deltas(m)[k]![1]!);
      const back = decodePayload(hotpatch.Package.encode(m).finish());
      if (!back.ok || !validatePackage(back.value).ok) refused++;
      else out.push({ what: `${what} whole op: ${how}`, pkg: back.value });
    }
  });
  return { out, refused };
}

function mutations(diff: ImageDiff, pkg: HotpatchPackage): Mutation[] {
  const out: Mutation[] = [...scanMutations(diff, pkg)];
  const blocks = [...pkg.codeBlocks.map((c, i) => ['code', i, c] as const), ...pkg.dataBlocks.map((d, i) => ['data', i, d] as const)];
  for (const [kind, i, blk] of blocks) {
    if (blk.bytes.kind !== 'delta' || blk.bytes.implicit === undefined) continue;
    for (const list of ['rel32', 'abs64', 'moved', 'moved64'] as const) {
      for (const o of blk.bytes.implicit[list] ?? []) {
        out.push({ what: `${kind} block ${i} implicit ${list} +${o}: removed`, pkg: withoutImplicit(pkg, kind, i, list, o) });
        const bumped = withPlacedBumped(pkg, kind, i, o, list === 'abs64' || list === 'moved64' ? 8 : 4);
        if (bumped !== null) out.push({ what: `${kind} block ${i} placed ${list} +${o}: value + 1`, pkg: bumped });
      }
    }
  }
  for (const s of fixupSites(pkg)) {
    const at = `${s.kind} block ${s.block} fixup ${s.index} (${s.fixup.kind} +${s.fixup.offset})`;
    out.push({ what: `${at}: addend + 1`, pkg: withFixup(pkg, s, (x) => ({ ...x, addend: x.addend + 1n })) });
    out.push({ what: `${at}: removed`, pkg: withFixup(pkg, s, () => null) });
    const t = s.fixup.target;
    // A clang LSDA type entry (8-byte absolute, in the unwind blob) written as a 4-byte
    // pc-relative one, as gcc's entries are: the personality routine would read garbage.
    if (s.kind === 'unwind' && s.fixup.kind === 'abs64') out.push({ what: `${at}: written as rel32`, pkg: withFixup(pkg, s, (x) => ({ ...x, kind: 'rel32' })) });
    if ((t.kind === 'import-slot' || t.kind === 'import-address') && pkg.imports.length > 1) {
      out.push({ what: `${at}: another import`, pkg: withFixup(pkg, s, (x) => ({ ...x, target: { kind: t.kind, index: (t.index + 1) % pkg.imports.length } })) });
    }
  }
  for (const e of tableEntrySites(diff, pkg)) out.push({ what: `code block ${e.block} ${e.what}: + 1`, pkg: withEntry(pkg, e.block, e.offset) });
  return out;
}

interface Case {
  readonly label: string;
  readonly diff: ImageDiff;
  readonly pkg: HotpatchPackage;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const tc of TOOLCHAINS as readonly Toolchain[]) {
    for (const s of readScenarios()) {
      for (const step of s.steps) {
        for (const stripped of [false, true]) {
          if (expectationOf(s, step, tc, stripped).expect !== 'hotpatchable') continue;
          const read = (v: typeof step.from): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s.name, v, stripped, undefined, tc)));
          const d = diffFiles(read(step.from), read(step.to));
          if (!d.ok) throw new Error(d.error.message);
          const b = buildFromDiff(d.value, { moduleName: `${s.name}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
          if (!b.ok) throw new Error(`${s.name}: ${b.error.message}`);
          out.push({ label: `${s.name} ${step.from}->${step.to} (${tc}${stripped ? ', stripped' : ''})`, diff: d.value, pkg: b.value.emitted.pkg });
        }
      }
    }
  }
  return out;
}

/**
 * Mutations that change nothing the process would run, each justified. Removing a moved field
 * (format 2.3; a fixup record before) leaves the bytes its copy brought, which in a delta block
 * are OLD's at the same offset: here the old `call set_name` displacement, and the verifier's
 * (and the runtime's) layout puts the callee's block at exactly the old distance from the
 * caller's, so the bytes are right as they stand. The verifier reads what the code would
 * execute, so it accepts them.
 */
const NEUTRAL = new Set([
  'bounds-check v1->v2 (clang): code block 0 implicit moved +175: removed',
  'bounds-check v1->v2 (clang, stripped): code block 0 implicit moved +175: removed',
  // caller-loop: new run's `call step` (both carried, at OLD's distance from each other), the same.
  ...['gcc', 'gcc, stripped'].map((t) => `caller-loop v1->v2 (${t}): code block 1 implicit moved +44: removed`),
  ...['clang', 'clang, stripped'].map((t) => `caller-loop v1->v2 (${t}): code block 1 implicit moved +47: removed`),
  // entry-args-stack-fix (GCC): new trim_all's first `call trim` (both carried, trim 0x20 before
  // trim_all in NEW and in the patch's layout), the same.
  ...['gcc', 'gcc, stripped'].map((t) => `entry-args-stack-fix v1->v2 (${t}): code block 3 implicit moved +35: removed`),
  // entry-args-swap-fix: new ratio_all's two calls to ratio (both carried), the same.
  ...['gcc', 'gcc, stripped', 'clang', 'clang, stripped'].flatMap((t) => [19, 33].map((o) => `entry-args-swap-fix v1->v2 (${t}): code block 1 implicit moved +${o}: removed`)),
  // entry-args-order-fix: new mix_all's `call mix3` (both carried, at OLD's distance), the same.
  ...['gcc', 'gcc, stripped', 'clang', 'clang, stripped'].map((t) => `entry-args-order-fix v1->v2 (${t}): code block 3 implicit moved +24: removed`),
  // caller-loop-order: new run's `call step`, as in caller-loop.
  ...['gcc', 'gcc, stripped'].map((t) => `caller-loop-order v1->v2 (${t}): code block 1 implicit moved +44: removed`),
  ...['clang', 'clang, stripped'].map((t) => `caller-loop-order v1->v2 (${t}): code block 1 implicit moved +47: removed`),
  // The same for enum-names' self-relative name table (LLVM), stored as a delta against the
  // old table since format 2.1 dropped the base hash: each entry is the distance from the
  // table to a name, the names are carried glued to the table at OLD's distances, so the old
  // entry left in place reaches the right name. Only entry 4, the renamed value's, differs,
  // and its removal is caught; the verifier reads entries by meaning (the tests below).
  ...[false, true].flatMap((stripped) => [0, 1, 2, 3, 5, 6].map((i) => `enum-names v1->v2 (clang${stripped ? ', stripped' : ''}): data block 0 implicit moved +${56 + 4 * i}: removed`)),
  // enum-lengths (clang): the same self-relative name table, after its lengths table; the fix
  // rewrites the fifth name in place (same length), so every entry keeps OLD's distance and none
  // differs: each removal leaves the right bytes.
  ...[false, true].flatMap((stripped) => [0, 1, 2, 3, 4, 5, 6].map((i) => `enum-lengths v1->v2 (clang${stripped ? ', stripped' : ''}): data block 0 implicit moved +${112 + 4 * i}: removed`)),
]);

describe('verifier mutation test', () => {
  test('every behaviour-changing mutation of every sample package is rejected', () => {
    let total = 0;
    let neutral = 0;
    const missed: string[] = [];
    let intraTotal = 0;
    let placedTotal = 0;
    let scanTotal = 0;
    let impliedTotal = 0;
    let wholeTotal = 0;
    let directCalls = 0;
    for (const c of cases()) {
      expect(verifyPackage(c.diff, c.pkg).ok, `${c.label}: untouched package verifies`).toBe(true);
      // A direct call or jump (a rel32 fixup of code) to a replaced function goes straight to
      // its new body, never through its redirected OLD entry: its target is never observed.
      const redirected = new Set<number>(c.pkg.redirects.map((r) => r.oldRva));
      for (const s of fixupSites(c.pkg)) {
        if (s.kind !== 'code' || s.fixup.kind !== 'rel32') continue;
        const t = s.fixup.target;
        expect(t.kind === 'image' && redirected.has(t.rva), `${c.label}: code block ${s.block} fixup ${s.index} branches to a redirected old entry`).toBe(false);
        if (t.kind === 'block' && c.pkg.functions.some((f) => f.blockId === t.blockId && f.blockId !== c.pkg.codeBlocks[s.block]!.id)) directCalls++;
      }
      const im = intraMutations(c.diff, c.pkg);
      neutral += im.neutral;
      total += im.neutral;
      intraTotal += im.out.length;
      const ib = impliedBaseMutations(c.diff, c.pkg);
      total += ib.refused + ib.neutral;
      neutral += ib.neutral;
      impliedTotal += ib.refused + ib.out.length;
      const wo = wholeOpMutations(c.pkg);
      total += wo.refused;
      wholeTotal += wo.refused + wo.out.length;
      for (const mu of [...mutations(c.diff, c.pkg), ...im.out, ...ib.out, ...wo.out]) {
        total++;
        if (mu.what.includes(' placed ')) placedTotal++;
        if (mu.what.includes(' scan skip ')) scanTotal++;
        const label = `${c.label}: ${mu.what}`;
        if (NEUTRAL.has(label)) {
          neutral++;
          continue;
        }
        if (verifyPackage(c.diff, mu.pkg).ok) missed.push(label);
      }
    }
    total -= neutral;
    process.stdout.write(`verifier mutation test: caught ${total - missed.length} of ${total} behaviour-changing mutations (${intraTotal} of intra references, ${placedTotal} of placed fields, ${scanTotal} scan skips, ${impliedTotal} of implied delta bases, ${wholeTotal} of whole ops; ${neutral} neutral ones left out, see NEUTRAL, intraMutations and impliedBaseMutations)\n`);
    expect(total).toBeGreaterThan(100);
    expect(missed).toEqual([]);
    expect(placedTotal, 'placed implicit fields (format 2.4) were mutated').toBeGreaterThan(0);
    expect(scanTotal, 'scan skips (format 2.6) were mutated').toBeGreaterThan(0);
    expect(impliedTotal, 'implied delta bases (format 2.7) were mutated').toBeGreaterThan(0);
    expect(wholeTotal, 'whole ops (format 2.9) were mutated').toBeGreaterThan(0);
    expect(directCalls, 'direct calls between carried functions (the rule above is not vacuous)').toBeGreaterThan(0);
  }, 600_000);
});

describe('LLVM self-relative table (enum-names, clang): the verifier checks entries by meaning', () => {
  // The shipped bug: the table carried as literal bytes whose entries were not re-based for
  // the copy's address. Here the emitter carries the table glued to the strings before it
  // (their start is also the end of the item before), so NEW's literal entries happen to be
  // right in the copy, and entries written for another distance are wrong: the verifier
  // must tell the two apart by what each entry reaches, whatever the fixups say.
  const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll('enum-names', v, false, undefined, 'clang')));
  const d = diffFiles(read('v1'), read('v2'));
  if (!d.ok) throw new Error(d.error.message);
  const b = buildFromDiff(d.value, { moduleName: 'enum-names.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
  if (!b.ok) throw new Error(b.error.message);
  const pkg = b.value.emitted.pkg;
  const m = d.value.match;
  const table = [...m.new.relTables.values()][0]!;

  /** The package with the table's rel32 fixups replaced by literal entries: NEW's + `skew`. */
  const literal = (skew: number): HotpatchPackage => {
    const data = pkg.dataBlocks[0]!;
    // A block stored as a delta (against the old table) is first made literal: its bytes
    // decoded, the fixups its implicit fields stand for listed.
    const plain = literalBlock(data, m.old.img.image, pkg.target.imageBase, pkg.target.sizeOfImage, movesOf(pkg));
    const bytes = plain.bytes.slice();
    const dv = new DataView(bytes.buffer);
    const nv = new DataView(m.new.img.image.buffer, m.new.img.image.byteOffset);
    // Explicit, or (format 2.3) moved fields of the delta: the table's entries point into its own block.
    const rel = plain.fixups.filter((f) => f.kind === 'rel32').sort((x, y) => x.offset - y.offset);
    rel.forEach((f, i) => dv.setInt32(f.offset, nv.getInt32(table.rva + 4 * i, true) + skew, true));
    const block: DataBlock = { ...data, bytes: { kind: 'literal', bytes }, fixups: plain.fixups.filter((f) => f.kind !== 'rel32') };
    return { ...pkg, dataBlocks: [block, ...pkg.dataBlocks.slice(1)] };
  };

  test('the code reads a self-relative table the analysis found, with a proven entry count, carried with one rel32 fixup per entry', () => {
    expect(table.count).toBe(7);
    // Listed or moved (format 2.3: an entry whose old field pointed into the block's old range), one 4-byte field per entry.
    const plain = literalBlock(pkg.dataBlocks[0]!, m.old.img.image, pkg.target.imageBase, pkg.target.sizeOfImage, movesOf(pkg));
    const offsets = plain.fixups.filter((f) => f.kind === 'rel32').map((f) => f.offset).sort((x, y) => x - y);
    expect(offsets.map((o) => o - offsets[0]!)).toEqual([0, 4, 8, 12, 16, 20, 24]);
    expect(pkg.dataBlocks[0]!.replaces).toBeDefined();
  });
  test('literal entries that reach the right strings in the copy: accepted (meaning, not form)', () => {
    const v = verifyPackage(d.value, literal(0));
    expect(v.ok ? 'ok' : v.error.message).toBe('ok');
  });
  test('literal entries written for a copy 16 bytes away (not re-based): rejected, naming the entry', () => {
    const v = verifyPackage(d.value, literal(16));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.message).toMatch(/entry \d/);
  });
});

describe('function-address identity (fn-identity): an address taken as a value is the redirected OLD entry', () => {
  // is_default, slot_of_default and weight_of take on_default's address (lea, and clang's
  // carried table `known`) to compare it with pointers OLD's code and data hold. The package
  // must give them OLD's entry of on_default (redirected to its new body); the new body's own
  // address, what the emitter wrote before (is_default() = 0 after a live patch where NEW
  // says 1), must be rejected, and so must another old function's entry.
  for (const tc of TOOLCHAINS as readonly Toolchain[]) {
    for (const stripped of [false, true]) {
      const label = `${tc}${stripped ? ', stripped' : ''}`;
      test(`${label}: the package takes on_default's OLD entry; its new body or on_custom's entry is rejected`, () => {
        const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll('fn-identity', v, stripped, undefined, tc)));
        const d = diffFiles(read('v1'), read('v2'));
        if (!d.ok) throw new Error(d.error.message);
        const b = buildFromDiff(d.value, { moduleName: 'fn-identity.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
        if (!b.ok) throw new Error(b.error.message);
        const pkg = b.value.emitted.pkg;
        const m = d.value.match;
        // on_default: the changed function whose old body is a bare `lea eax, [rcx+1]; ret`.
        const oldOnDefault = m.old.fns.functions.find((f) => m.old.img.image[f.entry] === 0x8d && m.old.img.image[f.entry + 1] === 0x41 && m.old.img.image[f.entry + 2] === 0x01 && m.old.img.image[f.entry + 3] === 0xc3);
        if (oldOnDefault === undefined) throw new Error('on_default not found in OLD');
        const rec = pkg.functions.find((r) => r.oldRva === oldOnDefault.entry);
        expect(rec?.status).toBe('changed');
        const oldOnCustom = m.old.fns.functions.find((f) => f.entry !== oldOnDefault.entry && m.fnOldToNew[f.index]! >= 0 && d.value.newStatus[m.fnOldToNew[f.index]!] === 'unchanged' && m.old.img.image[f.entry] === 0x8d && m.old.img.image[f.entry + 1] === 0x04 && m.old.img.image[f.entry + 2] === 0x49);
        if (oldOnCustom === undefined) throw new Error('on_custom not found in OLD');
        expect(verifyPackage(d.value, pkg).ok).toBe(true);
        const sites = fixupSites(pkg).filter((s) => s.fixup.target.kind === 'image' && s.fixup.target.rva === oldOnDefault.entry);
        // Every lea of on_default in the three changed functions (implicit fixups of a delta block aside).
        const explicitCode = sites.filter((s) => s.kind === 'code').length;
        expect(explicitCode).toBeGreaterThanOrEqual(2);
        expect(fixupSites(pkg).filter((s) => s.fixup.target.kind === 'block' && s.fixup.target.blockId === rec!.blockId && s.kind !== 'unwind')).toEqual([]);
        for (const s of sites) {
          const body = verifyPackage(d.value, withFixup(pkg, s, (x) => ({ ...x, target: { kind: 'block', blockId: rec!.blockId, offset: rec!.blockOffset } })));
          expect(body.ok, `${s.kind} block ${s.block} fixup ${s.index}: new body instead of the OLD entry`).toBe(false);
          if (!body.ok) expect(body.error.message).toMatch(/takes the address of .* as a value, which must be its redirected OLD entry/);
          const other = verifyPackage(d.value, withFixup(pkg, s, (x) => ({ ...x, target: { kind: 'image', rva: oldOnCustom.entry } })));
          expect(other.ok, `${s.kind} block ${s.block} fixup ${s.index}: on_custom's entry`).toBe(false);
        }
      });
    }
  }
});

describe('LLVM self-relative table of unknown extent left in OLD (enum-names v2, clang, bound check hidden)', () => {
  // swc-html 1.15.8 -> 1.15.11: a changed function referred to the address just past a table
  // whose entry count no bound check proves (`&table[N]`, also the start of the next item).
  // The diff resolved it to OLD's copy; the verifier, which checks such a table entry by
  // entry wherever it lies, could not, and the build stopped with BUILD_VERIFY_FAILED. Here
  // the bound check before color_name's table (`cmp ecx, 6; ja`) becomes `cmp ecx, 6; jg`,
  // which the analysis does not read as a bound, in both builds, and NEW's color_name
  // changes only the encoding of `mov eax, ecx` (89 c8 -> 8b c1): the table and the strings
  // stay in OLD, and color_name's `lea` names the table there.
  const v2 = new Uint8Array(readFileSync(scenarioDll('enum-names', 'v2', false, undefined, 'clang')));
  const hex = Buffer.from(v2).toString('hex');
  const at = hex.indexOf('83f906771189c8') / 2;
  const oldBytes = v2.slice();
  oldBytes[at + 3] = 0x7f; // ja -> jg
  const newBytes = oldBytes.slice();
  newBytes.set([0x8b, 0xc1], at + 5); // mov eax, ecx in its other encoding
  const d = diffFiles(oldBytes, newBytes);
  if (!d.ok) throw new Error(d.error.message);

  test('the bound pattern is found once, and the analysis sees the table with no proven extent', () => {
    expect(Number.isInteger(at) && at > 0 && hex.indexOf('83f906771189c8', 2 * at + 1) < 0).toBe(true);
    const tables = [...d.value.match.new.relTables.values()];
    expect(tables.map((t) => t.count)).toEqual([null]);
  });
  test('the diff refuses color_name with RELATIVE_TABLE_UNBOUNDED, and the build refuses instead of failing verification', () => {
    const cn = d.value.functions.find((f) => f.name === 'color_name');
    expect(cn?.status).toBe('changed');
    expect(cn?.reason?.code).toBe('RELATIVE_TABLE_UNBOUNDED');
    const b = buildFromDiff(d.value, { moduleName: 'enum-names.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    expect(b.ok ? 'built' : b.error.code).toBe('BUILD_REFUSED');
  });
});

describe('quiescent ranges (format 2.4, caller-loop, caller-loop-order): a range dropped or moved is rejected', () => {
  // step gains a parameter and run, which loops over it, passes it: old run's body must be a
  // quiescent range (a thread inside it would call the new step the old way). The twin
  // caller-loop-same (same argument) lists none, and one added there is rejected too when it
  // lies outside OLD's code.
  for (const tc of TOOLCHAINS as readonly Toolchain[]) {
    for (const stripped of [false, true]) {
      const label = `${tc}${stripped ? ', stripped' : ''}`;
      const build = (s: string): { diff: ImageDiff; pkg: HotpatchPackage } => {
        const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s, v, stripped, undefined, tc)));
        const d = diffFiles(read('v1'), read('v2'));
        if (!d.ok) throw new Error(d.error.message);
        const b = buildFromDiff(d.value, { moduleName: `${s}.dll`, skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
        if (!b.ok) throw new Error(b.error.message);
        return { diff: d.value, pkg: b.value.emitted.pkg };
      };
      test(`${label}: old run's body is the one range; dropped, cut short or moved by 16 it is rejected`, () => {
        const { diff, pkg } = build('caller-loop');
        const m = diff.match;
        const run = pkg.functions.find((r) => r.name === 'run' || (stripped && r.oldRva !== null && r.oldSize > 16));
        const oldRun = m.old.fns.byEntry.get(run!.oldRva!)!;
        expect(pkg.quiescent).toEqual(oldRun.ranges.map((r) => ({ rva: r.start, length: r.end - r.start })));
        expect(verifyPackage(diff, pkg).ok).toBe(true);
        const q = pkg.quiescent![0]!;
        const cases: Array<readonly [string, RvaRange[]]> = [
          ['dropped', []],
          ['cut short by one byte', [{ ...q, length: q.length - 1 }]],
          ['moved by 16', [{ ...q, rva: asRva(q.rva + 16) }]],
        ];
        for (const [what, quiescent] of cases) {
          const r = verifyPackage(diff, { ...pkg, quiescent });
          expect(r.ok ? 'accepted' : r.error.code, what).toBe('VERIFY_QUIESCENT');
        }
      });
      test(`${label}: caller-loop-order (a middle parameter removed, no register more read): old run's body is the range; dropped, it is rejected naming the shift`, () => {
        const { diff, pkg } = build('caller-loop-order');
        const m = diff.match;
        const run = pkg.functions.find((r) => r.name === 'run' || (stripped && r.oldRva !== null && r.oldSize > 16));
        const oldRun = m.old.fns.byEntry.get(run!.oldRva!)!;
        expect(pkg.quiescent).toEqual(oldRun.ranges.map((r) => ({ rva: r.start, length: r.end - r.start })));
        expect(verifyPackage(diff, pkg).ok).toBe(true);
        const r = verifyPackage(diff, { ...pkg, quiescent: [] });
        expect(r.ok ? 'accepted' : r.error.code).toBe('VERIFY_QUIESCENT');
        if (!r.ok) expect(r.error.message).toMatch(/stops reading r8, and its callers in the module now pass in rdx what they passed in r8/);
      });
      test(`${label}: caller-loop-same lists none; a range outside OLD's code is rejected`, () => {
        const { diff, pkg } = build('caller-loop-same');
        expect(pkg.quiescent ?? []).toEqual([]);
        expect(verifyPackage(diff, pkg).ok).toBe(true);
        const r = verifyPackage(diff, { ...pkg, quiescent: [{ rva: asRva(diff.match.old.img.pe.optionalHeader.sizeOfImage - 8), length: 4 }] });
        expect(r.ok ? 'accepted' : r.error.code).toBe('VERIFY_QUIESCENT');
      });
    }
  }
});
