/**
 * Where a reference of NEW code must point once the package is applied to OLD: the same
 * function in OLD when it is unchanged, its new body in the package when it changed or was
 * added, the matched global, an old read-only item with the same content (or a copy of the
 * new one carried in the package), the old IAT slot of the same import (or a new import).
 * Both the diff (to give verdicts) and the emitter (to write fixups) ask these questions.
 */
import type { FixupTarget } from '../../formats/package.ts';
import { importKey } from '../match/import-identity.ts';
import { delayDescriptorDll, delayDescriptorOf } from '../image/delay-imports.ts';
import { thunkImport } from '../image/import-thunks.ts';
import { loaderOnlyCell } from '../match/loader-only-cells.ts';
import { oldCounterpart } from './rodata-counterparts.ts';
import { oldRvaByLayout, type UntouchedOld } from '../match/writable-layout.ts';
import { asRva } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { DataItem } from '../image/types.ts';
import { Code, Decoder, DecoderOptions, Instruction, OpKind } from 'iced-x86';
import { absTarget, relocsIn, type MappedImage } from '../image/map-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import type { HandlerRvaField, ParsedHandlerData } from '../eh/types.ts';
import type { ReasonCode } from './reasons.ts';
import { unprovenRelativeTable } from './relative-table-extent.ts';

/** What the emitter does with each new function. */
export type EmitRole = 'old' | 'emit';

/** A resolved target, or why there is none. */
export type Resolved =
  | { readonly ok: true; readonly target: FixupTarget }
  | { readonly ok: false; readonly reason: string; readonly code?: ReasonCode };

/** Everything resolution needs; the emitter fills `blockOf` and the carried-data table. */
export interface ResolveContext {
  readonly m: MatchResult;
  /** New function index -> code block id, for functions the package carries. */
  readonly blockOf: ReadonlyMap<number, number>;
  /** New function index -> block offset of each of its ranges. */
  readonly rangeOffsets: ReadonlyMap<number, readonly number[]>;
  /** Carries a new read-only item in the package; returns its data block id. */
  carry(item: DataItem): number;
  /** Index of a new import (added on first use). */
  importIndex(dll: string, symbol: string): number;
  /** Exact content key -> an old read-only item with that content. */
  readonly oldRodata: ReadonlyMap<string, DataItem>;
  /**
   * Where a read-only item glued to its neighbours (carried as one run) lies: its data block
   * and offset in it, or null when it is not glued. Absent: nothing is glued (the diff).
   */
  carryGlued?(item: DataItem): { readonly blockId: number; readonly offset: number } | null;
  /**
   * Records that read-only items `prev` and `next` (adjacent in NEW) must stay adjacent in
   * the patched image, because a reference to `next.start` may be `prev`'s end pointer. The
   * emitter then carries them as one run and emits again.
   */
  requireGlue?(prev: DataItem, next: DataItem): void;
  /**
   * Records that a reference to the start of `item`, which may also be the end of read-only
   * `prev` before it, was resolved (whatever the outcome): the emitter closes its glued runs
   * over these starts between passes.
   */
  noteAmbiguousStart?(prev: DataItem, item: DataItem): void;
  /**
   * Carried NEW functions with an OLD counterpart whose OLD entry keeps no redirect (funclets
   * only handler tables reach): their body is their only address. Absent: none.
   */
  readonly unredirected?: ReadonlySet<number>;
  /** Accepts a new global's OLD bytes inside an old item that OLD never touches (absent: never). */
  readonly untouchedOld?: UntouchedOld;
}

const fail = (reason: string): Resolved => ({ ok: false, reason });

const slotCache = new WeakMap<MatchResult, Map<string, number>>();

/** `dll!symbol` (version-free, match/import-identity.ts) -> IAT slot RVA in OLD. */
function oldSlots(m: MatchResult): Map<string, number> {
  let map = slotCache.get(m);
  if (map === undefined) {
    map = new Map();
    for (const [slot, o] of m.old.img.iat) if (!map.has(importKey(o))) map.set(importKey(o), slot);
    slotCache.set(m, map);
  }
  return map;
}

