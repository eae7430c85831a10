/**
 * The emission check: whether a changed or added NEW function can be carried, answered the
 * way the emitter will resolve it (every reference, the read-only data it would carry, its
 * unwind and handler data), so a refusal is decided in the diff and never at build time.
 */
import { rvaAdd, type Rva } from '../../common/types.ts';
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import { chainedParent, layoutParts } from '../functions/layout-parts.ts';
import { absTarget, relocsIn } from '../image/map-image.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import { reason, type Reason } from './reasons.ts';
import { relativeEntryFixups } from './relative-entries.ts';
import { describeNew, handlerFieldTarget, resolveHandler, resolveTarget, type ResolveContext } from './resolve-target.ts';

const UNW_FLAG_EHANDLER = 1;
const UNW_FLAG_UHANDLER = 2;
const UNW_FLAG_CHAININFO = 4;

/** Why new function `f` cannot be emitted into a package, or null when it can. */
export function emissionProblem(ctx0: ResolveContext, f: FunctionInfo, okItems: Set<number> = new Set()): Reason | null {
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
    const inItem = (rva: number): Rva => rvaAdd(item.start, rva - item.start);
    // Image-relative RVAs (MSVC throw data) would keep NEW's layout in a carried copy, and
    // the C++ runtime finds the image through the ThrowInfo's own address: never carried.
    for (let k = item.start; k + 4 <= item.end; k++) {
      if (m.new.rvaFields.has(k)) return reason('RODATA_NOT_CARRIED', `read-only data ${describeNew(m, item.start)} holds image-relative RVAs (MSVC throw data), which a carried copy cannot keep`, inItem(k));
    }
    for (const rel of relocsIn(img, item.start, item.end)) {
      const type = img.relocs.get(rel)!;
      if (type !== 10) return reason('RODATA_NOT_CARRIED', `read-only data ${describeNew(m, item.start)} holds a 32-bit absolute address`, inItem(rel));
      if (rel + 8 > item.end) return reason('RODATA_NOT_CARRIED', `read-only data ${describeNew(m, item.start)}: a pointer straddles its end`, inItem(rel));
      const r = resolveTarget(ctx, absTarget(img, rel, type), null);
      if (!r.ok) return reason('RODATA_NOT_CARRIED', `read-only data ${describeNew(m, item.start)} it needs: ${r.reason}`, inItem(rel));
    }
    const rt = m.new.relTables.get(item.start);
    if (rt !== undefined) {
      const r = relativeEntryFixups(rt, (t) => resolveTarget(ctx, t, null));
      if (!r.ok) return reason(r.code, `read-only data ${describeNew(m, item.start)} it needs: ${r.reason}`, item.start);
    }
  }
  // Everything reached resolved: remember it (the caller clears this when the set of
  // carried functions shrinks). Large data graphs are then walked once, not per function.
  for (const item of carried) okItems.add(item.index);
  return null;
}

