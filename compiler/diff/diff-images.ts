/**
 * Diff: each function unchanged / changed / added / removed, each changed piece of data,
 * and a verdict per change: hotpatchable, or refused with a precise reason.
 *
 * "Unchanged" means equal exact normalised forms (compiler/match/normalise.ts), so layout
 * shifts alone give an empty diff, and a function whose code bytes are equal but whose
 * read-only data changed is changed. Refusals (a wrong "safe" is the worst bug here):
 * - writable data: a writable section's size or normalised initial contents changed, a
 *   referenced global has no counterpart, TLS changed;
 * - exports or the entry point changed;
 * - a redirect site that cannot hold a jump: the old function is shorter than 5 bytes and
 *   the bytes after it are not int3/nop padding, and no 5-byte padding run is reachable with
 *   a 2-byte short jump (short-to-pad);
 * - the thread rule: a branch target or a call's return address inside the bytes the
 *   redirect overwrites (a thread resuming there would run half a jump);
 * - code the analysis could not follow (undecodable bytes, an unbounded indirect jump),
 *   references that cannot be re-targeted (short branches leaving the function, MSVC
 *   image-relative tables, 32-bit absolute addresses), unwind data that cannot be carried.
 */
import { ok, type Result } from '../../common/errors.ts';
import type { PeFile } from '../../runtime/pe/types.ts';
import { Code, Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind } from 'iced-x86';
import { describeNew, handlerFieldTarget, resolveHandler, resolveTarget, type ResolveContext } from '../emit/resolve-target.ts';
import { parseGccLsda } from '../emit/gcc-lsda.ts';
import { chainedParent, layoutParts } from '../functions/layout-parts.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { FunctionInfo } from '../functions/discover-functions.ts';
import { absTarget, mapImage, relocsIn, sectionAt, type MappedImage, type MappedSection } from '../functions/map-image.ts';
import { analyzeImage, type DataItem, type ImageAnalysis } from '../match/analyze-image.ts';
import { matchImages, type MatchHow, type MatchResult } from '../match/match-images.ts';
import { latin1 } from '../match/normalise.ts';
import { diffAccessLayout } from './access-layout.ts';
import { relativeEntryFixups } from '../emit/relative-entries.ts';
import { diffExportedData } from './exported-data.ts';

export type FunctionStatus = 'unchanged' | 'changed' | 'added' | 'removed';
export type Verdict = 'hotpatchable' | 'refused';

/** How an old function's entry will be redirected. */
export type RedirectPlan = { readonly kind: 'jmp-rel32' } | { readonly kind: 'short-to-pad'; readonly padRva: number };

/** One function of the diff. */
export interface FunctionChange {
  readonly name: string | null;
  readonly oldIndex: number | null;
  readonly newIndex: number | null;
  readonly oldRva: number | null;
  readonly newRva: number | null;
  readonly oldSize: number;
  readonly newSize: number;
  readonly status: FunctionStatus;
  /** Null for unchanged functions. */
  readonly verdict: Verdict | null;
  readonly reason: string | null;
  readonly matchedBy: MatchHow | null;
  /** Changed only because read-only data it references changed (its code is the same). */
  readonly dataOnly: boolean;
  /** For changed functions that can be redirected. */
  readonly redirect: RedirectPlan | null;
}

/** One changed or added piece of data (or a whole-image property such as exports). */
export interface DataChange {
  readonly name: string | null;
  readonly section: string | null;
  readonly oldRva: number | null;
  readonly newRva: number | null;
  readonly size: number;
  readonly status: 'changed' | 'added' | 'removed';
  readonly verdict: Verdict;
  readonly reason: string;
}

/** The diff of two images. */
export interface ImageDiff {
  readonly match: MatchResult;
  /** Every function, new-image order first, then removed ones. */
  readonly functions: readonly FunctionChange[];
  readonly data: readonly DataChange[];
  readonly hotpatchable: boolean;
  readonly counts: { readonly unchanged: number; readonly changed: number; readonly added: number; readonly removed: number; readonly refused: number };
  /** Status of each new function by index. */
  readonly newStatus: readonly FunctionStatus[];
  /**
   * New functions (funclets reached only through exception-handler tables) that the package
   * carries with their group but does not redirect: recorded as added code.
   */
  readonly funcletsWithoutRedirect: ReadonlySet<number>;
  /** New function index -> every member of its exception-handling group (itself included). */
  readonly ehGroupOf: ReadonlyMap<number, readonly number[]>;
}

/**
 * Exception-handling groups of NEW. A root is a function with MSVC handler data that does not
 * name itself as a funclet; its group is it plus the funclets only its data names (catch
 * blocks, unwind actions, filters: they run on its frame). A funclet named by several roots
 * (identical funclets folded by the linker) belongs to no group: it stays where it is while
 * unchanged, and a change to it is refused (old frames of its other parents would run it).
 * `namesShared`: for each function with data, the shared funclets it names; `orphans`:
 * functions whose data names them as funclets of no root this analysis found.
 */
