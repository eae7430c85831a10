/**
 * Function discovery: where functions start and which bytes belong to them. Sources, in
 * order of trust: `.pdata` (RUNTIME_FUNCTION begin/end; chained entries are fragments of
 * their parent), exports, COFF function symbols (mingw keeps them), the entry point, and
 * recursive descent (call and tail-jump targets found while decoding the others).
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { NO_PROGRESS, type Progress } from '../../common/progress.ts';
import type { Rva } from '../../common/types.ts';
import type { RuntimeFunction } from '../../runtime/pe/types.ts';
import { openDisassembler, type Disassembler } from '../disasm/decode-function.ts';
import type { DecodedFunction, JumpTable, RvaRange } from '../image/types.ts';
import { absTarget, isCode, lowerBound, sectionAt, type MappedImage } from '../image/map-image.ts';
import { readGoTables } from '../image/go-tables.ts';
import type { FunctionInfo, FunctionSource, FunctionTable } from '../image/types.ts';
export type { FunctionInfo, FunctionSource, FunctionTable } from '../image/types.ts';
import { findFh4FuncletRoots } from './fh4-funclets.ts';
import { findGapFunctions } from './gap-functions.ts';
import { withLabelValueProblems } from './label-values.ts';
import { findThrowInfo } from './msvc-throw-info.ts';

const UNW_FLAG_CHAININFO = 4;
/** Functions decoded between two progress reports (a report redraws a TTY line). */
const PROGRESS_EVERY = 64;
const IMAGE_SYM_CLASS_EXTERNAL = 2;
const IMAGE_SYM_CLASS_STATIC = 3;
const IMAGE_SYM_DTYPE_FUNCTION_TYPE = 0x20;
const MAX_ROUNDS = 16;
/** Times stale descent starts are dropped and the rounds run again (each pass drops some or ends). */
const MAX_PRUNES = 4;
/** Bytes a trial decode of code only data points at may read. */
const DATA_ROOT_PROBE = 0x1000;

interface Start {
  sources: Set<FunctionSource>;
  names: string[];
  exportNames: string[];
  pdata: RuntimeFunction | null;
  fragments: RuntimeFunction[];
}

/** Where functions start before any decoding, and what a trial decode may not enter. */
interface Starts {
  readonly starts: Map<number, Start>;
  add(rva: number, source: FunctionSource): Start | null;
  /** True strictly inside a .pdata range (its start is the function itself). */
  inPdataInterior(rva: number): boolean;
}

/**
 * The starts every source names before decoding: .pdata (chained entries as fragments of
 * their root), exports, COFF function symbols, the entry point, FH4 funclet roots; a symbol
 * inside a .pdata range is a label, not a function.
 */
