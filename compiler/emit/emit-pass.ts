/**
 * One emission pass over a fixed glue set: every carried function becomes a code block
 * (emit-function.ts), every read-only item it needs a data block, each changed function a
 * redirect; the OLD ranges the package relies on and the delta bases of its blocks are noted
 * on the way. Carrying may discover more items to carry, and an item that cannot be carried
 * fails every function that needs it in the same pass (so --skip-refused drops them together).
 */
import type { HotpatchError } from '../../common/errors.ts';
import { asRva } from '../../common/types.ts';
import type { CodeBlock, DataBlock, Fixup, FunctionRecord, HotpatchPackage, Import, Redirect } from '../../formats/package.ts';
import { blockSize } from '../../formats/validate.ts';
import type { FunctionChange, ImageDiff } from '../diff/types.ts';
import { relativeEntryFixups } from '../diff/relative-entries.ts';
import { untouchedByOldCode } from '../diff/untouched-old.ts';
import { describeNew, oldRodataByKey, resolveTarget, type ResolveContext } from '../diff/resolve-target.ts';
import { layoutRanges } from '../functions/layout-parts.ts';
import { absTarget, relocsIn, type MappedImage } from '../image/map-image.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { DATA_BASE_SLACK, type DeltaBase, type PassExtras } from './deltas.ts';
import type { IntraCandidate } from './intra-deltas.ts';
import { emitFunction } from './emit-function.ts';
import { defaultBaselineId, identityOf } from './identity.ts';
import type { EmitOptions, EmittedPackage, Omission } from './types.ts';

/** A pass's package, or its failure with the carried functions whose emission needed the missing piece. */
export type PassResult = { readonly ok: true; readonly value: EmittedPackage; readonly pass: PassExtras } | {
  readonly ok: false;
  readonly error: HotpatchError;
  readonly carriers: readonly number[];
  /** Per carrier, the message of the first failure it carries (absent: `error`'s). */
  readonly why?: ReadonlyMap<number, string>;
};

/** A failed pass blaming one carried function (or none). */
export function failPass(carrier: number | null, code: string, message: string): PassResult {
  return { ok: false, error: { code, message }, carriers: carrier === null ? [] : [carrier] };
}

/** The state of one pass: what is carried, who needs it, and what the package relies on. */
export class EmitPass {
  readonly ctx: ResolveContext;
  private readonly m: MatchResult;
  private readonly blockOf = new Map<number, number>();
  private readonly rangeOffsets = new Map<number, number[]>();
  private readonly carriedItems = new Map<number, number>();
  /** Carried item index -> the carried functions whose code resolved to it. */
  private readonly fnUsers = new Map<number, Set<number>>();
  /** Carried item index -> the carried items whose pointers resolved to it. */
  private readonly itemUsers = new Map<number, Set<number>>();
  private readonly failures: Array<{ error: HotpatchError; carriers: readonly number[] }> = [];
  private currentCarrier: number | null = null;
  private currentItem: number | null = null;
  private readonly pendingItems: DataItem[] = [];
  private readonly imports: Import[] = [];
  private readonly importKeys = new Map<string, number>();
  /** Glued item index -> the first item of its run (memo, cleared when the glue grows). */
  private readonly headOf = new Map<number, number>();
  private readonly codeBlocks: CodeBlock[] = [];
  private readonly dataBlocks: DataBlock[] = [];
  private readonly records: FunctionRecord[] = [];
  private readonly redirects: Redirect[] = [];
  private readonly relied: Array<[number, number]> = [];
  private readonly bases = new Map<number, DeltaBase>();
  /**
   * New read-only item index -> the OLD RVA where its counterpart starts (found through
   * references at the same position in matched old code or old data): delta bases for the
   * data blocks. Only a size hint: a delta reproduces the new bytes whatever its base holds.
   */
  private readonly oldStartOf = new Map<number, number>();
  private fixupCount = 0;
  private unwindBytes = 0;