function ehGroups(m: MatchResult): { groups: number[][]; groupOf: Map<number, number[]>; noRedirect: Set<number>; shared: Map<number, number>; namesShared: Map<number, number[]>; orphans: Set<number> } {
  const fns = m.new.fns;
  const namesOf = new Map<number, Set<number>>();
  const roots = new Set<number>();
  const withData = new Set<number>();
  for (const f of fns.functions) {
    for (const rf of f.pdata) {
      const hd = parseHandlerData(m.new.img, fns, f, rf);
      if (hd?.kind !== 'msvc') continue;
      withData.add(f.index);
      const list = namesOf.get(f.index) ?? new Set<number>();
      let self = false;
      for (const e of hd.data.funclets) {
        const g = fns.containing(e);
        if (g === undefined) continue;
        if (g === f) self = true;
        else list.add(g.index);
      }
      namesOf.set(f.index, list);
      if (!self) roots.add(f.index);
    }
  }
  // A function that is a root in one entry and a funclet in another is not a root.
  for (const f of fns.functions) {
    if (!roots.has(f.index)) continue;
    for (const rf of f.pdata) {
      const hd = parseHandlerData(m.new.img, fns, f, rf);
      if (hd?.kind === 'msvc' && hd.data.funclets.some((e) => fns.containing(e) === f)) roots.delete(f.index);
    }
  }
  const namedBy = new Map<number, number[]>();
  for (const r of roots) for (const g of namesOf.get(r) ?? []) namedBy.set(g, [...(namedBy.get(g) ?? []), r]);
  const shared = new Map<number, number>();
  const groupMembers = new Map<number, number[]>();
  for (const [g, by] of namedBy) {
    if (by.length === 1 && !roots.has(g)) groupMembers.set(by[0]!, [...(groupMembers.get(by[0]!) ?? [by[0]!]), g]);
    else shared.set(g, by.length);
  }
  const groups = [...groupMembers.values()].map((g) => [...new Set(g)].sort((a, b) => a - b));
  const groupOf = new Map<number, number[]>();
  for (const g of groups) for (const k of g) groupOf.set(k, g);
  const namesShared = new Map<number, number[]>();
  for (const [k, list] of namesOf) {
    const sh = [...list].filter((g) => shared.has(g));
    if (sh.length > 0) namesShared.set(k, sh);
  }
  const orphans = new Set([...withData].filter((k) => !roots.has(k) && !groupOf.has(k) && !shared.has(k)));
  const privateFunclets = new Set([...groupOf.keys()].filter((k) => !roots.has(k)));
  const referenced = new Set<number>();
  for (const f of fns.functions) {
    for (const r of f.decoded.refs) {
      const g = fns.containing(r.target);
      if (g !== undefined && g !== f && privateFunclets.has(g.index)) referenced.add(g.index);
    }
  }
  const noRedirect = new Set([...privateFunclets].filter((k) => !referenced.has(k)));
  return { groups, groupOf, noRedirect, shared, namesShared, orphans };
}

/** A parsed PE file with its bytes. */
export interface PeInput {
  readonly bytes: Uint8Array;
  readonly pe: PeFile;
}

/** Maps and analyses one image (exposed so callers can reuse it). */
export function prepareImage(input: PeInput): Result<ImageAnalysis> {
  const img = mapImage(input.bytes, input.pe);
  if (!img.ok) return img;
  return analyzeImage(img.value);
}

/** Diffs OLD against NEW. */
export function diffImages(oldIn: PeInput, newIn: PeInput): Result<ImageDiff> {
  if (oldIn.pe.format !== 'PE32+' || newIn.pe.format !== 'PE32+') return errOf('DIFF_NOT_X64', 'only x86-64 (PE32+) images are supported');
  if (oldIn.pe.fileHeader.machine !== 0x8664 || newIn.pe.fileHeader.machine !== 0x8664) return errOf('DIFF_NOT_X64', 'only x86-64 (machine 0x8664) images are supported');
  const oa = prepareImage(oldIn);
  if (!oa.ok) return oa;
  const na = prepareImage(newIn);
  if (!na.ok) return na;
  return ok(diffAnalyses(matchImages(oa.value, na.value)));
}

function errOf(code: string, message: string): Result<never> {
  return { ok: false, error: { code, message } };
}