function collectStarts(img: MappedImage): Result<Starts> {
  const pe = img.pe;
  const starts = new Map<number, Start>();
  const add = (rva: number, source: FunctionSource): Start | null => {
    if (!isCode(img, rva)) return null;
    let s = starts.get(rva);
    if (s === undefined) {
      s = { sources: new Set(), names: [], exportNames: [], pdata: null, fragments: [] };
      starts.set(rva, s);
    }
    s.sources.add(source);
    return s;
  };

  // A .pdata range is a file value: trusted as is, an EndAddress far past its section makes
  // the decoder's coverage table (4 bytes a claimed byte) and every later stage as large as
  // the claim. A function ends inside the section it starts in, and every claimed byte is one
  // the file holds; anything else is refused, not clamped (a damaged table is no guide).
  for (const rf of pe.exceptions) {
    const bad = pdataRangeProblem(img, rf);
    if (bad !== null) return err('PE_PDATA_RANGE', bad, rf.beginAddress);
  }
  const fragmentsOf = new Map<number, RuntimeFunction[]>();
  for (const rf of pe.exceptions) {
    let root: RuntimeFunction = rf;
    for (let depth = 0; depth < 32 && root.unwind !== null && (root.unwind.flags & UNW_FLAG_CHAININFO) !== 0 && root.unwind.chained !== null; depth++) {
      root = root.unwind.chained;
    }
    if (root === rf) {
      const s = add(rf.beginAddress, 'pdata');
      if (s !== null) s.pdata = rf;
    } else {
      const list = fragmentsOf.get(root.beginAddress) ?? [];
      list.push(rf);
      fragmentsOf.set(root.beginAddress, list);
      add(root.beginAddress, 'pdata');
    }
  }
  for (const [begin, frags] of fragmentsOf) {
    const s = starts.get(begin);
    if (s !== undefined) s.fragments = frags.filter((f) => f.beginAddress !== begin);
  }
  for (const e of pe.exports?.entries ?? []) {
    if (e.forwarder !== null) continue;
    const s = add(e.rva, 'export');
    if (s !== null && e.name !== null) s.exportNames.push(e.name);
  }
  for (const sym of pe.symbols) {
    if (sym.type !== IMAGE_SYM_DTYPE_FUNCTION_TYPE) continue;
    if (sym.storageClass !== IMAGE_SYM_CLASS_EXTERNAL && sym.storageClass !== IMAGE_SYM_CLASS_STATIC) continue;
    const sec = pe.sections[sym.sectionNumber - 1];
    if (sym.sectionNumber <= 0 || sec === undefined) continue;
    const s = add(sec.virtualAddress + sym.value, 'symbol');
    if (s !== null && !s.names.includes(sym.name)) s.names.push(sym.name);
  }
  // --- Go hook (compiler/image/go-tables.ts): pclntab lists every Go function by entry and
  // name, stripped or not (assembly stubs without .pdata included). `go:buildid` is the build
  // ID string the linker puts first in .text, not code.
  for (const g of readGoTables(img)?.functions ?? []) {
    if (g.name === 'go:buildid') continue;
    const s = add(g.entry, 'symbol');
    if (s !== null && !s.names.includes(g.name)) s.names.push(g.name);
  }
  // --- end Go hook
  const entry = pe.optionalHeader.addressOfEntryPoint;
  if (entry !== 0) add(entry, 'entry');
  // FH4 unwind funclets and leaf destructors may have no .pdata entry and no caller: only the
  // EH data names them (compiler/functions/fh4-funclets.ts).
  for (const rva of findFh4FuncletRoots(img, pe.exceptions)) add(rva, 'descent');

  // Ranges claimed by .pdata: a symbol or export inside one is a label of that function,
  // not a function of its own (gcc emits local symbols for some labels).
  const pdataRanges: RvaRange[] = [];
  for (const s of starts.values()) {
    if (s.pdata !== null) pdataRanges.push({ start: s.pdata.beginAddress, end: s.pdata.endAddress });
    for (const f of s.fragments) pdataRanges.push({ start: f.beginAddress, end: f.endAddress });
  }
  pdataRanges.sort((a, b) => a.start - b.start);
  const inPdataInterior = (rva: number): boolean => {
    let lo = 0;
    let hi = pdataRanges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = pdataRanges[mid]!;
      if (rva < r.start) hi = mid - 1;
      else if (rva >= r.end) lo = mid + 1;
      else return rva !== r.start;
    }
    return false;
  };
  for (const [rva, s] of [...starts]) if (s.pdata === null && inPdataInterior(rva)) starts.delete(rva);
  return ok({ starts, add, inPdataInterior });
}

/**
 * Finds every function of `img` and decodes it; then the frameless leaf functions nothing
 * visible reaches, in the gaps between them (gap-functions.ts).
 */
export function discoverFunctions(img: MappedImage, progress: Progress = NO_PROGRESS): Result<FunctionTable> {
  const found = discoverFrom(img, progress);
  if (!found.ok) return found;
  const dis = openDisassembler(img);
  try {
    const gaps = findGapFunctions(img, found.value, dis);
    const leaves: FunctionInfo[] = gaps.map((g) => ({ index: 0, entry: g.entry, ranges: [{ start: g.entry, end: g.end }], sources: ['descent'], name: null, names: [], pdata: [], decoded: g.decoded }));
    const all = [...found.value.functions, ...leaves].sort((a, b) => a.entry - b.entry).map((f, index) => ({ ...f, index }));
    return ok(makeTable(withLabelValueProblems(img, all)));
  } finally {
    dis.close();
  }
}

