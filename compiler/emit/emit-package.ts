/**
 * Emission: turns a diff into a package. Each changed function (and each added function the
 * patch reaches) is copied from NEW into its own code block, and every reference is
 * re-targeted at the OLD image through fixups: unchanged callees and data at their old
 * RVAs, changed or added callees at their blocks, new read-only data carried as data blocks,
 * new imports resolved at apply time. Jump tables are re-emitted after the code (entries
 * relative to the table, so constants); x64 unwind data (UNWIND_INFO + RUNTIME_FUNCTION
 * relative to the block, handler RVAs and GCC LSDA type entries as fixups) comes along so
 * exceptions unwind through the new code.
 */
import { err, ok, type HotpatchError, type Result } from '../../common/errors.ts';
import { asRva } from '../../common/types.ts';
import type { CodeBlock, DataBlock, Fixup, FixupKind, FunctionRecord, HotpatchPackage, Import, Redirect, RuntimeFunction, TargetIdentity } from '../../formats/package.ts';
import { encodeDelta } from '../../formats/delta.ts';
import { encodedBlockBytesSize } from '../../formats/codec.ts';
import { FIXUP_WIDTH } from '../../formats/validate.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import type { ImageDiff } from '../diff/diff-images.ts';
import { layoutRanges, oldRodataByKey } from '../diff/diff-images.ts';
import type { FunctionInfo } from '../functions/discover-functions.ts';
import { chainedParent, layoutParts } from '../functions/layout-parts.ts';
import { absTarget, relocsIn, type MappedImage } from '../functions/map-image.ts';
import { relativeEntryFixups } from './relative-entries.ts';
import type { DataItem } from '../match/analyze-image.ts';
import { parseGccLsda } from './gcc-lsda.ts';
import { handlerFields, parseHandlerData } from '../eh/parse-handler-data.ts';
import type { HandlerStructure, ParsedHandlerData } from '../eh/types.ts';
import { describeNew, handlerFieldTarget, offsetInFunction, resolveHandler, resolveTarget, type ResolveContext } from './resolve-target.ts';

/** Build parameters that change what the package holds. */
export interface EmitOptions {
  /** File name of the module the package targets, e.g. `logic.dll`. */
  readonly moduleName: string;
  /** Leave refused changes out instead of failing. */
  readonly skipRefused: boolean;
  /** Series membership; null gives a baseline named after the old image, sequence 1. */
  readonly series: { readonly baselineId: string; readonly sequence: number } | null;
  readonly compilerVersion: string;
}

/** Something the package leaves out, and why. */
export interface Omission {
  readonly what: string;
  readonly reason: string;
}

/** A package and what went into it. */
export interface EmittedPackage {
  readonly pkg: HotpatchPackage;
  readonly omitted: readonly Omission[];
  /** New-function index -> code block id. */
  readonly blockOf: ReadonlyMap<number, number>;
  readonly sizes: { readonly code: number; readonly data: number; readonly unwind: number; readonly fixups: number };
  /** Emission passes run: one, plus one per growth of the glued runs or --skip-refused drop. */
  readonly passes: number;
}

const UNW_FLAG_EHANDLER = 1;
const UNW_FLAG_UHANDLER = 2;

/** Builds the package for `diff`. Refused changes fail the build unless `skipRefused`. */
export function emitPackage(diff: ImageDiff, opts: EmitOptions): Result<EmittedPackage> {
  // Read-only items that must stay adjacent (an item start that is also the previous item's
  // end pointer) are found while resolving; emit again until no new pair turns up (bounded:
  // the set only grows).
  const glue = new Set<number>();
  // With --skip-refused, a function whose package needs something refused (found only while
  // emitting: data glued to data that points at a refused function) is left out too, and
  // emission runs again (bounded: each round drops one more function).
  const dropped = new Map<number, string>();
  for (let passes = 1; ; passes++) {
    const before = glue.size;
    const starts = new Set<number>();
    const r = emitWithGlue(diff, opts, glue, dropped, passes, starts);
    // What the next passes would find one pair at a time (a run grows by one item per pass
    // when the start of its first item is referenced too: 543 passes on esbuild), found now:
    // a referenced start inside or next to a glued run must be glued to its predecessor.
    // Only after a pass that dropped nothing, so the next pass resolves those starts again.
    if (glue.size !== before && r.ok) closeGlue(glue, starts);
    if (!r.ok && opts.skipRefused && r.carriers.some((c) => !dropped.has(c))) {
      for (const c of r.carriers) {
        if (dropped.has(c)) continue;
        dropped.set(c, r.error.message);
        // A parent and its funclets are left out together (never new tables with old
        // funclets, or the reverse).
        for (const k of diff.ehGroupOf.get(c) ?? []) if (!dropped.has(k)) dropped.set(k, `its exception-handling group member ${describeNew(diff.match, diff.match.new.fns.functions[c]!.entry)} is left out: ${r.error.message}`);
      }
      continue;
    }
    if (!r.ok) return { ok: false, error: r.error };
    // A pass that grew the glue is redone even when it failed: the failure may be a function
    // only the new glue makes the package carry.
    if (glue.size === before) return ok(withDeltas(diff.match.old.img, opts.moduleName, r));
  }
}

/** One emission pass; `glue` holds item i when items i and i + 1 travel as one run (grown here). */
/** A failed pass, with the carried function whose emission needed the missing piece. */
type PassResult = { readonly ok: true; readonly value: EmittedPackage; readonly pass: PassExtras } | { readonly ok: false; readonly error: HotpatchError; readonly carriers: readonly number[] };