/** The pointer graph among NEW's read-only items, built once per match. */
interface RodataGraph {
  /** Item index -> read-only items holding a pointer to it. */
  readonly pointedFrom: ReadonlyMap<number, readonly number[]>;
  /** Read-only items holding a pointer into a function other than at its entry, with that function. */
  readonly interior: ReadonlyArray<readonly [item: number, fn: number]>;
}

const graphCache = new WeakMap<MatchResult, RodataGraph>();

function rodataGraph(m: MatchResult): RodataGraph {
  let g = graphCache.get(m);
  if (g !== undefined) return g;
  const n = m.new;
  const pointedFrom = new Map<number, number[]>();
  const interior: Array<[number, number]> = [];
  for (const item of n.items) {
    if (item.writable) continue;
    for (const rel of relocsIn(n.img, item.start, item.end)) {
      const t = absTarget(n.img, rel, n.img.relocs.get(rel)!);
      const fn = n.fns.containing(t);
      if (fn !== undefined) {
        if (t !== fn.entry) interior.push([item.index, fn.index]);
        continue;
      }
      const d = n.itemAt(t);
      if (d === undefined || d.writable) continue;
      const list = pointedFrom.get(d.index);
      if (list === undefined) pointedFrom.set(d.index, [item.index]);
      else if (list[list.length - 1] !== item.index) list.push(item.index);
    }
  }
  g = { pointedFrom, interior };
  graphCache.set(m, g);
  return g;
}

/**
 * Per `blockOf` map (and its size: the diff only ever deletes from its map, the emitter fills
 * its map before resolving, so a size change is the only change): the read-only items that
 * point, directly or through other read-only items, inside the body (not the entry) of a
 * function the package carries.
 */
const reachCache = new WeakMap<ReadonlyMap<number, number>, { readonly size: number; readonly items: ReadonlySet<number> }>();

/** True when read-only `item` (or read-only data it points to) points inside a carried function. */
function reachesReplacedBody(ctx: ResolveContext, item: DataItem): boolean {
  let hit = reachCache.get(ctx.blockOf);
  if (hit === undefined || hit.size !== ctx.blockOf.size) {
    // One backwards walk from the items pointing into replaced bodies: linear in the graph,
    // where a forward walk per resolved reference was quadratic on Go's type graphs.
    const g = rodataGraph(ctx.m);
    const items = new Set<number>();
    const work: number[] = [];
    for (const [i, fn] of g.interior) {
      if (ctx.blockOf.has(fn) && !items.has(i)) {
        items.add(i);
        work.push(i);
      }
    }
    while (work.length > 0) {
      for (const p of g.pointedFrom.get(work.pop()!) ?? []) {
        if (items.has(p)) continue;
        items.add(p);
        work.push(p);
      }
    }
    hit = { size: ctx.blockOf.size, items };
    reachCache.set(ctx.blockOf, hit);
  }
  return hit.items.has(item.index);
}

/** Describes an RVA of the new image for messages: `name+0x10` or `0x1234`. */
export function describeNew(m: MatchResult, t: number): string {
  const g = m.new.fns.containing(t);
  if (g !== undefined && g.name !== null) return t === g.entry ? g.name : `${g.name}+0x${(t - g.entry).toString(16)}`;
  const d = m.new.itemAt(t);
  if (d !== undefined && d.name !== null) return t === d.start ? d.name : `${d.name}+0x${(t - d.start).toString(16)}`;
  return `0x${t.toString(16)}`;
}

/** Offset of `t` inside the package layout of function `f` (ranges laid out per `offsets`). */
export function offsetInFunction(f: FunctionInfo, offsets: readonly number[], t: number): number | null {
  for (let i = 0; i < f.ranges.length; i++) {
    const r = f.ranges[i]!;
    if (t >= r.start && t < r.end) return offsets[i]! + (t - r.start);
  }
  return null;
}