/** Diffs two matched analyses. */
export function diffAnalyses(m: MatchResult): ImageDiff {
  const oldFns = m.old.fns.functions;
  const newFns = m.new.fns.functions;
  const status: FunctionStatus[] = newFns.map((f) => {
    const o = m.fnNewToOld[f.index]!;
    if (o < 0) return 'added';
    return m.oldNorm.functionForm(oldFns[o]!, 'exact') === m.newNorm.functionForm(f, 'exact') ? 'unchanged' : 'changed';
  });
  const why = new Map<number, string>();
  const eh = ehGroups(m);
  /** Unchanged functions made changed only because their exception-handling group changed. */
  const forcedByGroup = new Set<number>();
  // A function that jumps into the body (not the entry) of a changed function must move with
  // it: the old body it jumps into stays old code (gcc's foo.cold parts jump back into foo).
  // A parent and its funclets (catch blocks, cleanups, filters run on the parent's frame, and
  // share its handler tables) move together too: new tables with old funclets, or a new
  // funclet on an old parent's frame, is a mixed state nobody compiled.
  for (let again = true; again; ) {
    again = false;
    for (const g of eh.groups) {
      const moved = g.find((k) => status[k] !== 'unchanged');
      if (moved === undefined) continue;
      for (const k of g) {
        if (status[k] !== 'unchanged') continue;
        status[k] = 'changed';
        why.set(k, `carried with ${describeNew(m, newFns[moved]!.entry)}: same exception-handling group (parent and funclets travel together)`);
        forcedByGroup.add(k);
        again = true;
      }
    }
    for (const f of newFns) {
      if (status[f.index] !== 'unchanged') continue;
      for (const r of f.decoded.refs) {
        const g = m.new.fns.containing(r.target);
        if (g === undefined || g === f || r.target === g.entry || status[g.index] === 'unchanged') continue;
        status[f.index] = 'changed';
        why.set(f.index, `jumps into the body of changed ${describeNew(m, g.entry)}`);
        again = true;
        break;
      }
    }
  }

  const emitted = new Map<number, number>();
  const rangeOffsets = new Map<number, number[]>();
  for (const f of newFns) {
    if (status[f.index] === 'changed' || status[f.index] === 'added') {
      emitted.set(f.index, emitted.size);
      rangeOffsets.set(f.index, layoutRanges(f));
    }
  }
  const ctx: ResolveContext = {
    m,
    blockOf: emitted,
    rangeOffsets,
    carry: () => 0,
    importIndex: () => 0,
    oldRodata: oldRodataByKey(m),
  };

  const data = [...diffWritable(m), ...diffOffsetsUsed(m), ...diffAccessLayout(m), ...diffImageLevel(m, status), ...diffExportedData(m), ...diffOrphanCode(m)];
  // New code must not touch a global whose layout or initial value changed.
  const badItems = new Map<number, DataChange>();
  for (const d of data) {
    if (d.verdict !== 'refused' || d.newRva === null) continue;
    const item = m.new.itemAt(d.newRva);
    if (item !== undefined && item.writable) badItems.set(item.index, d);
  }
  const touchesBadGlobal = (f: FunctionInfo): string | null => {
    for (const r of f.decoded.refs) {
      const item = m.new.itemAt(r.target);
      const d = item === undefined ? undefined : badItems.get(item.index);
      if (d !== undefined) return `uses ${d.name ?? describeNew(m, r.target)}, whose layout or initial value changed (${d.reason.split(':')[0]})`;
    }
    return null;
  };
  // Verdicts to a fixed point: a function that needs a refused one in the package is refused.
  const reasons = new Map<number, string>();
  const redirects = new Map<number, RedirectPlan>();
  // Who references whom (functions only), so a refusal re-checks just the referrers.
  const referrers = new Map<number, number[]>();
  for (const f of newFns) {
    if (!emitted.has(f.index)) continue;
    for (const r of f.decoded.refs) {
      const g = m.new.fns.containing(r.target);
      if (g === undefined || g === f) continue;
      const list = referrers.get(g.index) ?? [];
      if (list[list.length - 1] !== f.index) list.push(f.index);
      referrers.set(g.index, list);
    }
  }
  const reservedSites = new Set<number>();
  /** Why a group's first member was refused (group refusals name it, not each other). */
  const baseReasons = new Map<number, string>();
  const okItems = new Set<number>();
  const check = (f: FunctionInfo): void => {
    const st = status[f.index]!;
    if ((st !== 'changed' && st !== 'added') || reasons.has(f.index)) return;
    const o = m.fnNewToOld[f.index]!;
    const group = eh.groupOf.get(f.index);
    const refusedMate = group?.find((k) => k !== f.index && reasons.has(k));
    let reason = refusedMate !== undefined ? `its exception-handling group member ${describeNew(m, newFns[refusedMate]!.entry)} is refused (${baseReasons.get(refusedMate) ?? reasons.get(refusedMate)})` : null;
    const sharedBy = eh.shared.get(f.index);
    if (reason === null && sharedBy !== undefined && st === 'changed') reason = `funclet shared by ${sharedBy} functions' exception handling changed: old frames of its other parents would run the new code`;
    const changedShared = eh.namesShared.get(f.index)?.find((k) => status[k] === 'changed');
    if (reason === null && changedShared !== undefined) reason = `its exception handling names ${describeNew(m, newFns[changedShared]!.entry)}, a funclet shared with other functions, which changed`;
    if (reason === null && eh.orphans.has(f.index)) reason = 'funclet (its handler data names it) of no parent function this analysis found';
    if (reason !== null && refusedMate === undefined) baseReasons.set(f.index, reason);
    else if (refusedMate !== undefined) baseReasons.set(f.index, baseReasons.get(refusedMate) ?? reasons.get(refusedMate)!);
    if (reason === null) {
      reason = touchesBadGlobal(f) ?? emissionProblem(ctx, f, okItems);
      if (reason !== null) baseReasons.set(f.index, reason);
    }
    // A funclet only the handler tables reach keeps no redirect: old frames keep their old
    // funclets, the new tables reach the new ones.
    if (reason === null && o >= 0 && !redirects.has(f.index) && !eh.noRedirect.has(f.index)) {
      const r = planRedirect(m.old, oldFns[o]!, reservedSites);
      if (typeof r === 'string') reason = r;
      else redirects.set(f.index, r);
    }
    if (reason !== null) {
      reasons.set(f.index, reason);
      emitted.delete(f.index);
      okItems.clear();
      for (const k of referrers.get(f.index) ?? []) queue.push(k);
      for (const k of group ?? []) if (k !== f.index) queue.push(k);
    }
  };
  const queue: number[] = [];
  for (const f of newFns) check(f);
  while (queue.length > 0) check(newFns[queue.pop()!]!);
  // Carried data can point at functions too: one more full pass settles those.
  for (let again = true; again; ) {
    const before = reasons.size;
    for (const f of newFns) check(f);
    while (queue.length > 0) check(newFns[queue.pop()!]!);
    again = reasons.size !== before;
  }
  // A refused group stays old as a whole: its members that changed only to travel with it
  // are unchanged again (their old code is NEW's code, with the old tables it goes with).
  for (const k of forcedByGroup) {
    if (!reasons.has(k)) continue;
    status[k] = 'unchanged';
    reasons.delete(k);
    why.delete(k);
  }
  const functions: FunctionChange[] = [];
  for (const f of newFns) {
    const st = status[f.index]!;
    const o = m.fnNewToOld[f.index]!;
    const of = o >= 0 ? oldFns[o]! : null;
    const reason = reasons.get(f.index) ?? null;
    const redirect = redirects.get(f.index) ?? null;
    functions.push({
      name: f.name ?? of?.name ?? null,
      oldIndex: of?.index ?? null,
      newIndex: f.index,
      oldRva: of?.entry ?? null,
      newRva: f.entry,
      oldSize: of === null ? 0 : sizeOf(of),
      newSize: sizeOf(f),
      status: st,
      verdict: st === 'unchanged' ? null : reason === null ? 'hotpatchable' : 'refused',
      reason: reason ?? (st === 'changed' ? (why.get(f.index) ?? null) : null),
      matchedBy: m.fnHow.get(f.index) ?? null,
      dataOnly: st === 'changed' && of !== null && m.oldNorm.functionForm(of, 'code') === m.newNorm.functionForm(f, 'code'),
      redirect,
    });
  }
  for (const of of oldFns) {
    if (m.fnOldToNew[of.index] !== -1) continue;
    functions.push({
      name: of.name,
      oldIndex: of.index,
      newIndex: null,
      oldRva: of.entry,
      newRva: null,
      oldSize: sizeOf(of),
      newSize: 0,
      status: 'removed',
      verdict: 'hotpatchable',
      reason: null,
      matchedBy: null,
      dataOnly: false,
      redirect: null,
    });
  }
  const refused = functions.filter((f) => f.verdict === 'refused').length + data.filter((d) => d.verdict === 'refused').length;
  const counts = {
    unchanged: functions.filter((f) => f.status === 'unchanged').length,
    changed: functions.filter((f) => f.status === 'changed').length,
    added: functions.filter((f) => f.status === 'added').length,
    removed: functions.filter((f) => f.status === 'removed').length,
    refused,
  };
  return { match: m, functions, data, hotpatchable: refused === 0, counts, newStatus: status, funcletsWithoutRedirect: eh.noRedirect, ehGroupOf: eh.groupOf };
}