/** What a successful pass leaves for the final step (delta encoding runs once, not per pass). */
interface PassExtras {
  /** OLD ranges the package relies on so far. */
  readonly relied: Array<[number, number]>;
  /** Block id -> a delta base for it: OLD range [start, end), the block's first byte at start + shift. */
  readonly bases: ReadonlyMap<number, { readonly start: number; readonly end: number; readonly shift: number }>;
}

/**
 * Stores each block that has a delta base as a delta when that is clearly smaller
 * (blockBytesFor), and pins the bases it used in the target identity.
 */
function withDeltas(oldImg: MappedImage, moduleName: string, r: { readonly value: EmittedPackage; readonly pass: PassExtras }): EmittedPackage {
  const relied = [...r.pass.relied];
  const convert = <B extends CodeBlock | DataBlock>(b: B): B => {
    const base = r.pass.bases.get(b.id);
    if (base === undefined || b.bytes.kind !== 'literal') return b;
    const bytes = blockBytesFor(oldImg.image, b.bytes.bytes, b.fixups, base.start, base.end, base.shift);
    if (bytes.kind !== 'delta') return b;
    relied.push([base.start, base.end]);
    return { ...b, bytes };
  };
  const pkg = r.value.pkg;
  const codeBlocks = pkg.codeBlocks.map(convert);
  const dataBlocks = pkg.dataBlocks.map(convert);
  return { ...r.value, pkg: { ...pkg, codeBlocks, dataBlocks, target: identityOf(oldImg, moduleName, relied) } };
}

function failPass(carrier: number | null, code: string, message: string): PassResult {
  return { ok: false, error: { code, message }, carriers: carrier === null ? [] : [carrier] };
}

/**
 * Grows `glue` to what resolveTarget requires of the ambiguous starts it met (`starts`: item
 * indices whose start was referenced while the item before it is adjacent read-only data):
 * such a start is fine when neither item is in a glued run (OLD decides) or both are in the
 * same one; when just one of them is, the pair is glued. Only grows the set, so the rule is
 * the one the passes apply, reached without a pass per step.
 */
function closeGlue(glue: Set<number>, starts: ReadonlySet<number>): void {
  const inRun = (k: number): boolean => glue.has(k) || glue.has(k - 1);
  for (let grew = true; grew; ) {
    grew = false;
    for (const i of starts) {
      if (glue.has(i - 1)) continue;
      if (inRun(i) || inRun(i - 1)) {
        glue.add(i - 1);
        grew = true;
      }
    }
  }
}