function refsProblem(ctx: ResolveContext, f: FunctionInfo): Reason | null {
  const m = ctx.m;
  const d = f.decoded;
  if (d.problems.length > 0) return reason('CODE_NOT_UNDERSTOOD', d.problems[0]!, f.entry);
  for (const r of d.refs) {
    const rangeOf = (t: number): number => f.ranges.findIndex((x) => t >= x.start && t < x.end);
    // The function's own jump tables (MSVC puts them inside its range): re-emitted after its
    // code, reached through the idiom's field (rel32 entries: `lea [rip+T]`; rva32 entries,
    // image-relative: the disp32 of `mov eY, [__ImageBase + idx*4 + T]`).
    const owned = m.new.tables.get(r.target);
    if (owned !== undefined && owned.fn === f) {
      if (owned.table.entryKind === 'rel32' && r.kind === 'riprel32') continue;
      if (owned.table.entryKind === 'rva32' && r.kind === 'imagerel32') continue;
      return reason('JUMP_TABLE_FIELD', `jump table at 0x${r.target.toString(16)} is referenced by a ${r.kind} field at ${describeNew(m, r.insnRva)}`, r.insnRva);
    }
    const internal = rangeOf(r.target);
    if (internal >= 0) {
      if (r.kind === 'rel8' && internal !== rangeOf(r.insnRva)) {
        // Kept in reach only when the parts keep their distance in the block.
        const lay = layoutParts(f);
        if (lay.problem !== null) return reason('SHORT_BRANCH_BETWEEN_PARTS', `short branch at ${describeNew(m, r.insnRva)} crosses between the function's parts: ${lay.problem}`, r.insnRva);
        const off = (t: number): number => lay.offsets[rangeOf(t)]! + (t - f.ranges[rangeOf(t)]!.start);
        if (off(r.target) - off(r.insnRva) !== r.target - r.insnRva) return reason('SHORT_BRANCH_BETWEEN_PARTS', `short branch at ${describeNew(m, r.insnRva)} crosses between the function's parts`, r.insnRva);
      }
      if (r.kind === 'abs32' || r.kind === 'imagerel32') return reason('ABSOLUTE32_REFERENCE', `${r.kind} reference at ${describeNew(m, r.insnRva)} cannot be re-targeted`, r.insnRva);
      continue;
    }
    if (r.kind === 'rel8') return reason('SHORT_BRANCH_LEAVES', `short branch at ${describeNew(m, r.insnRva)} to ${describeNew(m, r.target)} leaves the function`, r.insnRva);
    if (r.kind === 'abs32') return reason('ABSOLUTE32_REFERENCE', `32-bit absolute address at ${describeNew(m, r.insnRva)} cannot be re-targeted`, r.insnRva);
    if (r.kind === 'imagerel32') {
      if (!d.imageBaseFields.includes(r.fieldRva)) return reason('IMAGEREL_UNPROVEN_BASE', `image-relative (__ImageBase) reference at ${describeNew(m, r.insnRva)}: nothing proves the base register holds __ImageBase`, r.insnRva);
      const res = resolveTarget(ctx, r.target, f);
      if (!res.ok) return reason(res.code ?? 'UNRESOLVED_REFERENCE', res.reason, r.insnRva);
      if (res.target.kind !== 'image' && res.target.kind !== 'block') return reason('IMAGEREL_TO_IMPORT', `image-relative (__ImageBase) reference at ${describeNew(m, r.insnRva)} to an import`, r.insnRva);
      continue;
    }
    const res = resolveTarget(ctx, r.target, f, r.accessesTarget, r.isBranch);
    if (!res.ok) return reason(res.code ?? 'UNRESOLVED_REFERENCE', res.reason, r.insnRva);
  }
  for (const rf of f.pdata) {
    const u = rf.unwind;
    if (u === null) return reason('UNWIND_NOT_CARRIED', `unwind info at 0x${rf.unwindInfoAddress.toString(16)} could not be read`, rf.beginAddress);
    // A part of a split function: its chained entry is re-targeted at the parent part's copy.
    if ((u.flags & UNW_FLAG_CHAININFO) !== 0 && chainedParent(f, rf) < 0) return reason('UNWIND_NOT_CARRIED', "chained unwind info names an entry that is not one of the function's parts", rf.beginAddress);
    if ((u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) !== 0) {
      if (u.handler === null) return reason('HANDLER_NOT_CARRIED', 'exception handler RVA missing in unwind info', rf.beginAddress);
      const h = resolveHandler(ctx, u.handler);
      if (!h.ok) return reason('HANDLER_NOT_CARRIED', `exception handler: ${h.reason}`, rf.beginAddress);
      const hd = parseHandlerData(m.new.img, m.new.fns, f, rf);
      if (hd?.kind === 'refused') return reason('HANDLER_NOT_CARRIED', hd.reason, rf.beginAddress);
      if (hd?.kind === 'msvc') {
        // Every field must resolve as the emitter will resolve it (structures are copied).
        const structAt = new Map(hd.data.structures.map((st) => [`${st.rva}:${st.length}`, 0] as const));
        const offsets = [...layoutParts(f).offsets];
        for (const st of [hd.data.inline, ...hd.data.structures]) {
          for (const fld of st.fields) {
            const r = handlerFieldTarget(ctx, f, offsets, 0, hd.data, fld, structAt);
            if (!r.ok) return reason('HANDLER_NOT_CARRIED', `exception handler data (${hd.data.form}) at 0x${(st.rva + fld.offset).toString(16)}: ${r.reason}`, rvaAdd(st.rva, fld.offset));
          }
        }
        continue;
      }
      const lsda = parseGccLsda(m.new.img.image, rf.unwindInfoAddress + u.size, rf.endAddress - rf.beginAddress, m.new.img.imageBase);
      if (lsda === null) return reason('HANDLER_NOT_CARRIED', `exception handler data is not a GCC LSDA this compiler can carry, and ${hd?.why ?? 'the handler is not an MSVC one'}`, rf.beginAddress);
      for (const t of lsda.typeRefs) {
        const r = resolveTarget(ctx, t.target, null);
        if (!r.ok) return reason('HANDLER_NOT_CARRIED', `exception type table: ${r.reason}`, rf.beginAddress);
      }
    }
  }
  return null;
}