/** Total bytes of a function's ranges. */
export function sizeOf(f: FunctionInfo): number {
  return f.ranges.reduce((s, r) => s + (r.end - r.start), 0);
}

/**
 * Block offsets of a function's ranges in its code block: parts linked by short branches at
 * their original distances, the rest 16-aligned after them (compiler/functions/layout-parts.ts).
 */
export function layoutRanges(f: FunctionInfo): number[] {
  return [...layoutParts(f).offsets];
}

/** Exact key -> old read-only item, for re-using unchanged constants. */
export function oldRodataByKey(m: MatchResult): Map<string, DataItem> {
  const out = new Map<string, DataItem>();
  for (const d of m.old.items) {
    if (d.writable || d.jumpTable) continue;
    const k = m.oldNorm.itemKey(d, 'exact');
    if (!out.has(k)) out.set(k, d);
  }
  return out;
}

const UNW_FLAG_EHANDLER = 1;
const UNW_FLAG_UHANDLER = 2;
const UNW_FLAG_CHAININFO = 4;

/** Why new function `f` cannot be emitted into a package, or null when it can. */
export function emissionProblem(ctx0: ResolveContext, f: FunctionInfo, okItems: Set<number> = new Set()): string | null {
  const m = ctx0.m;
  const d = f.decoded;
  // Read-only items the function would carry: their pointers must resolve too.
  const carried: DataItem[] = [];
  const seenItems = new Set<number>();
  const ctx: ResolveContext = {
    ...ctx0,
    carry(item) {
      if (!seenItems.has(item.index) && !okItems.has(item.index)) {
        seenItems.add(item.index);
        carried.push(item);
      }
      return 0;
    },
  };
  const problem = refsProblem(ctx, f);
  if (problem !== null) return problem;
  for (let i = 0; i < carried.length; i++) {
    const item = carried[i]!;
    const img = m.new.img;
    for (const rel of relocsIn(img, item.start, item.end)) {
      const type = img.relocs.get(rel)!;
      if (type !== 10) return `read-only data ${describeNew(m, item.start)} holds a 32-bit absolute address`;
      if (rel + 8 > item.end) return `read-only data ${describeNew(m, item.start)}: a pointer straddles its end`;
      const r = resolveTarget(ctx, absTarget(img, rel, type), null);
      if (!r.ok) return `read-only data ${describeNew(m, item.start)} it needs: ${r.reason}`;
    }
    const rt = m.new.relTables.get(item.start);
    if (rt !== undefined) {
      const r = relativeEntryFixups(rt, (t) => resolveTarget(ctx, t, null));
      if (!r.ok) return `read-only data ${describeNew(m, item.start)} it needs: ${r.reason}`;
    }
  }
  // Everything reached resolved: remember it (the caller clears this when the set of
  // carried functions shrinks). Large data graphs are then walked once, not per function.
  for (const item of carried) okItems.add(item.index);
  return null;
}