function emitWithGlue(diff: ImageDiff, opts: EmitOptions, glue: Set<number>, dropped: ReadonlyMap<number, string>, passes: number, starts: Set<number>): PassResult {
  const m = diff.match;
  const omitted: Omission[] = [];
  const refusedFns = diff.functions.filter((f) => f.verdict === 'refused');
  const refusedData = diff.data.filter((d) => d.verdict === 'refused');
  if ((refusedFns.length > 0 || refusedData.length > 0) && !opts.skipRefused) {
    const first = refusedFns[0]?.reason ?? refusedData[0]?.reason ?? '';
    return failPass(null, 'BUILD_REFUSED', `${refusedFns.length + refusedData.length} change(s) cannot be hotpatched; first: ${first}`);
  }
  for (const f of refusedFns) omitted.push({ what: `function ${f.name ?? `0x${(f.newRva ?? f.oldRva ?? 0).toString(16)}`}`, reason: f.reason ?? 'refused' });
  for (const [n, why] of dropped) {
    const f = m.new.fns.functions[n]!;
    omitted.push({ what: `function ${f.name ?? `0x${f.entry.toString(16)}`}`, reason: `needs something left out: ${why}` });
  }
  for (const d of refusedData) omitted.push({ what: d.name !== null ? `global ${d.name}` : `data ${d.section ?? ''}`, reason: d.reason });

  // Changed functions, then the added ones they reach (transitively).
  const newFns = m.new.fns.functions;
  const carriedFns: FunctionInfo[] = [];
  const chosen = new Set<number>();
  const verdictOf = new Map(diff.functions.filter((f) => f.newIndex !== null).map((f) => [f.newIndex!, f] as const));
  for (const f of newFns) {
    const c = verdictOf.get(f.index);
    if (c?.status === 'changed' && c.verdict === 'hotpatchable' && !dropped.has(f.index)) chosen.add(f.index);
  }
  // Reachability goes through code references and through read-only data the package will
  // carry (a new vtable pointing at a new function), and through exception data.
  const oldRodata = oldRodataByKey(m);
  const work = [...chosen];
  const seenItems = new Set<number>();
  const visitTarget = (t: number, itemWork: DataItem[]): void => {
    const g = m.new.fns.containing(t);
    if (g !== undefined) {
      if (chosen.has(g.index)) return;
      const c = verdictOf.get(g.index);
      if (c?.status === 'added' && c.verdict === 'hotpatchable' && !dropped.has(g.index)) {
        chosen.add(g.index);
        work.push(g.index);
      }
      return;
    }
    const first = m.new.itemAt(t);
    if (first === undefined || first.writable || seenItems.has(first.index)) return;
    // Every read-only item is followed, carried or not: whether one is carried also depends
    // on what the package carries (resolveTarget), so an over-approximation keeps every
    // function a carried item may point at in the package. Items glued to it travel with it:
    // each step goes to a glued neighbour not seen yet, so a run is walked once (long runs
    // of Go data made a walk of the whole run per item quadratic).
    const run = [first];
    seenItems.add(first.index);
    while (run.length > 0) {
      const item = run.pop()!;
      itemWork.push(item);
      for (const i of [item.index + 1, item.index - 1]) {
        const nb = m.new.items[i];
        if (nb === undefined || nb.writable || seenItems.has(i) || !glue.has(Math.min(i, item.index))) continue;
        seenItems.add(i);
        run.push(nb);
      }
    }
  };
  while (work.length > 0) {
    const f = newFns[work.pop()!]!;
    const itemWork: DataItem[] = [];
    // A parent and its funclets travel together (the diff made them change together).
    for (const k of diff.ehGroupOf.get(f.index) ?? []) visitTarget(newFns[k]!.entry, itemWork);
    for (const r of f.decoded.refs) visitTarget(r.target, itemWork);
    for (const rf of f.pdata) {
      if (rf.unwind?.handler !== null && rf.unwind?.handler !== undefined) visitTarget(rf.unwind.handler as number, itemWork);
      // MSVC handler data reaches funclets, filters and other functions' code.
      const hd = parseHandlerData(m.new.img, m.new.fns, f, rf);
      if (hd?.kind === 'msvc') for (const x of handlerFields(hd.data)) if (x.field.role !== 'table') visitTarget(x.field.target, itemWork);
    }
    while (itemWork.length > 0) {
      const item = itemWork.pop()!;
      for (const rel of relocsIn(m.new.img, item.start, item.end)) visitTarget(absTarget(m.new.img, rel, m.new.img.relocs.get(rel)!), itemWork);
      for (const t of m.new.relTables.get(item.start)?.targets ?? []) visitTarget(t, itemWork);
    }
  }
  for (const f of newFns) if (chosen.has(f.index)) carriedFns.push(f);

  const blockOf = new Map<number, number>();
  const rangeOffsets = new Map<number, number[]>();
  carriedFns.forEach((f, i) => {
    blockOf.set(f.index, i);
    rangeOffsets.set(f.index, layoutRanges(f));
  });
  const dataBlocks: DataBlock[] = [];
  const carriedItems = new Map<number, number>();
  // Who needs each carried item: the carried functions whose code resolved to it, and the
  // carried items whose pointers did. When an item cannot be carried, every function that
  // needs it (directly or through other carried items) fails in the same pass; blaming only
  // the first one dropped one function per pass (22 passes on rollup 4.64.7 -> 4.64.8).
  const fnUsers = new Map<number, Set<number>>();
  const itemUsers = new Map<number, Set<number>>();
  const failures: Array<{ error: HotpatchError; carriers: readonly number[] }> = [];
  let unresolved = false;
  let currentCarrier: number | null = null;
  let currentItem: number | null = null;
  const note = (map: Map<number, Set<number>>, key: number, user: number): void => {
    const set = map.get(key);
    if (set === undefined) map.set(key, new Set([user]));
    else set.add(user);
  };
  /** The carried functions that need carried item `i`. */
  const blame = (i: number): number[] => {
    const out = new Set<number>();
    const seen = new Set<number>([i]);
    const work = [i];
    while (work.length > 0) {
      const k = work.pop()!;
      for (const f of fnUsers.get(k) ?? []) out.add(f);
      for (const p of itemUsers.get(k) ?? []) {
        if (seen.has(p)) continue;
        seen.add(p);
        work.push(p);
      }
    }
    return [...out];
  };
  const pendingItems: DataItem[] = [];
  const imports: Import[] = [];
  const importKeys = new Map<string, number>();
  const headOf = new Map<number, number>();
  const ctx: ResolveContext = {
    m,
    blockOf,
    rangeOffsets,
    oldRodata,
    carry(item) {
      let id = carriedItems.get(item.index);
      if (id === undefined) {
        id = carriedFns.length + carriedItems.size;
        carriedItems.set(item.index, id);
        pendingItems.push(item);
      }
      if (currentItem !== null) note(itemUsers, item.index, currentItem);
      else if (currentCarrier !== null) note(fnUsers, item.index, currentCarrier);
      return id;
    },
    carryGlued(item) {
      if (!glue.has(item.index) && !glue.has(item.index - 1)) return null;
      // Run heads are memoised (runs are long in Go data); a new glue pair clears the memo.
      let first = headOf.get(item.index);
      if (first === undefined) {
        first = item.index;
        while (glue.has(first - 1)) first--;
        headOf.set(item.index, first);
      }
      const head = m.new.items[first]!;
      return { blockId: ctx.carry(head), offset: item.start - head.start };
    },
    noteAmbiguousStart(_prev, item) {
      starts.add(item.index);
    },
    requireGlue(prev, next) {
      if (next.index === prev.index + 1 && !glue.has(prev.index)) {
        glue.add(prev.index);
        headOf.clear();
      }
    },
    importIndex(dll, symbol) {
      const key = `${dll}!${symbol}`;
      let i = importKeys.get(key);
      if (i === undefined) {
        i = imports.length;
        importKeys.set(key, i);
        imports.push({ dll, symbol: symbol.startsWith('#') ? { kind: 'ordinal', ordinal: Number(symbol.slice(1)) } : { kind: 'name', name: symbol } });
      }
      return i;
    },
  };

  const codeBlocks: CodeBlock[] = [];
  const records: FunctionRecord[] = [];
  const redirects: Redirect[] = [];
  const relied: Array<[number, number]> = [];
  const bases = new Map<number, { start: number; end: number; shift: number }>();
  const noteRelied = (t: Fixup['target']): void => {
    if (t.kind !== 'image') return;
    const rva = t.rva as number;
    const g = m.old.fns.containing(rva);
    if (g !== undefined) {
      for (const r of g.ranges) relied.push([r.start, r.end]);
      return;
    }
    const d = m.old.itemAt(rva);
    if (d !== undefined && !d.writable) relied.push([d.start, d.end]);
  };
  // New read-only item index -> the OLD RVA where its counterpart starts (found through
  // references at the same position in matched old code or old data): delta bases for the
  // data blocks. Only a size hint: a delta reproduces the new bytes whatever its base holds.
  const oldStartOf = new Map<number, number>();
  const noteCounterpart = (newT: number, oldT: number): void => {
    const item = m.new.itemAt(newT);
    if (item === undefined || item.writable || oldStartOf.has(item.index)) return;
    const os = oldT - (newT - item.start);
    if (sectionOf(m.old.img, os) !== undefined) oldStartOf.set(item.index, os);
  };
  const noteParallelRefs = (f: FunctionInfo, of: FunctionInfo): void => {
    const nr = f.decoded.refs;
    const or = of.decoded.refs;
    if (nr.length !== or.length) return;
    for (let k = 0; k < nr.length; k++) {
      const a = nr[k]!;
      const b = or[k]!;
      if (!a.isBranch && !b.isBranch && a.kind === b.kind) noteCounterpart(a.target, b.target);
    }
  };
  let fixupCount = 0;
  let unwindBytes = 0;
  for (const f of carriedFns) {
    currentCarrier = f.index;
    const built = emitFunction(ctx, f, rangeOffsets.get(f.index)!, blockOf.get(f.index)!);
    if (!built.ok) {
      // Collect every failing function of this pass, so --skip-refused drops them together.
      failures.push({ error: built.error, carriers: [f.index] });
      continue;
    }
    const { block, bytes } = built.value;
    for (const fx of block.fixups) noteRelied(fx.target);
    for (const fx of block.unwind?.unwindFixups ?? []) noteRelied(fx.target);
    fixupCount += block.fixups.length + (block.unwind?.unwindFixups.length ?? 0);
    unwindBytes += block.unwind?.unwindInfo.length ?? 0;
    const c = verdictOf.get(f.index)!;
    const o = m.fnNewToOld[f.index]!;
    const of = c.status === 'changed' && o >= 0 ? m.old.fns.functions[o]! : null;
    if (of !== null) {
      // A delta against the old body is smaller when the change is small (a data-only change
      // differs only in fixup fields, which the delta copies through: see blockBytesFor).
      // Parts kept at their original distances (layoutParts) sit at the same offsets from the
      // entry in the block as in OLD, so the base spans as much of OLD from the old entry as
      // the block is long (within the entry's section): one copy per part when OLD has the
      // same layout.
      const r0 = of.ranges[0]!;
      const sec = sectionOf(m.old.img, r0.start);
      const secEnd = sec === undefined ? r0.end : sec.rva + sec.size;
      bases.set(block.id, { start: r0.start, end: Math.max(r0.end, Math.min(r0.start + bytes.length, secEnd)), shift: 0 });
      // Parallel references of the old body tell where the read-only items it reaches were in
      // OLD: the delta bases of the data blocks carried for it.
      noteParallelRefs(f, of);
    }
    codeBlocks.push(block);
    // A funclet reached only through handler tables is new code for the new tables: the old
    // one stays for old frames, so it is recorded as added and not redirected.
    const redirected = of !== null && !diff.funcletsWithoutRedirect.has(f.index);
    records.push({
      name: f.name ?? of?.name ?? null,
      oldRva: redirected ? asRva(of.entry) : null,
      newRva: asRva(f.entry),
      status: redirected ? 'changed' : 'added',
      oldSize: redirected ? of.ranges.reduce((s, r) => s + r.end - r.start, 0) : 0,
      newSize: f.ranges.reduce((s, r) => s + r.end - r.start, 0),
      blockId: blockOf.get(f.index)!,
      blockOffset: 0,
    });
    if (redirected) {
      const plan = c.redirect;
      if (plan === null) return failPass(currentCarrier, 'BUILD_INTERNAL', `no redirect plan for changed ${describeNew(m, f.entry)}`);
      const img = m.old.img.image;
      if (plan.kind === 'jmp-rel32') {
        redirects.push({ oldRva: asRva(of.entry), target: { blockId: blockOf.get(f.index)!, offset: 0 }, kind: 'jmp-rel32', expected: img.slice(of.entry, of.entry + 5), pad: null });
        relied.push([of.entry, of.entry + 5]);
      } else {
        redirects.push({
          oldRva: asRva(of.entry),
          target: { blockId: blockOf.get(f.index)!, offset: 0 },
          kind: 'short-to-pad',
          expected: img.slice(of.entry, of.entry + 2),
          pad: { rva: asRva(plan.padRva), expected: img.slice(plan.padRva, plan.padRva + 5) },
        });
        relied.push([of.entry, of.entry + 2], [plan.padRva, plan.padRva + 5]);
      }
    }
  }
  /**
   * Stores carried run [item.start, end) as a delta against its old counterpart when that is
   * smaller; the counterpart's pointers then name the old counterparts of the items it
   * points to (their delta bases, when they are carried too).
   */
  const noteDataBase = (id: number, item: DataItem, end: number): void => {
    let os: number | undefined;
    for (let i = item.index; os === undefined && i < m.new.items.length && m.new.items[i]!.start < end; i++) {
      const at = oldStartOf.get(i);
      if (at !== undefined) os = at - (m.new.items[i]!.start - item.start);
    }
    // No counterpart found by reference: the same RVA (a data-only release keeps its layout).
    os ??= item.start;
    const sec = sectionOf(m.old.img, os);
    if (sec === undefined) return;
    // A little slack on both sides lets the matcher find bytes that moved a little.
    const bs = Math.max(sec.rva, os - DATA_BASE_SLACK);
    const be = Math.min(sec.rva + sec.size, m.old.img.image.length, os + (end - item.start) + DATA_BASE_SLACK);
    if (be <= bs) return;
    for (const rel of relocsIn(m.new.img, item.start, end)) {
      const orel = os + (rel - item.start);
      const type = m.old.img.relocs.get(orel);
      if (type === 10) noteCounterpart(absTarget(m.new.img, rel, 10), absTarget(m.old.img, orel, type));
    }
    bases.set(id, { start: bs, end: be, shift: os - bs });
  };
  // Carried read-only data (carrying may discover more items to carry).
  for (let i = 0; i < pendingItems.length; i++) {
    const item = pendingItems[i]!;
    currentCarrier = null;
    currentItem = item.index;
    const img = m.new.img;
    // A glued run is carried whole, from its first item (the one carried) to its last.
    let last = item.index;
    while (glue.has(last)) last++;
    const end = m.new.items[last]!.end;
    const bytes = img.image.slice(item.start, end);
    const fixups: Fixup[] = [];
    for (const rel of relocsIn(img, item.start, end)) {
      const type = img.relocs.get(rel)!;
      const bad =
        type !== 10
          ? { code: 'BUILD_UNSUPPORTED', message: `32-bit absolute address in read-only data at 0x${rel.toString(16)}` }
          : rel + 8 > end
            ? { code: 'BUILD_UNSUPPORTED', message: `pointer straddles the end of read-only data at 0x${rel.toString(16)}` }
            : null;
      const res = bad === null ? resolveTarget(ctx, absTarget(img, rel, type), null) : null;
      if (res === null || !res.ok) {
        failures.push({ error: bad ?? { code: 'BUILD_UNRESOLVED', message: `read-only data ${describeNew(m, item.start)}: ${res!.ok ? '' : res!.reason}` }, carriers: blame(item.index) });
        unresolved = true;
        break;
      }
      fixups.push({ kind: 'abs64', offset: rel - item.start, target: res.target, addend: 0n });
      noteRelied(res.target);
      bytes.fill(0, rel - item.start, rel - item.start + 8);
    }
    // Self-relative entries (LLVM relative lookup tables): entry i = target - table, so a
    // rel32 fixup (S + A - P, P = table + 4i) with addend 4i; re-based wherever the copy lands.
    // A glued run may hold several tables: each item of the run is looked up.
    for (let k = item.index; k <= last && !unresolved; k++) {
      const rt = m.new.relTables.get(m.new.items[k]!.start);
      if (rt === undefined) continue;
      const r = relativeEntryFixups(rt, (t) => resolveTarget(ctx, t, null));
      if (!r.ok) {
        failures.push({ error: { code: 'BUILD_UNRESOLVED', message: `read-only data ${describeNew(m, item.start)}: ${r.reason}` }, carriers: blame(item.index) });
        unresolved = true;
        break;
      }
      const at = rt.rva - item.start;
      for (const f of r.fixups) {
        if (at + f.offset + 4 > bytes.length) continue;
        fixups.push({ ...f, offset: at + f.offset });
        noteRelied(f.target);
        bytes.fill(0, at + f.offset, at + f.offset + 4);
      }
    }
    fixupCount += fixups.length;
    if (unresolved) {
      unresolved = false;
      continue;
    }
    const id = carriedItems.get(item.index)!;
    noteDataBase(id, item, end);
    dataBlocks.push({ id, alignment: alignmentOf(item.start), bytes: { kind: 'literal', bytes }, fixups });
  }
  if (failures.length > 0) {
    const carriers = [...new Set(failures.flatMap((x) => x.carriers))];
    return { ok: false, error: failures[0]!.error, carriers };
  }

  const target = identityOf(m.old.img, opts.moduleName, relied);
  const series = opts.series ?? { baselineId: defaultBaselineId(m.old.img, opts.moduleName), sequence: 1 };
  const pkg: HotpatchPackage = {
    target,
    series,
    codeBlocks,
    dataBlocks,
    imports,
    redirects,
    functions: records,
    producer: {
      compilerVersion: opts.compilerVersion,
      parameters: [
        { key: 'skip-refused', value: String(opts.skipRefused) },
        { key: 'new-time-date-stamp', value: `0x${m.new.img.pe.fileHeader.timeDateStamp.toString(16)}` },
        // Changes the diff found hotpatchable but --skip-refused had to leave out (they need
        // something refused): declared, so verification knows they are missing on purpose.
        ...(dropped.size > 0 ? [{ key: 'left-out-new-rvas', value: [...dropped.keys()].map((n) => `0x${m.new.fns.functions[n]!.entry.toString(16)}`).join(',') }] : []),
      ],
    },
  };
  const code = codeBlocks.reduce((s, b) => s + (b.bytes.kind === 'literal' ? b.bytes.bytes.length : b.bytes.size), 0);
  const data = dataBlocks.reduce((s, b) => s + (b.bytes.kind === 'literal' ? b.bytes.bytes.length : b.bytes.size), 0);
  return { ok: true, value: { pkg, omitted, blockOf, sizes: { code, data, unwind: unwindBytes, fixups: fixupCount }, passes }, pass: { relied, bases } };
}