/**
 * Resolves new-image RVA `t` (referenced from `from`, a new function, or null for data) to
 * the address it must have in the patched old image. `access`: the reference is an
 * instruction's load or store at `t` (disasm/memory-access.ts), or a handler-data field naming
 * a TypeDescriptor, which names the item starting at `t`, never the end of the one before it. `branch`: the reference is the target of a
 * direct call or jump (or a routine only the exception runtime calls), whose address the
 * program never sees; anything else (a `lea`, an `imm64`, a pointer in data) takes the
 * address as a value (see canonicalEntry).
 */
export function resolveTarget(ctx: ResolveContext, t: number, from: FunctionInfo | null, access = false, branch = false): Resolved {
  const m = ctx.m;
  const n = m.new;
  if (t < 0) return fail(`reference to an address outside the image`);
  if (t === 0) return { ok: true, target: { kind: 'image', rva: asRva(0) } };
  if (t < n.img.pe.optionalHeader.sizeOfHeaders && n.img.sections.every((s) => t < s.rva)) {
    return { ok: true, target: { kind: 'image', rva: asRva(t) } };
  }
  const imp = n.img.iat.get(t);
  if (imp !== undefined) {
    const slot = oldSlots(m).get(importKey(imp));
    if (slot !== undefined) return { ok: true, target: { kind: 'image', rva: asRva(slot) } };
    return { ok: true, target: { kind: 'import-slot', index: ctx.importIndex(imp.dll, imp.symbol) } };
  }
  const delayed = delayDescriptorDll(n.img, t);
  if (delayed !== null) {
    const od = delayDescriptorOf(m.old.img, delayed);
    return od === null ? fail(`reference to the delay-load descriptor of ${delayed}, which OLD does not have`) : { ok: true, target: { kind: 'image', rva: asRva(od) } };
  }
  if (n.importRanges.some(([s, e]) => t >= s && t < e)) return fail(`reference into the import tables at 0x${t.toString(16)}`);
  const g = n.fns.containing(t);
  if (g !== undefined) {
    const block = ctx.blockOf.get(g.index);
    if (block !== undefined) {
      const canonical = branch ? null : canonicalEntry(ctx, g, t);
      if (canonical !== null) return { ok: true, target: { kind: 'image', rva: asRva(canonical) } };
      const off = offsetInFunction(g, ctx.rangeOffsets.get(g.index)!, t);
      if (off === null) return fail(`internal: 0x${t.toString(16)} not in ${describeNew(m, g.entry)}`);
      return { ok: true, target: { kind: 'block', blockId: block, offset: off } };
    }
    const o = m.fnNewToOld[g.index]!;
    if (o < 0) return fail(`reference to ${describeNew(m, t)}, which has no counterpart in the old image and is not in the package`);
    const og = m.old.fns.functions[o]!;
    for (let i = 0; i < g.ranges.length; i++) {
      const r = g.ranges[i]!;
      if (t >= r.start && t < r.end) {
        const or = og.ranges[i];
        if (or === undefined || (t - r.start >= or.end - or.start && t !== g.entry)) return fail(`reference into ${describeNew(m, t)} has no place in the old function`);
        return { ok: true, target: { kind: 'image', rva: asRva(or.start + (t - r.start)) } };
      }
    }
    return fail(`internal: 0x${t.toString(16)} not in ${describeNew(m, g.entry)}`);
  }
  const table = n.tables.get(t);
  if (table !== undefined) {
    return fail(`reference to the jump table of ${describeNew(m, table.fn.entry)} from ${from === null ? 'data' : describeNew(m, from.entry)}`);
  }
  const item = n.itemAt(t);
  if (item === undefined) {
    const edge = n.img.sections.find((x) => x.rva + x.size === t);
    const oldEdge = edge === undefined ? undefined : m.old.img.sections.find((x) => x.name === edge.name);
    if (oldEdge !== undefined) {
      const oldEnd = oldEdge.rva + oldEdge.size;
      // The section's end is also one past the end of its last item: OLD must end the section
      // with the same item (no copy can sit at the old section's end).
      const last = n.itemAt(t - 1);
      if (last !== undefined && last.end === t) {
        const o = last.writable ? (m.itemNewToOld[last.index]! >= 0 ? m.old.items[m.itemNewToOld[last.index]!] : undefined) : oldCopy(ctx, last);
        if (o === undefined || o.start + (last.end - last.start) !== oldEnd) return fail(`reference to the end of ${edge!.name} is also the end of ${describeNew(m, last.start)}, which OLD does not hold there`);
      }
      return { ok: true, target: { kind: 'image', rva: asRva(oldEnd) } };
    }
    const sec = n.img.sections.find((s) => t >= s.rva && t < s.rva + s.size);
    if (sec === undefined) return fail(`reference to 0x${t.toString(16)}, outside every section`);
    return fail(sec.executable ? `reference to code outside any function at 0x${t.toString(16)}` : `reference to 0x${t.toString(16)} in ${sec.name}, which is no known object`);
  }
  if (item.writable) {
    const o = m.itemNewToOld[item.index]!;
    if (o < 0) {
      const rva = oldRvaByLayout(m, item, t, ctx.untouchedOld);
      if (rva !== null) return { ok: true, target: { kind: 'image', rva: asRva(rva) } };
      // A new loader-only cell (gcc's DW.ref.*, reached from an LSDA type entry): the package
      // carries a copy, its pointer an abs64 fixup (the cell itself is never written by code).
      if (loaderOnlyCell(n, item)) return { ok: true, target: { kind: 'block', blockId: ctx.carry(item), offset: t - item.start } };
      return fail(`reference to writable data ${describeNew(m, t)} (${item.section}) with no counterpart in the old image: new or moved global`);
    }
    const oi = m.old.items[o]!;
    if (t - item.start >= oi.end - oi.start) return fail(`reference to ${describeNew(m, t)} lies past the end of the old global (layout changed)`);
    // The start of a global may be the end of the one before it (`&arr[N]`): OLD must hold the
    // matched pair adjacent too. Not for a load or store at `t`: it touches only the bytes from
    // `t` on (e.g. `mov eax, [rip + _tls_index]` right after an 8-byte global).
    const prev = t === item.start && !access ? n.items[item.index - 1] : undefined;
    if (prev !== undefined && prev.writable && prev.end === t && prev.section === item.section) {
      const po = m.itemNewToOld[prev.index]!;
      // An unmatched global before it stands for the unmatched old one of the same size there.
      const before = m.old.items[oi.index - 1];
      const op = po >= 0 ? m.old.items[po] : before !== undefined && m.itemOldToNew[before.index]! < 0 && before.writable && before.end - before.start === prev.end - prev.start ? before : undefined;
      if (op === undefined || op.start + (prev.end - prev.start) !== oi.start) return fail(`reference to ${describeNew(m, t)} is also the end of ${describeNew(m, prev.start)}, and OLD does not hold the two globals adjacent (layout changed)`);
    }
    return { ok: true, target: { kind: 'image', rva: asRva(oi.start + (t - item.start)) } };
  }
  // `t` names (item, offset), and an item start may also be one past the end of the
  // read-only item before it (`&table[N]`; extents are inferred): the target must be both.
  // Either reading landing on a self-relative table of unknown extent cannot be checked.
  const prev = t === item.start ? n.items[item.index - 1] : undefined;
  const endOf = prev !== undefined && !prev.writable && prev.end === t && prev.section === item.section ? prev : undefined;
  const asItem = unprovenRelativeTable(n.relTables, n.img, item);
  const asEnd = asItem === null && endOf !== undefined ? unprovenRelativeTable(n.relTables, n.img, endOf) : null;
  if (asItem !== null || asEnd !== null) {
    const also = asEnd === null ? '' : ` (also the end of ${describeNew(m, endOf!.start)})`;
    return { ok: false, code: 'RELATIVE_TABLE_UNBOUNDED', reason: `reference to ${describeNew(m, t)}${also}: ${asItem ?? asEnd}` };
  }
  const glued = ctx.carryGlued?.(item) ?? null;
  const old = glued === null ? oldCopy(ctx, item) : undefined;
  if (prev !== undefined && !prev.writable && prev.end === t && prev.section === item.section && ctx.requireGlue !== undefined) {
    ctx.noteAmbiguousStart?.(prev, item);
    const gluedPrev = ctx.carryGlued?.(prev) ?? null;
    // Both in one carried run, or both in OLD, adjacent, where every other reference to them
    // goes; otherwise they must travel together.
    const oldPrev = gluedPrev === null && glued === null ? oldCopy(ctx, prev) : undefined;
    const together = gluedPrev !== null && glued !== null ? gluedPrev.blockId === glued.blockId : old !== undefined && oldPrev !== undefined && oldPrev.end === old.start && oldPrev.end - oldPrev.start === prev.end - prev.start;
    if (!together) ctx.requireGlue(prev, item);
  }
  // Bytes in a code section that no discovered function owns, reached through data (Go's
  // frameless functions have no .pdata and are found only through function pointers): a copy
  // elsewhere would keep its relative branches and RIP-relative operands unadjusted, and
  // comparing it as data cannot see that. Only the old bytes in place will do.
  const inCode = n.img.sections.find((x) => item.start >= x.rva && item.start < x.rva + x.size)?.executable === true;
  if (inCode && old === undefined && positionDependent(n.img, item.start, item.end)) {
    return fail(`reference to code at ${describeNew(m, item.start)} that no discovered function owns (reached through data), whose bytes differ from OLD and hold relative branches or RIP-relative operands: it cannot be carried as data`);
  }
  if (glued !== null) return { ok: true, target: { kind: 'block', blockId: glued.blockId, offset: glued.offset + (t - item.start) } };
  if (old !== undefined) return { ok: true, target: { kind: 'image', rva: asRva(old.start + (t - item.start)) } };
  return { ok: true, target: { kind: 'block', blockId: ctx.carry(item), offset: t - item.start } };
}