function refsProblem(ctx: ResolveContext, f: FunctionInfo): string | null {
  const m = ctx.m;
  const d = f.decoded;
  if (d.problems.length > 0) return d.problems[0]!;
  for (const r of d.refs) {
    const rangeOf = (t: number): number => f.ranges.findIndex((x) => t >= x.start && t < x.end);
    // The function's own jump tables (MSVC puts them inside its range): re-emitted after its
    // code, reached through the idiom's field (rel32 entries: `lea [rip+T]`; rva32 entries,
    // image-relative: the disp32 of `mov eY, [__ImageBase + idx*4 + T]`).
    const owned = m.new.tables.get(r.target);
    if (owned !== undefined && owned.fn === f) {
      if (owned.table.entryKind === 'rel32' && r.kind === 'riprel32') continue;
      if (owned.table.entryKind === 'rva32' && r.kind === 'imagerel32') continue;
      return `jump table at 0x${r.target.toString(16)} is referenced by a ${r.kind} field at ${describeNew(m, r.insnRva)}`;
    }
    const internal = rangeOf(r.target);
    if (internal >= 0) {
      if (r.kind === 'rel8' && internal !== rangeOf(r.insnRva)) {
        // Kept in reach only when the parts keep their distance in the block.
        const lay = layoutParts(f);
        if (lay.problem !== null) return `short branch at ${describeNew(m, r.insnRva)} crosses between the function's parts: ${lay.problem}`;
        const off = (t: number): number => lay.offsets[rangeOf(t)]! + (t - f.ranges[rangeOf(t)]!.start);
        if (off(r.target) - off(r.insnRva) !== r.target - r.insnRva) return `short branch at ${describeNew(m, r.insnRva)} crosses between the function's parts`;
      }
      if (r.kind === 'abs32' || r.kind === 'imagerel32') return `${r.kind} reference at ${describeNew(m, r.insnRva)} cannot be re-targeted`;
      continue;
    }
    if (r.kind === 'rel8') return `short branch at ${describeNew(m, r.insnRva)} to ${describeNew(m, r.target)} leaves the function`;
    if (r.kind === 'abs32') return `32-bit absolute address at ${describeNew(m, r.insnRva)} cannot be re-targeted`;
    if (r.kind === 'imagerel32') {
      if (!d.imageBaseFields.includes(r.fieldRva)) return `image-relative (__ImageBase) reference at ${describeNew(m, r.insnRva)}: nothing proves the base register holds __ImageBase`;
      const res = resolveTarget(ctx, r.target, f);
      if (!res.ok) return res.reason;
      if (res.target.kind !== 'image' && res.target.kind !== 'block') return `image-relative (__ImageBase) reference at ${describeNew(m, r.insnRva)} to an import`;
      continue;
    }
    const res = resolveTarget(ctx, r.target, f);
    if (!res.ok) return res.reason;
  }
  for (const rf of f.pdata) {
    const u = rf.unwind;
    if (u === null) return `unwind info at 0x${(rf.unwindInfoAddress as number).toString(16)} could not be read`;
    // A part of a split function: its chained entry is re-targeted at the parent part's copy.
    if ((u.flags & UNW_FLAG_CHAININFO) !== 0 && chainedParent(f, rf) < 0) return "chained unwind info names an entry that is not one of the function's parts";
    if ((u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) !== 0) {
      if (u.handler === null) return 'exception handler RVA missing in unwind info';
      const h = resolveHandler(ctx, u.handler as number);
      if (!h.ok) return `exception handler: ${h.reason}`;
      const hd = parseHandlerData(m.new.img, m.new.fns, f, rf);
      if (hd?.kind === 'refused') return hd.reason;
      if (hd?.kind === 'msvc') {
        // Every field must resolve as the emitter will resolve it (structures are copied).
        const structAt = new Map(hd.data.structures.map((st) => [`${st.rva}:${st.length}`, 0] as const));
        const offsets = layoutRanges(f);
        for (const st of [hd.data.inline, ...hd.data.structures]) {
          for (const fld of st.fields) {
            const r = handlerFieldTarget(ctx, f, offsets, 0, hd.data, fld, structAt);
            if (!r.ok) return `exception handler data (${hd.data.form}) at 0x${(st.rva + fld.offset).toString(16)}: ${r.reason}`;
          }
        }
        continue;
      }
      const lsda = parseGccLsda(m.new.img.image, (rf.unwindInfoAddress as number) + u.size, (rf.endAddress as number) - (rf.beginAddress as number));
      if (lsda === null) return `exception handler data is not a GCC LSDA this compiler can carry, and ${hd?.why ?? 'the handler is not an MSVC one'}`;
      for (const t of lsda.typeRefs) {
        const r = resolveTarget(ctx, t.target, null);
        if (!r.ok) return `exception type table: ${r.reason}`;
      }
    }
  }
  return null;
}

/**
 * True when [start, end) lies in alignment padding: the run of int3 / nop instructions
 * (including multi-byte nops) that fills the space up to the next function or section end.
 * No code runs there, so a redirect may overwrite it.
 */
function isPadding(image: Uint8Array, start: number, end: number, a: ImageAnalysis): boolean {
  // The padding run starts where the code before `start` ends; decode from there, so the
  // instruction boundaries are the padding's own.
  let runStart = -1;
  for (let k = start - 1; k >= 0 && k >= start - 256; k--) {
    const owner = a.fns.containing(k);
    if (owner !== undefined) {
      runStart = owner.ranges.find((r) => k >= r.start && k < r.end)!.end;
      break;
    }
  }
  if (runStart < 0 || runStart > start) return false;
  const limit = Math.min(image.length, Math.max(end, runStart) + 16);
  const decoder = new Decoder(64, image.subarray(runStart, limit), DecoderOptions.None);
  const insn = new Instruction();
  try {
    let at = runStart;
    while (at < end) {
      decoder.position = at - runStart;
      decoder.ip = BigInt(at);
      decoder.decodeOut(insn);
      if (insn.code === Code.INVALID) return false;
      const m = insn.mnemonic;
      if (m !== Mnemonic.Nop && m !== Mnemonic.Int3) return false;
      if (at + insn.length > limit) return false;
      at += insn.length;
    }
    return true;
  } finally {
    insn.free();
    decoder.free();
  }
}

/**
 * Decides how to redirect old function `of`, or says why it cannot be redirected safely.
 * A 5-byte `jmp rel32` when the function (plus int3/nop padding after it) spans 5 bytes;
 * otherwise a 2-byte `jmp short` to a run of 5 padding bytes within reach. In both cases no
 * branch may target, and no call may return into, the overwritten bytes.
 */