  /**
   * `glue` (grown here through `requireGlue`) holds item i when items i and i + 1 travel as
   * one run; `starts` collects the ambiguous item starts resolution met (glue.ts).
   */
  constructor(
    private readonly diff: ImageDiff,
    /** NEW function index -> its entry in the diff. */
    private readonly verdictOf: ReadonlyMap<number, FunctionChange>,
    private readonly carriedFns: readonly FunctionInfo[],
    private readonly glue: Set<number>,
    starts: Set<number>,
  ) {
    const m = diff.match;
    this.m = m;
    carriedFns.forEach((f, i) => {
      this.blockOf.set(f.index, i);
      this.rangeOffsets.set(f.index, layoutRanges(f));
    });
    const ctx: ResolveContext = {
      m,
      blockOf: this.blockOf,
      rangeOffsets: this.rangeOffsets,
      oldRodata: oldRodataByKey(m),
      untouchedOld: untouchedByOldCode(m, diff.newStatus),
      unredirected: diff.funcletsWithoutRedirect,
      carry: (item) => this.carry(item),
      carryGlued: (item) => {
        if (!glue.has(item.index) && !glue.has(item.index - 1)) return null;
        // Run heads are memoised (runs are long in Go data); a new glue pair clears the memo.
        let first = this.headOf.get(item.index);
        if (first === undefined) {
          first = item.index;
          while (glue.has(first - 1)) first--;
          this.headOf.set(item.index, first);
        }
        const head = m.new.items[first]!;
        return { blockId: ctx.carry(head), offset: item.start - head.start };
      },
      noteAmbiguousStart: (_prev, item) => {
        starts.add(item.index);
      },
      requireGlue: (prev, next) => {
        if (next.index === prev.index + 1 && !glue.has(prev.index)) {
          glue.add(prev.index);
          this.headOf.clear();
        }
      },
      importIndex: (dll, symbol) => this.importIndex(dll, symbol),
    };
    this.ctx = ctx;
  }

  /** Carries read-only `item` (once) and notes who needs it; returns its data block id. */
  private carry(item: DataItem): number {
    let id = this.carriedItems.get(item.index);
    if (id === undefined) {
      id = this.carriedFns.length + this.carriedItems.size;
      this.carriedItems.set(item.index, id);
      this.pendingItems.push(item);
    }
    if (this.currentItem !== null) addUser(this.itemUsers, item.index, this.currentItem);
    else if (this.currentCarrier !== null) addUser(this.fnUsers, item.index, this.currentCarrier);
    return id;
  }

  private importIndex(dll: string, symbol: string): number {
    const key = `${dll}!${symbol}`;
    let i = this.importKeys.get(key);
    if (i === undefined) {
      i = this.imports.length;
      this.importKeys.set(key, i);
      this.imports.push({ dll, symbol: symbol.startsWith('#') ? { kind: 'ordinal', ordinal: Number(symbol.slice(1)) } : { kind: 'name', name: symbol } });
    }
    return i;
  }

  /**
   * The carried functions that need carried item `i`, directly or through other carried
   * items: when an item cannot be carried they all fail in the same pass (blaming only the
   * first one dropped one function per pass: 22 passes on rollup 4.64.7 -> 4.64.8).
   */
  private blame(i: number): number[] {
    const out = new Set<number>();
    const seen = new Set<number>([i]);
    const work = [i];
    while (work.length > 0) {
      const k = work.pop()!;
      for (const f of this.fnUsers.get(k) ?? []) out.add(f);
      for (const p of this.itemUsers.get(k) ?? []) {
        if (seen.has(p)) continue;
        seen.add(p);
        work.push(p);
      }
    }
    return [...out];
  }

  /** An OLD function or read-only item a fixup targets: the package relies on its bytes. */
  private noteRelied(t: Fixup['target']): void {
    if (t.kind !== 'image') return;
    const rva = t.rva;
    const g = this.m.old.fns.containing(rva);
    if (g !== undefined) {
      for (const r of g.ranges) this.relied.push([r.start, r.end]);
      return;
    }
    const d = this.m.old.itemAt(rva);
    if (d !== undefined && !d.writable) this.relied.push([d.start, d.end]);
  }

  private noteCounterpart(newT: number, oldT: number): void {
    const item = this.m.new.itemAt(newT);
    if (item === undefined || item.writable || this.oldStartOf.has(item.index)) return;
    const os = oldT - (newT - item.start);
    if (sectionOf(this.m.old.img, os) !== undefined) this.oldStartOf.set(item.index, os);
  }

  private noteParallelRefs(f: FunctionInfo, of: FunctionInfo): void {
    const nr = f.decoded.refs;
    const or = of.decoded.refs;
    if (nr.length !== or.length) return;
    for (let k = 0; k < nr.length; k++) {
      const a = nr[k]!;
      const b = or[k]!;
      if (!a.isBranch && !b.isBranch && a.kind === b.kind) this.noteCounterpart(a.target, b.target);
    }
  }