/** The baseline id used when none is given: module, TimeDateStamp and SizeOfImage of OLD. */
export function defaultBaselineId(img: MappedImage, moduleName: string): string {
  return `${moduleName.toLowerCase()}@${img.pe.fileHeader.timeDateStamp.toString(16).padStart(8, '0')}-${img.pe.optionalHeader.sizeOfImage.toString(16)}`;
}

function alignmentOf(rva: number): number {
  for (const a of [16, 8, 4, 2]) if (rva % a === 0) return a;
  return 1;
}

/** Bytes of old image kept on each side of a data block's counterpart as delta base. */
const DATA_BASE_SLACK = 64;

/**
 * A delta wins only when its exact encoded size is under this share of the literal's: a
 * literal compresses (zstd finds repeats across blocks) where a delta's base hash and copy
 * offsets do not, so raw sizes flatter the delta (FORMAT.md, "The delta encoding").
 */
const DELTA_SHARE = 0.8;

function sectionOf(img: MappedImage, rva: number): MappedImage['sections'][number] | undefined {
  return img.sections.find((s) => rva >= s.rva && rva < s.rva + s.size);
}

/**
 * How to store block `bytes`: a delta against old range [baseStart, baseEnd) when its exact
 * encoded size is clearly smaller, else the literal. The bytes under a fixup are overwritten
 * when the package is applied, so before encoding they take the base's bytes at the same
 * place (`shift` = where the block's first byte lies in the base): a function that changed
 * only in what its references point at becomes one copy of its old body.
 */