export function planRedirect(a: ImageAnalysis, of: FunctionInfo, reserved: Set<number> = new Set()): RedirectPlan | string {
  const img = a.img;
  const entry = of.entry;
  const bodyEnd = of.ranges[0]!.end;
  const name = of.name ?? `0x${entry.toString(16)}`;
  const owner = (rva: number): FunctionInfo | undefined => a.fns.containing(rva);
  const padFrom = (start: number, n: number): boolean => {
    for (let k = start; k < start + n; k++) {
      if (k >= img.image.length || reserved.has(k) || owner(k) !== undefined || sectionAt(img, k)?.executable !== true) return false;
    }
    return isPadding(img.image, start, start + n, a);
  };
  let plan: RedirectPlan | null = null;
  let site = 5;
  if (bodyEnd - entry >= 5 || padFrom(bodyEnd, entry + 5 - bodyEnd)) plan = { kind: 'jmp-rel32' };
  else if (bodyEnd - entry >= 2) {
    site = 2;
    // Nearest 5-byte padding run reachable by EB rel8 (target = entry + 2 + [-128, 127]).
    for (let delta = 0; delta <= 127 && plan === null; delta++) {
      for (const cand of delta === 0 ? [entry + 2] : [entry + 2 + delta, entry + 2 - delta]) {
        if (cand - (entry + 2) < -128 || cand - (entry + 2) > 127 || cand < 0) continue;
        if (padFrom(cand, 5)) {
          plan = { kind: 'short-to-pad', padRva: cand };
          break;
        }
      }
    }
  }
  if (plan === null) return `${name} is ${bodyEnd - entry} bytes: too short for a 5-byte jump, with no int3/nop padding after it or within short-jump reach`;
  for (let k = entry + 1; k < entry + site; k++) {
    if (a.branchTargets.has(k)) return `the thread rule cannot protect ${name}: a branch targets entry+${k - entry}, inside the ${site} bytes the redirect overwrites`;
  }
  // A call inside the site leaves return addresses pointing into it.
  let at = entry;
  for (const insn of of.decoded.insns) {
    if (insn.rva < entry || insn.rva >= entry + site) continue;
    at = insn.rva + insn.length;
    if ((insn.flow === FlowControl.Call || insn.flow === FlowControl.IndirectCall) && at < entry + site) {
      return `the thread rule cannot protect ${name}: a call at entry+${insn.rva - entry} returns inside the ${site} bytes the redirect overwrites`;
    }
  }
  // Two redirects must never share bytes (a pad used twice, a site spilling into a pad).
  for (let k = entry; k < entry + site; k++) reserved.add(k);
  if (plan.kind === 'short-to-pad') for (let k = plan.padRva; k < plan.padRva + 5; k++) reserved.add(k);
  return plan;
}

/** Writable sections whose contents are the import machinery the loader fills in. */
function importSection(a: ImageAnalysis, s: MappedSection): boolean {
  return a.importRanges.some(([st, e]) => st < s.rva + s.size && e > s.rva);
}

/** Compares every writable section: size, and contents with pointers normalised. */
function diffWritable(m: MatchResult): DataChange[] {
  const out: DataChange[] = [];
  const oldW = m.old.img.sections.filter((s) => s.writable && !s.executable && !importSection(m.old, s));
  const newW = m.new.img.sections.filter((s) => s.writable && !s.executable && !importSection(m.new, s));
  const byName = new Map(oldW.map((s) => [s.name, s] as const));
  const seen = new Set<string>();
  for (const ns of newW) {
    const os = byName.get(ns.name);
    seen.add(ns.name);
    if (os === undefined) {
      out.push({ name: null, section: ns.name, oldRva: null, newRva: ns.rva, size: ns.size, status: 'added', verdict: 'refused', reason: `new writable section ${ns.name}: its data cannot be added to a running image` });
      continue;
    }
    if (os.size !== ns.size) {
      out.push({
        name: null,
        section: ns.name,
        oldRva: os.rva,
        newRva: ns.rva,
        size: ns.size,
        status: 'changed',
        verdict: 'refused',
        reason: `writable section ${ns.name} changed size (0x${os.size.toString(16)} -> 0x${ns.size.toString(16)} bytes): globals were added, removed or resized`,
      });
      continue;
    }
    for (const c of compareSection(m, os, ns)) out.push(c);
  }
  for (const os of oldW) {
    if (!seen.has(os.name)) out.push({ name: null, section: os.name, oldRva: os.rva, newRva: null, size: os.size, status: 'removed', verdict: 'refused', reason: `writable section ${os.name} was removed` });
  }
  return out;
}

/** Normalised units of a writable section: bytes, with pointer fields as their targets. */
function sectionUnits(m: MatchResult, img: MappedImage, s: MappedSection, side: 'old' | 'new'): Map<number, string> {
  const norm = side === 'old' ? m.oldNorm : m.newNorm;
  const units = new Map<number, string>();
  for (const rel of relocsIn(img, s.rva, s.rva + s.size)) {
    const type = img.relocs.get(rel)!;
    units.set(rel - s.rva, `${type}:${norm.targetToken(null, absTarget(img, rel, type), 'exact')}`);
  }
  return units;
}