/** Finds every function of `img` and decodes it. */
function discoverFrom(img: MappedImage, progress: Progress): Result<FunctionTable> {
  const collected = collectStarts(img);
  if (!collected.ok) return collected;
  const { starts, add, inPdataInterior } = collected.value;
  const dis = openDisassembler(img);
  try {
    // Code that only data points at (Rust vtable shims, Go func values and itabs, C function
    // pointer tables): leaf functions often have no .pdata entry and no caller, and without a
    // function of its own a changed one can only be refused as unowned code. But data also
    // points into code sections at things that are not code (mingw's __CTOR_LIST__ sits in
    // .text), so a target becomes a function only when it decodes cleanly on its own; the
    // rest stays unowned, which the diff treats conservatively.
    const dataTargets = new Set<number>();
    for (const r of img.relocRvas) {
      if (sectionAt(img, r)?.executable !== false) continue;
      const t = absTarget(img, r, img.relocs.get(r) ?? 0);
      if (t >= 0 && isCode(img, t)) dataTargets.add(t);
    }
    const tried = new Set<number>();
    const tryDataRoot = (t: number): boolean => {
      const known = starts.get(t);
      if (known !== undefined) {
        known.sources.add('data');
        return false;
      }
      if (tried.has(t) || inPdataInterior(t)) return false;
      tried.add(t);
      const sec = sectionAt(img, t)!;
      // The trial decode is bounded (a leaf shim is short; a longer function found here is
      // decoded in full with the others below).
      if (dis.decodeFunction(t, [{ start: t as Rva, end: Math.min(sec.rva + sec.size, t + DATA_ROOT_PROBE) as Rva }], false).problems.length > 0) return false;
      add(t, 'data');
      return true;
    };
    for (const t of dataTargets) tryDataRoot(t);
    const readTargets = new Set<number>();
    const newReads: number[] = [];
    const cache = new DecodeCache();
    // Decodes whose targets a round has followed already. Following them again finds nothing:
    // what they reach became a start (known), was tried (tryDataRoot), or is skipped for a
    // reason no round changes (outside code, inside a .pdata range, inside their own ranges).
    const followed = new Set<DecodedFunction>();
    let sorted: number[] = [];
    let rangesOf = new Map<number, RvaRange[]>();
    // Starts the rounds added as branch targets: one whose decode changed later (a guessed
    // extent grew, a table was read otherwise) may no longer be anyone's target.
    const descentStarts = new Set<number>();
    for (let pass = 0; ; pass++) {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        sorted = [...starts.keys()].sort((a, b) => a - b);
        rangesOf = new Map();
        for (let i = 0; i < sorted.length; i++) {
          const rva = sorted[i]!;
          const s = starts.get(rva)!;
          const ranges: RvaRange[] = [];
          if (s.pdata !== null) ranges.push({ start: rva as Rva, end: s.pdata.endAddress });
          else {
            const sec = sectionAt(img, rva)!;
            const next = sorted[i + 1];
            // Only the bytes the file holds can be code: a guessed extent stops at the section's
            // raw data (a hostile VirtualSize would otherwise size the decoder's tables).
            const secEnd = Math.max(rva + 1, sec.rva + sec.rawSize);
            ranges.push({ start: rva as Rva, end: (next !== undefined && next < secEnd ? next : secEnd) as Rva });
          }
          for (const f of s.fragments) ranges.push({ start: f.beginAddress, end: f.endAddress });
          rangesOf.set(rva, ranges);
        }
        let added = 0;
        const known = new Set(sorted);
        const claimed = buildContaining(sorted, rangesOf);
        const s0 = (rva: number): boolean => starts.get(rva)!.pdata !== null;
        for (const rva of sorted) {
          const ranges = rangesOf.get(rva)!;
          let d = cache.get(rva, ranges);
          if (d === undefined) {
            d = dis.decodeFunction(rva, ranges, s0(rva));
            cache.set(rva, ranges, d);
          }
          if (followed.has(d)) continue;
          followed.add(d);
          for (const t of d.externalCodeTargets) {
            if (known.has(t) || !isCode(img, t)) continue;
            if (claimed(t) !== undefined && starts.get(claimed(t)!)?.pdata !== null) continue;
            if (inPdataInterior(t)) continue;
            // A target inside a symbol-less, pdata-less function's guessed range splits it.
            add(t, 'descent');
            descentStarts.add(t);
            known.add(t);
            added++;
          }
          // Code a `lea` reaches (Rust closures and vtable shims taken by address, leaf functions
          // with no .pdata entry): the same clean-trial-decode rule as code data points at.
          for (const r of d.refs) {
            const t = r.target;
            if (r.isBranch) continue;
            if (!isCode(img, t)) {
              if (!readTargets.has(t)) newReads.push(t);
              readTargets.add(t);
              continue;
            }
            if (known.has(t) || ranges.some((x) => t >= x.start && t < x.end)) continue;
            if (claimed(t) !== undefined && starts.get(claimed(t)!)?.pdata !== null) continue;
            if (tryDataRoot(t)) {
              known.add(t);
              added++;
            }
          }
        }
        // Destructors and copy constructors MSVC throw data names (match/ keys the fields).
        for (const t of findThrowInfo(img, (rva) => starts.has(rva), newReads.splice(0)).code) {
          if (!known.has(t) && isCode(img, t) && tryDataRoot(t)) {
            known.add(t);
            added++;
          }
        }
        if (added === 0) break;
      }
      const functions = endScansAtOtherTables(dis, finalDecode(dis, sorted, starts, rangesOf, cache, progress));
      const stale = pass < MAX_PRUNES ? staleDescentStarts(functions, descentStarts, starts) : [];
      if (stale.length === 0) return ok(makeTable(functions));
      for (const rva of stale) {
        starts.delete(rva);
        descentStarts.delete(rva);
      }
    }
  } finally {
    dis.close();
  }
}