  /** Emits every carried function; a failure that is not the function's own ends the pass. */
  emitCode(): PassResult | null {
    const m = this.m;
    for (const f of this.carriedFns) {
      this.currentCarrier = f.index;
      const built = emitFunction(this.ctx, f, this.rangeOffsets.get(f.index)!, this.blockOf.get(f.index)!);
      if (!built.ok) {
        // Collect every failing function of this pass, so --skip-refused drops them together.
        this.failures.push({ error: built.error, carriers: [f.index] });
        continue;
      }
      const { block, bytes } = built.value;
      for (const fx of block.fixups) this.noteRelied(fx.target);
      for (const fx of block.unwind?.unwindFixups ?? []) this.noteRelied(fx.target);
      this.fixupCount += block.fixups.length + (block.unwind?.unwindFixups.length ?? 0);
      this.unwindBytes += block.unwind?.unwindInfo.length ?? 0;
      const c = this.verdictOf.get(f.index)!;
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
        this.bases.set(block.id, { start: r0.start, end: Math.max(r0.end, Math.min(r0.start + bytes.length, secEnd)), shift: 0, ...oldTablesBase(m, f, of, built.value.intra) });
        // Parallel references of the old body tell where the read-only items it reaches were in
        // OLD: the delta bases of the data blocks carried for it.
        this.noteParallelRefs(f, of);
      }
      this.codeBlocks.push(block);
      const failed = this.recordFunction(f, of, c);
      if (failed !== null) return failed;
    }
    return null;
  }

  /** The function record of carried `f` and, when it replaces old `of`, its redirect. */
  private recordFunction(f: FunctionInfo, of: FunctionInfo | null, c: FunctionChange): PassResult | null {
    const m = this.m;
    const blockId = this.blockOf.get(f.index)!;
    // A funclet reached only through handler tables is new code for the new tables: the old
    // one stays for old frames, so it is recorded as added and not redirected.
    const redirected = of !== null && !this.diff.funcletsWithoutRedirect.has(f.index);
    this.records.push({
      name: f.name ?? of?.name ?? null,
      oldRva: redirected ? asRva(of.entry) : null,
      newRva: asRva(f.entry),
      status: redirected ? 'changed' : 'added',
      oldSize: redirected ? of.ranges.reduce((s, r) => s + r.end - r.start, 0) : 0,
      newSize: f.ranges.reduce((s, r) => s + r.end - r.start, 0),
      blockId,
      blockOffset: 0,
    });
    if (!redirected) return null;
    const plan = c.redirect;
    if (plan === null) return failPass(this.currentCarrier, 'BUILD_INTERNAL', `no redirect plan for changed ${describeNew(m, f.entry)}`);
    const img = m.old.img.image;
    if (plan.kind === 'jmp-rel32') {
      // The site is pinned by `expected` (the runtime compares it before any write): since
      // format 1.3 it is not hashed again through the relied ranges.
      this.redirects.push({ oldRva: asRva(of.entry), target: { blockId, offset: 0 }, kind: 'jmp-rel32', expected: img.slice(of.entry, of.entry + 5), pad: null });
    } else {
      this.redirects.push({
        oldRva: asRva(of.entry),
        target: { blockId, offset: 0 },
        kind: 'short-to-pad',
        expected: img.slice(of.entry, of.entry + 2),
        pad: { rva: asRva(plan.padRva), expected: img.slice(plan.padRva, plan.padRva + 5) },
      });
    }
    return null;
  }

  /**
   * Stores carried run [item.start, end) as a delta against its old counterpart when that is
   * smaller; the counterpart's pointers then name the old counterparts of the items it
   * points to (their delta bases, when they are carried too).
   */
  private noteDataBase(id: number, item: DataItem, end: number): void {
    const m = this.m;
    let os: number | undefined;
    for (let i = item.index; os === undefined && i < m.new.items.length && m.new.items[i]!.start < end; i++) {
      const at = this.oldStartOf.get(i);
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
      if (type === 10) this.noteCounterpart(absTarget(m.new.img, rel, 10), absTarget(m.old.img, orel, type));
    }
    this.bases.set(id, { start: bs, end: be, shift: os - bs });
  }

  /** Carried read-only data (carrying may discover more items to carry). */
  emitData(): void {
    const m = this.m;
    const img = m.new.img;
    for (let i = 0; i < this.pendingItems.length; i++) {
      const item = this.pendingItems[i]!;
      this.currentCarrier = null;
      this.currentItem = item.index;
      // A glued run is carried whole, from its first item (the one carried) to its last.
      let last = item.index;
      while (this.glue.has(last)) last++;
      const end = m.new.items[last]!.end;
      const bytes = img.image.slice(item.start, end);
      const fixups: Fixup[] = [];
      let unresolved = false;
      for (const rel of relocsIn(img, item.start, end)) {
        const type = img.relocs.get(rel)!;
        const bad =
          type !== 10
            ? { code: 'BUILD_UNSUPPORTED', message: `32-bit absolute address in read-only data at 0x${rel.toString(16)}` }
            : rel + 8 > end
              ? { code: 'BUILD_UNSUPPORTED', message: `pointer straddles the end of read-only data at 0x${rel.toString(16)}` }
              : null;
        const res = bad === null ? resolveTarget(this.ctx, absTarget(img, rel, type), null) : null;
        if (res === null || !res.ok) {
          this.failures.push({ error: bad ?? { code: 'BUILD_UNRESOLVED', message: `read-only data ${describeNew(m, item.start)}: ${res!.ok ? '' : res!.reason}` }, carriers: this.blame(item.index) });
          unresolved = true;
          break;
        }
        fixups.push({ kind: 'abs64', offset: rel - item.start, target: res.target, addend: 0n });
        this.noteRelied(res.target);
        bytes.fill(0, rel - item.start, rel - item.start + 8);
      }
      // Self-relative entries (LLVM relative lookup tables): entry i = target - table, so a
      // rel32 fixup (S + A - P, P = table + 4i) with addend 4i; re-based wherever the copy lands.
      // A glued run may hold several tables: each item of the run is looked up.
      for (let k = item.index; k <= last && !unresolved; k++) {
        const rt = m.new.relTables.get(m.new.items[k]!.start);
        if (rt === undefined) continue;
        const r = relativeEntryFixups(rt, (t) => resolveTarget(this.ctx, t, null));
        if (!r.ok) {
          this.failures.push({ error: { code: 'BUILD_UNRESOLVED', message: `read-only data ${describeNew(m, item.start)}: ${r.reason}` }, carriers: this.blame(item.index) });
          unresolved = true;
          break;
        }
        const at = rt.rva - item.start;
        for (const f of r.fixups) {
          if (at + f.offset + 4 > bytes.length) continue;
          fixups.push({ ...f, offset: at + f.offset });
          this.noteRelied(f.target);
          bytes.fill(0, at + f.offset, at + f.offset + 4);
        }
      }
      this.fixupCount += fixups.length;
      if (unresolved) continue;
      const id = this.carriedItems.get(item.index)!;
      this.noteDataBase(id, item, end);
      this.dataBlocks.push({ id, alignment: alignmentOf(item.start), bytes: { kind: 'literal', bytes }, fixups });
    }
  }

  /** The pass's package (or its collected failures). */
  result(opts: EmitOptions, omitted: readonly Omission[], dropped: ReadonlyMap<number, string>, passes: number): PassResult {
    const m = this.m;
    if (this.failures.length > 0) {
      const carriers = [...new Set(this.failures.flatMap((x) => x.carriers))];
      // Each carrier is left out for its own failure, not the pass's first one.
      const why = new Map<number, string>();
      for (const x of this.failures) for (const c of x.carriers) if (!why.has(c)) why.set(c, x.error.message);
      return { ok: false, error: this.failures[0]!.error, carriers, why };
    }
    const target = identityOf(m.old.img, opts.moduleName, this.relied);
    const series = opts.series ?? { baselineId: defaultBaselineId(m.old.img, opts.moduleName), sequence: 1 };
    const newStamp = m.new.img.pe.fileHeader.timeDateStamp;
    const pkg: HotpatchPackage = {
      target,
      series,
      codeBlocks: this.codeBlocks,
      dataBlocks: this.dataBlocks,
      imports: this.imports,
      redirects: this.redirects,
      functions: this.records,
      producer: {
        compilerVersion: opts.compilerVersion,
        parameters: [
          // Written only when set: readers take a missing key as false (FORMAT.md, Producer).
          ...(opts.skipRefused ? [{ key: 'skip-refused', value: 'true' }] : []),
          // Only when NEW has one: a TimeDateStamp of 0 (deterministic builds: mingw, lld) tells
          // no build from another, and readers take the key's absence as "not stated".
          ...(newStamp !== 0 ? [{ key: 'new-time-date-stamp', value: `0x${newStamp.toString(16)}` }] : []),
          // Changes the diff found hotpatchable but --skip-refused had to leave out (they need
          // something refused): declared, so verification knows they are missing on purpose.
          ...(dropped.size > 0 ? [{ key: 'left-out-new-rvas', value: [...dropped.keys()].map((n) => `0x${m.new.fns.functions[n]!.entry.toString(16)}`).join(',') }] : []),
        ],
      },
    };
    const code = this.codeBlocks.reduce((s, b) => s + blockSize(b.bytes), 0);
    const data = this.dataBlocks.reduce((s, b) => s + blockSize(b.bytes), 0);
    const sizes = { code, data, unwind: this.unwindBytes, fixups: this.fixupCount };
    return { ok: true, value: { pkg, omitted, blockOf: this.blockOf, sizes, passes }, pass: { relied: this.relied, bases: this.bases } };
  }
}