function compareSection(m: MatchResult, os: MappedSection, ns: MappedSection): DataChange[] {
  const ou = sectionUnits(m, m.old.img, os, 'old');
  const nu = sectionUnits(m, m.new.img, ns, 'new');
  const ob = m.old.img.image;
  const nb = m.new.img.image;
  const diffs: number[] = [];
  for (let k = 0; k < ns.size; ) {
    const a = ou.get(k);
    const b = nu.get(k);
    if (a !== undefined || b !== undefined) {
      if (a !== b) diffs.push(k);
      k += 8;
      continue;
    }
    if (ob[os.rva + k] !== nb[ns.rva + k]) diffs.push(k);
    k++;
  }
  const out: DataChange[] = [];
  const reported = new Set<number>();
  for (const k of diffs) {
    const item = m.new.itemAt(ns.rva + k);
    const key = item?.index ?? -1 - k;
    if (reported.has(item === undefined ? -1 : key)) continue;
    reported.add(item === undefined ? -1 : key);
    const name = item?.name ?? null;
    const label = name ?? `${ns.name}+0x${(item === undefined ? k : item.start - ns.rva).toString(16)}`;
    const o = item === undefined ? -1 : m.itemNewToOld[item.index]!;
    const oldItem = o >= 0 ? m.old.items[o] : name === null ? undefined : m.old.items.find((x) => x.name === name);
    const sizes = item !== undefined && oldItem !== undefined && oldItem.end - oldItem.start !== item.end - item.start ? ` (${oldItem.end - oldItem.start} -> ${item.end - item.start} bytes)` : '';
    out.push({
      name,
      section: ns.name,
      oldRva: os.rva + (item === undefined ? k : item.start - ns.rva),
      newRva: item?.start ?? ns.rva + k,
      size: item === undefined ? 1 : item.end - item.start,
      status: 'changed',
      verdict: 'refused',
      reason:
        sizes !== ''
          ? `writable global ${label} changed layout${sizes}: the running image keeps the old layout, so new code would misread it`
          : `writable global ${label} changed initial value (or layout): the running image keeps its live copy, so this needs a baseline, not a hotpatch`,
    });
  }
  return out;
}

/**
 * The field offsets code uses in each matched global. Offsets only added (a field used for
 * the first time) or only dropped are fine; both at once means fields moved: layout changed.
 */
function diffOffsetsUsed(m: MatchResult): DataChange[] {
  const used = (a: ImageAnalysis): Map<number, Set<number>> => {
    const out = new Map<number, Set<number>>();
    for (const f of a.fns.functions) {
      for (const r of f.decoded.refs) {
        if (r.isBranch) continue;
        const d = a.itemAt(r.target);
        if (d === undefined || !d.writable) continue;
        let set = out.get(d.index);
        if (set === undefined) out.set(d.index, (set = new Set()));
        set.add(r.target - d.start);
      }
    }
    return out;
  };
  const ou = used(m.old);
  const nu = used(m.new);
  const out: DataChange[] = [];
  for (const [n, nset] of nu) {
    const o = m.itemNewToOld[n]!;
    if (o < 0) continue;
    const oset = ou.get(o) ?? new Set<number>();
    const added = [...nset].filter((x) => !oset.has(x));
    const dropped = [...oset].filter((x) => !nset.has(x));
    if (added.length === 0 || dropped.length === 0) continue;
    const item = m.new.items[n]!;
    const label = item.name ?? `${item.section}+0x${item.start.toString(16)}`;
    const fmt = (xs: Iterable<number>): string => `{${[...xs].sort((a, b) => a - b).map((x) => `+${x}`).join(',')}}`;
    out.push({
      name: item.name,
      section: item.section,
      oldRva: m.old.items[o]!.start,
      newRva: item.start,
      size: item.end - item.start,
      status: 'changed',
      verdict: 'refused',
      reason: `writable global ${label} changed layout: code accesses it at ${fmt(nset)} instead of ${fmt(oset)}`,
    });
  }
  return out;
}

/**
 * Code no discovered function owns (reached only through paths the analysis cannot follow,
 * or never): its instructions, padding (int3, nop, zero) left out. A run of such code in NEW
 * that OLD does not have somewhere is refused: the diff cannot say what it belongs to.
 */
function diffOrphanCode(m: MatchResult): DataChange[] {
  const runs = (a: ImageAnalysis): Array<{ rva: number; text: string }> => {
    const img = a.img;
    const norm = a === m.old ? m.oldNorm : m.newNorm;
    const owned = new Uint8Array(img.image.length);
    for (const f of a.fns.functions) for (const r of f.ranges) owned.fill(1, r.start, Math.min(r.end, owned.length));
    for (const d of a.items) if (sectionAt(img, d.start)?.executable === true) owned.fill(1, d.start, d.end);
    const out: Array<{ rva: number; text: string }> = [];
    const decoder = new Decoder(64, img.image, DecoderOptions.None);
    const insn = new Instruction();
    try {
      for (const sec of img.sections) {
        if (!sec.executable) continue;
        const end = sec.rva + sec.rawSize;
        let k = sec.rva;
        while (k < end) {
          if (owned[k] === 1) {
            k++;
            continue;
          }
          const start = k;
          while (k < end && owned[k] === 0) k++;
          // Decode the run; keep what is not padding.
          let p = start;
          let text = '';
          while (p < k) {
            const b = img.image[p]!;
            if (b === 0xcc || b === 0x90 || b === 0x00) {
              p++;
              continue;
            }
            decoder.position = p;
            decoder.ip = BigInt(p);
            decoder.decodeOut(insn);
            const valid = insn.code !== Code.INVALID && insn.length > 0 && p + insn.length <= k;
            const len = valid ? insn.length : 1;
            if (valid && insn.mnemonic === Mnemonic.Nop) {
              p += len;
              continue;
            }
            const bytes = img.image.slice(p, p + len);
            let tok = '';
            if (valid && insn.isIpRelMemoryOperand) {
              // Position-independent form: the displacement becomes what it reaches.
              const co = decoder.getConstantOffsets(insn);
              bytes.fill(0, co.displacementOffset, co.displacementOffset + 4);
              co.free();
              tok = `|${norm.targetToken(null, Number(BigInt.asUintN(32, insn.ipRelMemoryAddress)), 'exact')}`;
              // `jmp [rip+IAT slot]`: an import thunk the linker added; harmless wherever it is.
              if (insn.flowControl === FlowControl.IndirectBranch && tok.startsWith('|m')) {
                p += len;
                continue;
              }
            } else if (valid && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32)) {
              const size = insn.isJmpShort || insn.isJccShort || insn.isLoop || insn.isLoopcc || insn.isJcxShort ? 1 : 4;
              bytes.fill(0, len - size, len);
              tok = `|${norm.targetToken(null, Number(BigInt.asUintN(32, insn.nearBranchTarget)), 'exact')}`;
            }
            text += `${latin1(bytes)}${tok}\n`;
            p += len;
          }
          if (text.length > 0) out.push({ rva: start, text });
        }
      }
    } finally {
      insn.free();
      decoder.free();
    }
    return out;
  };
  const old = new Map<string, number>();
  for (const r of runs(m.old)) old.set(r.text, (old.get(r.text) ?? 0) + 1);
  const out: DataChange[] = [];
  for (const r of runs(m.new)) {
    const n = old.get(r.text) ?? 0;
    if (n > 0) {
      old.set(r.text, n - 1);
      continue;
    }
    out.push({
      name: null,
      section: sectionAt(m.new.img, r.rva)?.name ?? null,
      oldRva: null,
      newRva: r.rva,
      size: r.text.length,
      status: 'changed',
      verdict: 'refused',
      reason: `code at 0x${r.rva.toString(16)} belongs to no discovered function and differs from OLD: the diff cannot tell what it changes`,
    });
  }
  return out;
}

