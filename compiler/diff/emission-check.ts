/**
 * The emission check: whether a changed or added NEW function can be carried, answered the
 * way the emitter will resolve it (every reference, the read-only data it would carry, its
 * unwind and handler data), so a refusal is decided in the diff and never at build time.
 */
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import { chainedParent, layoutParts } from '../functions/layout-parts.ts';
import { absTarget, relocsIn } from '../image/map-image.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import { describeNew, handlerFieldTarget, resolveHandler, resolveTarget, type ResolveContext } from './resolve-target.ts';

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
        const offsets = [...layoutParts(f).offsets];
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