function addUser(map: Map<number, Set<number>>, key: number, user: number): void {
  const set = map.get(key);
  if (set === undefined) map.set(key, new Set([user]));
  else set.add(user);
}

function alignmentOf(rva: number): number {
  for (const a of [16, 8, 4, 2]) if (rva % a === 0) return a;
  return 1;
}

function sectionOf(img: MappedImage, rva: number): MappedImage['sections'][number] | undefined {
  return img.sections.find((s) => rva >= s.rva && rva < s.rva + s.size);
}

/**
 * A changed function's intra candidates with each jump table paired to the old function's
 * table of the same rank (when both have as many relative tables), and the span of the old
 * tables as an extra delta base range: its jump tables live in read-only data away from the
 * code, and a table whose cases kept their places is a plain copy of the old one.
 */
function oldTablesBase(m: MatchResult, f: FunctionInfo, of: FunctionInfo, intra: readonly IntraCandidate[]): Pick<DeltaBase, 'intra' | 'extra'> {
  const tablesOf = (side: MatchResult['old'], fn: FunctionInfo): Array<{ rva: number; end: number }> =>
    [...side.tables.values()].filter((t) => t.fn === fn && t.table.entryKind === 'rel32').map((t) => ({ rva: Number(t.table.rva), end: t.table.rva + 4 * t.table.targets.length })).sort((a, b) => a.rva - b.rva);
  const olds = tablesOf(m.old, of);
  const news = tablesOf(m.new, f);
  if (olds.length === 0) return { intra, extra: [] };
  const start = olds[0]!.rva;
  const end = Math.max(...olds.map((t) => t.end));
  const sec = sectionOf(m.old.img, start);
  const sum = olds.reduce((n, t) => n + t.end - t.rva, 0);
  // One section, and mostly tables (not a stretch of unrelated data between two of them).
  if (sec === undefined || end > sec.rva + sec.size || end - start > 2 * sum + 256) return { intra, extra: [] };
  const pairOf = pairTables(news.map((t) => t.end - t.rva), olds.map((t) => t.end - t.rva));
  const rank = new Map(news.map((t, i) => [t.rva, i] as const));
  const paired = intra.map((c) => {
    const k = c.newRva === null ? undefined : pairOf.get(rank.get(c.newRva) ?? -1);
    return k === undefined ? c : { ...c, oldRva: olds[k]!.rva };
  });
  return { intra: paired, extra: [[start, end]] };
}

/**
 * New table index -> old table index: all of them by rank when both functions have as many
 * tables, else the longest common subsequence of their sizes (a case table added or removed
 * leaves the others paired). Bounded: past 256 x 256 tables, by rank only.
 */
function pairTables(news: readonly number[], olds: readonly number[]): Map<number, number> {
  if (news.length === olds.length) return new Map(news.map((_, i) => [i, i] as const));
  const out = new Map<number, number>();
  if (news.length > 256 || olds.length > 256) return out;
  const w = olds.length + 1;
  const len = new Uint16Array((news.length + 1) * w);
  for (let i = news.length - 1; i >= 0; i--) {
    for (let j = olds.length - 1; j >= 0; j--) len[i * w + j] = news[i] === olds[j] ? len[(i + 1) * w + j + 1]! + 1 : Math.max(len[(i + 1) * w + j]!, len[i * w + j + 1]!);
  }
  for (let i = 0, j = 0; i < news.length && j < olds.length; ) {
    if (news[i] === olds[j]) out.set(i++, j++);
    else if (len[(i + 1) * w + j]! >= len[i * w + j + 1]!) i++;
    else j++;
  }
  return out;
}