/**
 * The OLD entry of carried function `g` when `t` is its entry and the package redirects that
 * entry to the new body, else null. A function's address taken as a value (a `lea` or `imm64`
 * of its entry, a pointer in carried read-only data) is compared and stored by the program:
 * OLD's code and data, and everything they stored before the patch, hold the OLD entry, and
 * in NEW one function has one address. So new code and data take the OLD entry too (its
 * redirect leads to the new body); the new body's own address would make `p == f` false for
 * every pointer OLD handed out (samples/fn-identity). A direct call or jump goes straight to
 * the body: its target is never seen. An added function has no old address, so its body is
 * its only address; a funclet that keeps no redirect is reached only through handler tables.
 */
function canonicalEntry(ctx: ResolveContext, g: FunctionInfo, t: number): number | null {
  if (t !== g.entry) return null;
  const o = ctx.m.fnNewToOld[g.index]!;
  if (o < 0 || ctx.unredirected?.has(g.index) === true) return null;
  return ctx.m.old.fns.functions[o]!.entry;
}

/**
 * True when bytes [start, end) of a code section, decoded as instructions (a linear sweep
 * that steps over pointers under base relocations), hold a relative branch or a RIP-relative
 * operand: bytes whose meaning depends on where they lie, so a copy elsewhere is wrong. A
 * pointer list in a code section (mingw's __CTOR_LIST__) decodes to none and may be copied.
 * Over-approximates (misaligned decoding can only find more), which refuses, never accepts.
 */