export function blockBytesFor(oldImage: Uint8Array, bytes: Uint8Array, fixups: readonly Fixup[], baseStart: number, baseEnd: number, shift = 0): CodeBlock['bytes'] {
  const literal: CodeBlock['bytes'] = { kind: 'literal', bytes };
  if (baseEnd <= baseStart || bytes.length === 0) return literal;
  const base = oldImage.subarray(baseStart, baseEnd);
  const target = bytes.slice();
  for (const fx of fixups) {
    const w = FIXUP_WIDTH[fx.kind];
    const at = shift + fx.offset;
    if (at >= 0 && at + w <= base.length) target.set(base.subarray(at, at + w), fx.offset);
  }
  const delta: CodeBlock['bytes'] = { kind: 'delta', base: { rva: asRva(baseStart), length: baseEnd - baseStart }, baseSha256: sha256(base), size: target.length, ops: encodeDelta(base, target) };
  return encodedBlockBytesSize(delta) < encodedBlockBytesSize(literal) * DELTA_SHARE ? delta : literal;
}

/** The target identity of OLD, pinning the bytes the package relies on. */
function identityOf(img: MappedImage, moduleName: string, relied: Array<[number, number]>): TargetIdentity {
  relied.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of relied) {
    const last = merged[merged.length - 1];
    // Ranges must be disjoint and non-adjacent: merge touching ones too.
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const total = merged.reduce((n, [s, e]) => n + (e - s), 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const [s, e] of merged) {
    buf.set(img.image.subarray(s, e), at);
    at += e - s;
  }
  const pe = img.pe;
  let codeView: TargetIdentity['codeView'] = null;
  const cv = pe.debug.find((d) => d.type === 2);
  if (cv !== undefined && pe.codeView !== null) {
    const rva = cv.addressOfRawData as number;
    if (rva + 24 <= img.image.length && img.image[rva] === 0x52 && img.image[rva + 1] === 0x53 && img.image[rva + 2] === 0x44 && img.image[rva + 3] === 0x53) {
      codeView = { guid: img.image.slice(rva + 4, rva + 20), age: pe.codeView.age, pdbPath: pe.codeView.path };
    }
  }
  return {
    machine: pe.fileHeader.machine,
    timeDateStamp: pe.fileHeader.timeDateStamp,
    sizeOfImage: pe.optionalHeader.sizeOfImage,
    checkSum: pe.optionalHeader.checkSum,
    imageBase: pe.optionalHeader.imageBase,
    codeView,
    moduleName,
    reliedRanges: merged.map(([s, e]) => ({ rva: asRva(s), length: e - s })),
    reliedSha256: sha256(buf),
  };
}