/**
 * Starts only a branch target made whose final decodes no longer branch to them: a target
 * a function reached while its guessed extent or its tables were still wrong (swc-html
 * 1.15.24: 0x5edec0, decoded in an early round with a table read too far, branched to
 * 0x5edf86, which then cut the leaf function 0x5edf80 after 6 bytes, inside its second
 * instruction; the final decodes reach 0x5edf86 from nowhere). Such a start splits a real
 * function in two, neither of which is understood; dropped, the function before it takes its
 * bytes again and the rounds run on.
 */
function staleDescentStarts(functions: readonly FunctionInfo[], descentStarts: ReadonlySet<number>, starts: ReadonlyMap<number, Start>): number[] {
  const targeted = new Set<number>();
  for (const f of functions) for (const t of f.decoded.externalCodeTargets) targeted.add(t);
  const stale: number[] = [];
  for (const f of functions) {
    const s = starts.get(f.entry);
    if (!descentStarts.has(f.entry) || s === undefined || s.sources.size !== 1 || targeted.has(f.entry)) continue;
    stale.push(f.entry);
  }
  return stale;
}

/**
 * A jump table read by scanning (no bound the code shows: a Rust enum's niche, a computed
 * index) ends at its first entry that is not a case inside the function, or where another
 * address the function takes begins. LLVM puts every function's tables back to back in
 * .rdata, so the entries after a table's last case are the next table's, read relative to
 * the wrong base; in a large function they often land inside it, mid-instruction (swc-html
 * 1.15.33: 403 "overlapping instructions", every one from such an entry, e.g. fn 0x6f240's
 * table 0x859b2c read as 364 entries). Another function's table starts a new object: once
 * every function is decoded, a function whose scanned table runs over the base of a table
 * another function reads is decoded again with those bases as ends. A base is a `lea`
 * target the full idiom (`lea`, `movsxd [base + idx*4]`, `add`, `jmp`) reads from; nothing
 * else in .rdata is taken as an end. Until nothing changes (a few rounds at most: a decode
 * with fewer cases reads fewer tables).
 */
function endScansAtOtherTables(dis: Disassembler, functions: FunctionInfo[]): FunctionInfo[] {
  for (let round = 0; round < 4; round++) {
    const bases = new Set<number>();
    for (const f of functions) for (const t of f.decoded.jumpTables) bases.add(t.rva);
    const sorted = Float64Array.from(bases).sort();
    const crosses = (t: JumpTable): boolean => {
      const i = lowerBound(sorted, t.rva + 1);
      return i < sorted.length && sorted[i]! < t.rva + 4 * t.targets.length;
    };
    let changed = false;
    functions = functions.map((f) => {
      if (!f.decoded.jumpTables.some((t) => t.count === 'scan' && crosses(t))) return f;
      changed = true;
      // Every final decode sweeps its gaps (finalDecode: .pdata ranges, or a known extent).
      return { ...f, decoded: dis.decodeFunction(f.entry, f.ranges, true, bases) };
    });
    if (!changed) break;
  }
  return functions;
}

/**
 * Decodes by entry and exact ranges (a function is decoded again only when a round changed
 * its ranges): per entry, the ranges decoded so far and their decodes.
 */
class DecodeCache {
  private readonly byEntry = new Map<number, Array<{ readonly ranges: readonly RvaRange[]; readonly d: DecodedFunction }>>();

  get(entry: number, ranges: readonly RvaRange[]): DecodedFunction | undefined {
    const list = this.byEntry.get(entry);
    if (list === undefined) return undefined;
    for (const x of list) {
      if (x.ranges.length === ranges.length && x.ranges.every((r, i) => r.start === ranges[i]!.start && r.end === ranges[i]!.end)) return x.d;
    }
    return undefined;
  }