export function positionDependent(img: MappedImage, start: number, end: number): boolean {
  const relocs = relocsIn(img, start - 7, end);
  // Only the item's bytes go to the decoder (it copies its input into wasm memory).
  const bytes = img.image.subarray(start, Math.min(end, img.image.length));
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const insn = new Instruction();
  try {
    let r = 0;
    let p = start;
    while (p < start + bytes.length) {
      while (r < relocs.length && relocs[r]! + 8 <= p) r++;
      const rel = relocs[r];
      if (rel !== undefined && rel <= p) {
        p = rel + 8;
        continue;
      }
      decoder.position = p - start;
      decoder.ip = BigInt(p);
      decoder.decodeOut(insn);
      if (insn.code === Code.INVALID || insn.length === 0) {
        p++;
        continue;
      }
      const k = insn.op0Kind;
      if (insn.isIpRelMemoryOperand || k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) return true;
      p += insn.length;
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return false;
}

/** The old read-only item a reference to new `item` goes to, or undefined when it is carried. */
function oldCopy(ctx: ResolveContext, item: DataItem): DataItem | undefined {
  const key = ctx.m.newNorm.itemKey(item, 'exact');
  const first = ctx.oldRodata.get(key);
  // Among OLD items of equal contents, the one matched code names (identity, not just bytes).
  const old = first === undefined ? undefined : oldCounterpart(ctx.m, item, key, first);
  // An old copy whose pointers reach into the body (not the entry) of a function the package
  // replaces would lead into old code: carry the new item instead.
  return old !== undefined && !reachesReplacedBody(ctx, item) && keepsEnds(ctx.m, item, old) ? old : undefined;
}

const endsCache = new WeakMap<MatchResult, Map<string, boolean>>();

/**
 * True when every pointer inside new `item` (and, transitively, inside the read-only items it
 * points to) that lands on an item start which is also the end of the item before it lands,
 * in `old`, on the same pair held adjacent: content keys only say what a pointer points at,
 * not what lies before it, so `&table[N]` stored in data is checked here.
 */
function keepsEnds(m: MatchResult, item: DataItem, old: DataItem): boolean {
  let cache = endsCache.get(m);
  if (cache === undefined) endsCache.set(m, (cache = new Map()));
  const top = `${item.index}:${old.index}`;
  const hit = cache.get(top);
  if (hit !== undefined) return hit;
  // One walk over the pointer graph from (item, old); pairs met again are assumed to hold
  // (coinduction, as the verifier does), so the walk is linear in the graph.
  const n = m.new;
  const visited = new Set<string>([top]);
  const work: Array<[DataItem, DataItem]> = [[item, old]];
  const follow = (a: DataItem, b: DataItem): boolean | null => {
    const k = `${a.index}:${b.index}`;
    const c = cache!.get(k);
    if (c === false) return false;
    if (c === true || visited.has(k)) return null;
    visited.add(k);
    work.push([a, b]);
    return null;
  };
  let good = true;
  walk: while (work.length > 0) {
    const [ni, oi] = work.pop()!;
    for (const rel of relocsIn(n.img, ni.start, ni.end)) {
      const t = absTarget(n.img, rel, n.img.relocs.get(rel)!);
      const q = n.itemAt(t);
      if (q === undefined || n.fns.containing(t) !== undefined) continue;
      const orel = oi.start + (rel - ni.start);
      const ot = m.old.img.relocs.has(orel) ? absTarget(m.old.img, orel, m.old.img.relocs.get(orel)!) : -1;
      const oq = m.old.itemAt(ot);
      const p = t === q.start ? n.items[q.index - 1] : undefined;
      if (p !== undefined && p.end === t && p.section === q.section && p.writable === q.writable) {
        const op = oq === undefined ? undefined : m.old.items[oq.index - 1];
        const same = op !== undefined && oq!.start === ot && op.end === ot && op.end - op.start === p.end - p.start && (p.writable ? m.itemNewToOld[p.index] === op.index : m.oldNorm.itemKey(op, 'exact') === m.newNorm.itemKey(p, 'exact'));
        if (!same || (!p.writable && follow(p, op!) === false)) {
          good = false;
          break walk;
        }
      }
      if (!q.writable && (oq === undefined || follow(q, oq) === false)) {
        good = false;
        break walk;
      }
    }
  }
  // A success holds for every pair the walk met; a failure is known only for the start.
  if (good) for (const k of visited) cache.set(k, true);
  else cache.set(top, false);
  return good;
}

/**
 * Where one RVA field of carried handler data must point: `table` at the copy of the
 * structure it names (in this block's unwind info), `code` at the same place in this block
 * (an address in the function, or its end) or in the function it lies in, `function` and
 * `data` where any reference to them goes.
 */
export function handlerFieldTarget(
  ctx: ResolveContext,
  f: FunctionInfo,
  offsets: readonly number[],
  id: number,
  data: ParsedHandlerData,
  fld: HandlerRvaField,
  structAt: ReadonlyMap<string, number>,
): Resolved {
  const t = fld.target;
  if (fld.role === 'table') {
    const st = data.structures.find((s) => s.rva === t) ?? data.structures.find((s) => t >= s.rva && t < s.rva + s.length);
    const at = st === undefined ? undefined : structAt.get(`${st.rva}:${st.length}`);
    if (st === undefined || at === undefined) return { ok: false, reason: `table field points at 0x${t.toString(16)}, which is no structure of the handler data` };
    return { ok: true, target: { kind: 'unwind', offset: at + (t - st.rva) } };
  }
  if (fld.role === 'code') {
    const inside = offsetInFunction(f, offsets, t);
    if (inside !== null) return { ok: true, target: { kind: 'block', blockId: id, offset: inside } };
    // One past the end (a scope's EndAddress) is the end of the copied range.
    const i = f.ranges.findIndex((r) => r.end === t);
    if (i >= 0) return { ok: true, target: { kind: 'block', blockId: id, offset: offsets[i]! + (t - f.ranges[i]!.start) } };
    if (ctx.m.new.fns.containing(t) === undefined) return { ok: false, reason: `code address 0x${t.toString(16)} is in no function` };
  }
  // Handler data names routines the exception runtime calls: never compared, so the body.
  // A `data` field (a TypeDescriptor the runtime reads to match a catch) names the object at
  // its address, never the end of the one before it (watcher 2.5.1's FH4 handler types name
  // `exception@stdext`, which starts where `runtime_error@std` ends).
  return resolveTarget(ctx, t, fld.role === 'code' ? f : null, fld.role === 'data', true);
}

const thunkCache = new WeakMap<MatchResult, Map<string, number>>();

/**
 * Where an UNWIND_INFO's handler RVA must point in patched OLD. A handler reached through an
 * import thunk (`jmp [__imp___CxxFrameHandler3]`, which no function owns) goes to OLD's thunk
 * for the same import; anything else resolves as a reference would.
 */
export function resolveHandler(ctx: ResolveContext, h: number): Resolved {
  const m = ctx.m;
  const n = m.new.img;
  const imp = m.new.fns.containing(h) !== undefined ? undefined : thunkImport(n, h);
  if (imp === undefined) return resolveTarget(ctx, h, null, false, true);
  let thunks = thunkCache.get(m);
  if (thunks === undefined) {
    thunks = new Map();
    const o = m.old.img;
    for (const s of o.sections) {
      if (!s.executable) continue;
      for (let k = s.rva; k + 6 <= s.rva + s.size && k + 6 <= o.image.length; k++) {
        const oi = thunkImport(o, k);
        if (oi !== undefined && m.old.fns.containing(k) === undefined && !thunks.has(importKey(oi))) thunks.set(importKey(oi), k);
      }
    }
    thunkCache.set(m, thunks);
  }
  const at = thunks.get(importKey(imp));
  if (at === undefined) return fail(`handler ${imp.symbol} is reached through an import thunk OLD does not have`);
  return { ok: true, target: { kind: 'image', rva: asRva(at) } };
}

/** oldRodataByKey's answer per match (the verdicts and the emitter both ask; matching is over by then). */
const rodataCache = new WeakMap<MatchResult, ReadonlyMap<string, DataItem>>();

/** Exact key -> old read-only item, for re-using unchanged constants. */
export function oldRodataByKey(m: MatchResult): ReadonlyMap<string, DataItem> {
  const hit = rodataCache.get(m);
  if (hit !== undefined) return hit;
  const out = new Map<string, DataItem>();
  for (const d of m.old.items) {
    if (d.writable || d.jumpTable) continue;
    const k = m.oldNorm.itemKey(d, 'exact');
    if (!out.has(k)) out.set(k, d);
  }
  rodataCache.set(m, out);
  return out;
}