/** Code block bytes (before delta encoding) and the block itself. */
interface BuiltFunction {
  readonly bytes: Uint8Array;
  readonly block: CodeBlock;
}

/** Copies new function `f` into block `id` and re-targets its references. */
export function emitFunction(ctx: ResolveContext, f: FunctionInfo, offsets: readonly number[], id: number): Result<BuiltFunction> {
  const m = ctx.m;
  const img = m.new.img;
  let size = 0;
  f.ranges.forEach((r, i) => (size = Math.max(size, offsets[i]! + (r.end - r.start))));
  // Jump tables the function owns go after its code.
  const tableOff = new Map<number, number>();
  for (const r of f.decoded.refs) {
    const t = m.new.tables.get(r.target);
    if (t === undefined || t.fn !== f || tableOff.has(r.target)) continue;
    // A table is reached through `lea rX, [rip + T]` (rel32 entries) or through the disp32 of
    // `mov eY, [__ImageBase + idx*4 + T]` (rva32 entries); anything else is not the idiom.
    if ((t.table.entryKind === 'rel32') !== (r.kind === 'riprel32') || (t.table.entryKind === 'rva32') !== (r.kind === 'imagerel32')) {
      return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: jump table at 0x${r.target.toString(16)} is referenced by a ${r.kind} field`);
    }
    size = (size + 3) & ~3;
    tableOff.set(r.target, size);
    size += 4 * t.table.targets.length;
  }
  const bytes = new Uint8Array(size);
  // Between parts kept at their distances (layout-parts.ts) lie other functions' bytes in
  // NEW: int3 here, so nothing runs into them.
  for (const g of layoutParts(f).fills) bytes.fill(0xcc, g.start, g.end);
  f.ranges.forEach((r, i) => bytes.set(img.image.subarray(r.start, r.end), offsets[i]!));
  const dv = new DataView(bytes.buffer);
  const fixups: Fixup[] = [];
  const at = (rva: number): number => offsetInFunction(f, offsets, rva)!;
  const rangeIndex = (rva: number): number => f.ranges.findIndex((r) => rva >= r.start && rva < r.end);
  for (const [trva, off] of tableOff) {
    const t = m.new.tables.get(trva)!;
    t.table.targets.forEach((target, k) => {
      // rel32: relative to the table, so constants. rva32: __ImageBase-relative case
      // addresses, which only the runtime knows (the block's place above the image).
      if (t.table.entryKind === 'rel32') dv.setInt32(off + 4 * k, at(target) - off, true);
      else fixups.push({ kind: 'imagerel32', offset: off + 4 * k, target: { kind: 'block', blockId: id, offset: at(target) }, addend: 0n });
    });
  }
  for (const r of f.decoded.refs) {
    const fieldOff = at(r.fieldRva);
    const addend = -BigInt(r.insnEnd - r.fieldRva);
    const where = `${describeNew(m, f.entry)} at ${describeNew(m, r.insnRva)}`;
    const relKind: FixupKind | null = r.kind === 'rel32' ? 'rel32' : r.kind === 'riprel32' ? 'rip-disp32' : r.kind === 'rel8' ? 'rel8' : null;
    // The function's own tables first: MSVC puts them inside the function's range.
    const table = tableOff.get(r.target);
    if (table !== undefined && (relKind === 'rip-disp32' || r.kind === 'imagerel32')) {
      const kind: FixupKind = relKind === 'rip-disp32' ? 'rip-disp32' : 'imagerel32';
      fixups.push({ kind, offset: fieldOff, target: { kind: 'block', blockId: id, offset: table }, addend: kind === 'rip-disp32' ? addend : 0n });
      bytes.fill(0, fieldOff, fieldOff + 4);
      continue;
    }
    const internal = rangeIndex(r.target);
    if (internal >= 0) {
      if (relKind !== null && internal === rangeIndex(r.insnRva)) continue; // moves with the code
      // A rel8 between parts: layout-parts.ts kept them at their distance (the diff refused
      // the function otherwise); the fixup re-checks the reach.
      if (relKind !== null) fixups.push({ kind: relKind, offset: fieldOff, target: { kind: 'block', blockId: id, offset: at(r.target) }, addend });
      else if (r.kind === 'abs64') fixups.push({ kind: 'abs64', offset: fieldOff, target: { kind: 'block', blockId: id, offset: at(r.target) }, addend: 0n });
      else return err('BUILD_UNSUPPORTED', `${where}: ${r.kind} reference cannot be re-targeted`);
      bytes.fill(0, fieldOff, fieldOff + r.size);
      continue;
    }
    if (relKind === 'rel8') return err('BUILD_UNSUPPORTED', `${where}: short branch leaves the function`);
    if (r.kind === 'abs32') return err('BUILD_UNSUPPORTED', `${where}: ${r.kind} reference cannot be re-targeted`);
    if (r.kind === 'imagerel32') {
      // `[__ImageBase + ... + disp32]` with the base proven by the decoder: disp32 = target - image base.
      if (!f.decoded.imageBaseFields.includes(r.fieldRva)) return err('BUILD_UNSUPPORTED', `${where}: image-relative reference with an unproven base register`);
      const res = resolveTarget(ctx, r.target, f);
      if (!res.ok) return err('BUILD_UNRESOLVED', `${where}: ${res.reason}`);
      if (res.target.kind !== 'image' && res.target.kind !== 'block') return err('BUILD_UNSUPPORTED', `${where}: image-relative reference to an import`);
      fixups.push({ kind: 'imagerel32', offset: fieldOff, target: res.target, addend: 0n });
      bytes.fill(0, fieldOff, fieldOff + 4);
      continue;
    }
    const res = resolveTarget(ctx, r.target, f);
    if (!res.ok) return err('BUILD_UNRESOLVED', `${where}: ${res.reason}`);
    fixups.push({ kind: relKind ?? 'abs64', offset: fieldOff, target: res.target, addend: relKind === null ? 0n : addend });
    bytes.fill(0, fieldOff, fieldOff + r.size);
  }

  // Unwind data: every .pdata entry of the function, UNWIND_INFO copied with its handler data.
  // MSVC handler data (GS, scope tables, FuncInfo) is copied inline after its UNWIND_INFO, and
  // its out-of-line structures after all the UNWIND_INFOs of the block; every RVA field is an
  // addr32nb fixup: `table` at its copy (an unwind target), `code` at this block (the function
  // keeps its layout), anything else where resolveTarget says.
  const runtimeFunctions: RuntimeFunction[] = [];
  const infos: Array<{ readonly at: number; readonly bytes: Uint8Array }> = [];
  const unwindFixups: Fixup[] = [];
  const pendingEh: Array<{ readonly inlineAt: number; readonly data: ParsedHandlerData }> = [];
  // Chained UNWIND_INFO (a part of a split function): its RUNTIME_FUNCTION names the parent
  // entry, which is another part of this function; completed once every entry has its place.
  const infoOffOf: number[] = [];
  const chains: Array<{ readonly at: number; readonly parent: number }> = [];
  let infoLen = 0;
  for (const rf of f.pdata) {
    const u = rf.unwind;
    if (u === null) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: unreadable unwind info`);
    if ((u.flags & 4) !== 0) {
      const parent = chainedParent(f, rf);
      if (parent < 0) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: chained unwind info names an entry that is not one of the function's parts`);
      chains.push({ at: ((infoLen + 3) & ~3) + u.size - 12, parent });
    }
    infoLen = (infoLen + 3) & ~3;
    const infoOff = infoLen;
    infoOffOf.push(infoOff);
    const uStart = rf.unwindInfoAddress as number;
    let len = u.size;
    const hasHandler = (u.flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) !== 0;
    let lsda: ReturnType<typeof parseGccLsda> = null;
    let eh: ParsedHandlerData | null = null;
    if (hasHandler) {
      if (u.handler === null) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: handler RVA missing`);
      const hd = parseHandlerData(img, m.new.fns, f, rf);
      if (hd?.kind === 'refused') return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: ${hd.reason}`);
      if (hd?.kind === 'msvc') {
        eh = hd.data;
        if (eh.inline.rva !== uStart + u.size) return err('BUILD_INTERNAL', `${describeNew(m, f.entry)}: handler data does not follow its UNWIND_INFO`);
        len += eh.inline.length;
      } else {
        const fnLen = (rf.endAddress as number) - (rf.beginAddress as number);
        lsda = parseGccLsda(img.image, uStart + u.size, fnLen);
        if (lsda === null) return err('BUILD_UNSUPPORTED', `${describeNew(m, f.entry)}: exception handler data is not a GCC LSDA this compiler can carry, and ${hd?.kind === 'other' ? hd.why : 'no MSVC form'}`);
        len += lsda.length;
      }
    }
    const info = img.image.slice(uStart, uStart + len);
    if (hasHandler) {
      const h = resolveHandler(ctx, u.handler as number);
      if (!h.ok) return err('BUILD_UNRESOLVED', `${describeNew(m, f.entry)} exception handler: ${h.reason}`);
      unwindFixups.push({ kind: 'addr32nb', offset: infoOff + u.size - 4, target: h.target, addend: 0n });
      info.fill(0, u.size - 4, u.size);
      for (const t of lsda?.typeRefs ?? []) {
        const res = resolveTarget(ctx, t.target, null);
        if (!res.ok) return err('BUILD_UNRESOLVED', `${describeNew(m, f.entry)} exception type table: ${res.reason}`);
        unwindFixups.push({ kind: 'rel32', offset: infoOff + u.size + t.offset, target: res.target, addend: 0n });
        info.fill(0, u.size + t.offset, u.size + t.offset + 4);
      }
      if (eh !== null) pendingEh.push({ inlineAt: infoOff + u.size, data: eh });
    }
    infos.push({ at: infoOff, bytes: info });
    const ri = f.ranges.findIndex((r) => r.start === (rf.beginAddress as number));
    if (ri < 0) return err('BUILD_INTERNAL', `${describeNew(m, f.entry)}: .pdata entry does not start a range`);
    runtimeFunctions.push({ beginOffset: offsets[ri]!, endOffset: offsets[ri]! + ((rf.endAddress as number) - (rf.beginAddress as number)), unwindInfoOffset: infoOff });
    infoLen += len;
  }
  // Out-of-line handler structures, once per block (a function's .pdata entries may share them).
  const structAt = new Map<string, number>();
  for (const p of pendingEh) {
    for (const st of p.data.structures) {
      const key = `${st.rva}:${st.length}`;
      if (structAt.has(key)) continue;
      infoLen = (infoLen + 3) & ~3;
      structAt.set(key, infoLen);
      infos.push({ at: infoLen, bytes: img.image.slice(st.rva, st.rva + st.length) });
      infoLen += st.length;
    }
  }
  let blob = new Uint8Array(infoLen);
  for (const info of infos) blob.set(info.bytes, info.at);
  for (const c of chains) {
    // BeginAddress, EndAddress: the parent part in this block; UnwindInfoAddress: the parent's
    // UNWIND_INFO in this blob. All RVAs against the unwind base (addr32nb).
    const p = runtimeFunctions[c.parent]!;
    unwindFixups.push(
      { kind: 'addr32nb', offset: c.at, target: { kind: 'block', blockId: id, offset: p.beginOffset }, addend: 0n },
      { kind: 'addr32nb', offset: c.at + 4, target: { kind: 'block', blockId: id, offset: p.endOffset }, addend: 0n },
      { kind: 'addr32nb', offset: c.at + 8, target: { kind: 'unwind', offset: infoOffOf[c.parent]! }, addend: 0n },
    );
    blob.fill(0, c.at, c.at + 12);
  }
  for (const p of pendingEh) {
    const place = (st: HandlerStructure, at: number): Result<void> => {
      for (const fld of st.fields) {
        const fo = at + fld.offset;
        const t = handlerFieldTarget(ctx, f, offsets, id, p.data, fld, structAt);
        if (!t.ok) return err('BUILD_UNRESOLVED', `${describeNew(m, f.entry)} exception handler data (${p.data.form}) at 0x${(st.rva + fld.offset).toString(16)}: ${t.reason}`);
        unwindFixups.push({ kind: 'addr32nb', offset: fo, target: t.target, addend: 0n });
        blob.fill(0, fo, fo + 4);
      }
      return ok(undefined);
    };
    const r = place(p.data.inline, p.inlineAt);
    if (!r.ok) return r;
    for (const st of p.data.structures) {
      const at = structAt.get(`${st.rva}:${st.length}`)!;
      // A structure shared by two entries is patched once.
      if (pendingEh.find((q) => q.data.structures.some((x) => x.rva === st.rva && x.length === st.length)) !== p) continue;
      const rs = place(st, at);
      if (!rs.ok) return rs;
    }
  }
  let unwind: CodeBlock['unwind'] = null;
  if (runtimeFunctions.length > 0) {
    if (blob.length === 0) blob = new Uint8Array(4);
    unwind = { runtimeFunctions, unwindInfo: blob, unwindFixups };
  }
  return ok({ bytes, block: { id, alignment: 16, bytes: { kind: 'literal', bytes }, fixups, unwind } });
}