/** Exports, entry point and TLS: image-level properties a hotpatch cannot change. */
function diffImageLevel(m: MatchResult, status: readonly FunctionStatus[]): DataChange[] {
  const out: DataChange[] = [];
  const refuse = (reason: string, name: string | null = null): void => {
    out.push({ name, section: null, oldRva: null, newRva: null, size: 0, status: 'changed', verdict: 'refused', reason });
  };
  const exportsOf = (a: ImageAnalysis): Map<string, number> => {
    const e = new Map<string, number>();
    for (const x of a.img.pe.exports?.entries ?? []) e.set(x.name ?? `#${x.ordinal}`, x.forwarder === null ? (x.rva as number) : -1);
    return e;
  };
  const oe = exportsOf(m.old);
  const ne = exportsOf(m.new);
  for (const [name, nr] of ne) {
    const or = oe.get(name);
    if (or === undefined) {
      refuse(`export ${name} was added: the export table of a loaded image cannot change`, name);
      continue;
    }
    if (nr < 0 || or < 0) {
      if (nr !== or) refuse(`export ${name} changed between forwarder and definition`, name);
      continue;
    }
    const nf = m.new.fns.containing(nr);
    const of = m.old.fns.containing(or);
    if (nf !== undefined && of !== undefined) {
      if (m.fnNewToOld[nf.index] !== of.index || nr - nf.entry !== or - of.entry) refuse(`export ${name} now names a different function`, name);
      continue;
    }
    const ni = m.new.itemAt(nr);
    const oi = m.old.itemAt(or);
    if (nf !== undefined || of !== undefined || ni === undefined || oi === undefined) refuse(`export ${name} changed kind (code/data)`, name);
    else if (ni.writable && m.itemNewToOld[ni.index] !== oi.index) refuse(`exported data ${name} moved`, name);
  }
  for (const name of oe.keys()) if (!ne.has(name)) refuse(`export ${name} was removed`, name);

  const oEntry = m.old.img.pe.optionalHeader.addressOfEntryPoint as number;
  const nEntry = m.new.img.pe.optionalHeader.addressOfEntryPoint as number;
  const of = m.old.fns.byEntry.get(oEntry);
  const nf = m.new.fns.byEntry.get(nEntry);
  if ((of === undefined) !== (nf === undefined) || (of !== undefined && nf !== undefined && m.fnNewToOld[nf.index] !== of.index)) {
    refuse('the entry point moved to a different function');
  } else if (nf !== undefined && status[nf.index] !== 'unchanged') {
    refuse(`the entry point function ${nf.name ?? `0x${nEntry.toString(16)}`} changed: it ran at load time and would not run again`);
  }

  const ot = m.old.img.pe.tls;
  const nt = m.new.img.pe.tls;
  if ((ot === null) !== (nt === null)) refuse(nt === null ? 'TLS directory removed' : 'TLS directory added: thread-local storage cannot be added to a loaded image');
  else if (ot !== null && nt !== null) {
    const osz = ot.endAddressOfRawData - ot.startAddressOfRawData;
    const nsz = nt.endAddressOfRawData - nt.startAddressOfRawData;
    if (osz !== nsz || ot.sizeOfZeroFill !== nt.sizeOfZeroFill) refuse(`TLS template changed size (0x${osz.toString(16)}+0x${ot.sizeOfZeroFill.toString(16)} -> 0x${nsz.toString(16)}+0x${nt.sizeOfZeroFill.toString(16)})`);
    else {
      const oStart = Number(ot.startAddressOfRawData - m.old.img.imageBase);
      const nStart = Number(nt.startAddressOfRawData - m.new.img.imageBase);
      if (latin1(m.old.img.image.subarray(oStart, oStart + Number(osz))) !== latin1(m.new.img.image.subarray(nStart, nStart + Number(nsz)))) {
        refuse('TLS template contents changed: existing threads keep the old thread-local values');
      }
    }
    if (ot.callbacks.length !== nt.callbacks.length) refuse(`TLS callbacks changed (${ot.callbacks.length} -> ${nt.callbacks.length})`);
  }
  return out;
}