  set(entry: number, ranges: readonly RvaRange[], d: DecodedFunction): void {
    const list = this.byEntry.get(entry);
    if (list === undefined) this.byEntry.set(entry, [{ ranges, d }]);
    else list.push({ ranges, d });
  }
}

/** Final decode with final ranges; functions without .pdata end where their code ends. */
function finalDecode(dis: Disassembler, sorted: readonly number[], starts: ReadonlyMap<number, Start>, rangesOf: ReadonlyMap<number, RvaRange[]>, cache: DecodeCache, progress: Progress): FunctionInfo[] {
  const functions: FunctionInfo[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i % PROGRESS_EVERY === 0) progress({ stage: 'functions', done: i, total: sorted.length, unit: 'functions' });
    const rva = sorted[i]!;
    const s = starts.get(rva)!;
    let ranges = rangesOf.get(rva)!;
    let d = cache.get(rva, ranges) ?? dis.decodeFunction(rva, ranges, s.pdata !== null);
    if (s.pdata === null) {
      // Descent alone decided the extent; sweep inside it now that it is known.
      const first = ranges[0]!;
      const end = Math.max(first.start + 1, Math.min(first.end, d.maxEnd));
      ranges = [{ start: first.start, end: end as Rva }, ...ranges.slice(1)];
      d = dis.decodeFunction(rva, ranges, true);
    }
    const names = [...s.exportNames, ...s.names.filter((n) => !s.exportNames.includes(n))];
    const pdata: RuntimeFunction[] = [];
    if (s.pdata !== null) pdata.push(s.pdata);
    pdata.push(...s.fragments);
    const order: FunctionSource[] = ['pdata', 'export', 'symbol', 'entry', 'descent', 'data'];
    functions.push({
      index: i,
      entry: rva as Rva,
      ranges,
      sources: order.filter((o) => s.sources.has(o)),
      name: names[0] ?? null,
      names,
      pdata,
      decoded: d,
    });
  }
  return functions;
}

/** Why a RUNTIME_FUNCTION (or a chained one) claims bytes outside its section's raw data, or null. */
function pdataRangeProblem(img: MappedImage, rf: RuntimeFunction): string | null {
  for (let r: RuntimeFunction | null = rf, depth = 0; r !== null && depth < 33; r = r.unwind?.chained ?? null, depth++) {
    const begin = r.beginAddress;
    const end = r.endAddress;
    const sec = sectionAt(img, begin);
    // Entries outside code are skipped by discovery (add() keeps code only); their end still
    // must not run past the image.
    if (sec === undefined || !sec.executable) {
      if (end > img.image.length) return `.pdata entry [0x${begin.toString(16)}, 0x${end.toString(16)}) ends past SizeOfImage`;
      continue;
    }
    const limit = sec.rva + sec.rawSize;
    if (end <= begin || end > limit) {
      return `.pdata entry [0x${begin.toString(16)}, 0x${end.toString(16)}) does not end inside section ${sec.name} (its bytes end at 0x${limit.toString(16)})`;
    }
  }
  return null;
}

function buildContaining(sorted: readonly number[], rangesOf: ReadonlyMap<number, readonly RvaRange[]>): (rva: number) => number | undefined {
  const all: Array<{ start: number; end: number; fn: number }> = [];
  for (const fn of sorted) for (const r of rangesOf.get(fn)!) all.push({ ...r, fn });
  all.sort((a, b) => a.start - b.start);
  return (rva) => {
    let lo = 0;
    let hi = all.length - 1;
    let best: number | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid]!.start <= rva) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best === undefined) return undefined;
    const r = all[best]!;
    return rva < r.end ? r.fn : undefined;
  };
}

/** Builds the lookups over functions sorted by entry. */
export function makeTable(functions: readonly FunctionInfo[]): FunctionTable {
  const byEntry = new Map<number, FunctionInfo>();
  for (const f of functions) byEntry.set(f.entry, f);
  const all: Array<{ start: number; end: number; f: FunctionInfo }> = [];
  for (const f of functions) for (const r of f.ranges) all.push({ start: r.start, end: r.end, f });
  all.sort((a, b) => a.start - b.start);
  return {
    functions,
    byEntry,
    containing(rva) {
      let lo = 0;
      let hi = all.length - 1;
      let best = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (all[mid]!.start <= rva) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (best < 0) return undefined;
      const r = all[best]!;
      return rva < r.end ? r.f : undefined;
    },
  };
}
