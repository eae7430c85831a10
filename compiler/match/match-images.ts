/**
 * Matching OLD to NEW: pairs functions (and writable data items) of two builds.
 *
 * In order: names (exports, COFF symbols; unique on both sides), the entry point, unique
 * shape hashes (normalised code with no match named), then propagation to a fixed point
 * (BinDiff-style): the unmatched callees of a matched pair at the same call-site index, and
 * unmatched neighbours in address order whose shapes agree. Writable items pair by symbol
 * name and by the position of their reference in matched functions.
 *
 * A pair is a redirect (every caller and thread that reaches OLD runs NEW), so a pair that
 * no equal shape supports (neighbours, order, call-site index, vtable slot) must also show
 * related bodies (bodyGate, match/body-similarity.ts); a function whose references point at
 * an unmatched target is always "changed".
 */
import type { DataItem, FunctionInfo } from '../image/types.ts';
import { absTarget, type MappedSection } from '../image/map-image.ts';
import { loaderOnlyCell } from './loader-only-cells.ts';
import type { ImageAnalysis } from './analyze-image.ts';
import { pairThroughData } from './match-data-slots.ts';
import { typeDescriptorName } from '../image/type-descriptors.ts';
import { pairBetweenAnchors } from './match-order.ts';
import { nameVeto, pairingKeys, pairLookalikeLeftovers, type NameVeto } from './name-evidence.ts';
import { Normaliser, type MatchView, type Side } from './normalise.ts';
import { BodyGrams, relatedBodies, type PairEvidence } from './body-similarity.ts';

/** How a function pair was found. */
export type MatchHow = 'name' | 'entry' | 'hash' | 'callgraph' | 'data' | 'neighbour' | 'order';

/** The match between two analysed images. */
export interface MatchResult {
  readonly old: ImageAnalysis;
  readonly new: ImageAnalysis;
  /** New function index -> old function index, -1 when unmatched. */
  readonly fnNewToOld: Int32Array;
  readonly fnOldToNew: Int32Array;
  readonly fnHow: ReadonlyMap<number, MatchHow>;
  /** New data item index -> old item index (writable items), -1 when unmatched. */
  readonly itemNewToOld: Int32Array;
  readonly itemOldToNew: Int32Array;
  /**
   * New items paired only by position (step 6: same extent, moved by the amount their
   * paired neighbours agree on, or equal distinctive contents at the same offset): no
   * evidence of identity beyond the layout around them (diff/data-changes.ts does not count
   * them when globals moved).
   */
  readonly itemsByPosition: ReadonlySet<number>;
  readonly view: MatchView;
  readonly oldNorm: Normaliser;
  readonly newNorm: Normaliser;
}

/** The match being built: both directions of each pairing, and how each pair was found. */
interface MatchState {
  readonly oldA: ImageAnalysis;
  readonly newA: ImageAnalysis;
  readonly fnNewToOld: Int32Array;
  readonly fnOldToNew: Int32Array;
  readonly itemNewToOld: Int32Array;
  readonly itemOldToNew: Int32Array;
  readonly fnHow: Map<number, MatchHow>;
  /** Shape hash of each function (normalised code with no match named). */
  readonly oldShape: readonly string[];
  readonly newShape: readonly string[];
  /** Named-shape hash of each function (shape with TypeDescriptors named: match/name-evidence.ts). */
  readonly oldNamed: readonly string[];
  readonly newNamed: readonly string[];
  /** What the propagation compares: the named hash where it is evidence, else the shape (pairingKeys). */
  readonly oldKey: readonly string[];
  readonly newKey: readonly string[];
  /** Callees and writable items of each function, memoised. */
  readonly oldTargets: TargetLists;
  readonly newTargets: TargetLists;
  /**
   * NEW functions whose pair pairThroughCalls has walked (1): pairs are never undone and a
   * refused pairing stays refused (the veto is fixed before the propagation), so walking a
   * pair again pairs nothing; each pair is walked once, not once per round.
   */
  readonly callsWalked: Uint8Array;
  /**
   * Pairs two unmatched functions (false when either is matched already). `unchangedSite`:
   * found at one call index of a matched caller pair whose keys agree (the caller did not
   * change, so the callee at that index is its counterpart whatever its body became).
   */
  pair(o: number, n: number, how: MatchHow, unchangedSite?: boolean): boolean;
  /** Pairs two unmatched writable items (false when either is matched, read-only or a jump table). */
  pairItem(o: number, n: number): boolean;
}

/** Pairs the functions and writable data of two analysed images. */
export function matchImages(oldA: ImageAnalysis, newA: ImageAnalysis): MatchResult {
  const fnNewToOld = new Int32Array(newA.fns.functions.length).fill(-1);
  const fnOldToNew = new Int32Array(oldA.fns.functions.length).fill(-1);
  const itemNewToOld = new Int32Array(newA.items.length).fill(-1);
  const itemOldToNew = new Int32Array(oldA.items.length).fill(-1);
  const fnHow = new Map<number, MatchHow>();
  // Set once the shapes are known: pairs other than by name and entry that referenced-name
  // evidence contradicts are never made (match/name-evidence.ts).
  let veto: NameVeto | null = null;
  // Set with it: pairs that do not rest on equal shapes must show related bodies (bodyGate).
  let unrelated: ((o: number, n: number, how: MatchHow) => boolean) | null = null;
  const view: MatchView = {
    fnKey: (side, i) => (side === 'old' ? (fnOldToNew[i]! >= 0 ? i : -1) : fnNewToOld[i]!),
    itemKey: (side, i) => (side === 'old' ? (itemOldToNew[i]! >= 0 ? i : -1) : itemNewToOld[i]!),
  };
  const oldNorm = new Normaliser(oldA, 'old', view);
  const newNorm = new Normaliser(newA, 'new', view);
  const st: MatchState = {
    oldA,
    newA,
    fnNewToOld,
    fnOldToNew,
    itemNewToOld,
    itemOldToNew,
    fnHow,
    oldShape: [],
    newShape: [],
    oldNamed: [],
    newNamed: [],
    oldKey: [],
    newKey: [],
    oldTargets: new TargetLists(oldA),
    newTargets: new TargetLists(newA),
    callsWalked: new Uint8Array(newA.fns.functions.length),
    pair(o, n, how, unchangedSite = false) {
      if (fnOldToNew[o] !== -1 || fnNewToOld[n] !== -1) return false;
      if (veto !== null && how !== 'name' && how !== 'entry' && veto(o, n)) return false;
      if (unrelated !== null && !unchangedSite && unrelated(o, n, how)) return false;
      fnOldToNew[o] = n;
      fnNewToOld[n] = o;
      fnHow.set(n, how);
      return true;
    },
    pairItem(o, n) {
      if (itemOldToNew[o] !== -1 || itemNewToOld[n] !== -1) return false;
      const oi = oldA.items[o]!;
      const ni = newA.items[n]!;
      if (!oi.writable || !ni.writable || oi.jumpTable || ni.jumpTable) return false;
      itemOldToNew[o] = n;
      itemNewToOld[n] = o;
      return true;
    },
  };
  pairByNames(st);
  const oldHashes = oldNorm.shapeHashes(oldA.fns.functions);
  const newHashes = newNorm.shapeHashes(newA.fns.functions);
  const hashes = { oldShape: oldHashes.shape, newShape: newHashes.shape, oldNamed: oldHashes.named, newNamed: newHashes.named };
  const shaped: MatchState = { ...st, ...hashes, ...pairingKeys(hashes) };
  veto = nameVeto(hashes);
  unrelated = bodyGate(shaped);
  propagate(shaped);
  const itemsByPosition = pairWritableByPosition(st, oldNorm, newNorm);
  oldNorm.reset();
  newNorm.reset();
  return { old: oldA, new: newA, fnNewToOld, fnOldToNew, fnHow, itemNewToOld, itemOldToNew, itemsByPosition, view, oldNorm, newNorm };
}

/**
 * Which pairs are refused as unrelated bodies (match/body-similarity.ts): a pair by position
 * (neighbours, order between anchors) or by a call-site index or vtable slot whose keys differ
 * must show instruction streams of one function changed; hashes, names and the entry point
 * are evidence enough. Left unpaired, the OLD function is removed (a redirect or a refusal
 * when still reachable: diff/still-reachable.ts) and the NEW one added.
 */
function bodyGate(st: MatchState): (o: number, n: number, how: MatchHow) => boolean {
  const oldGrams = new BodyGrams(st.oldA);
  const newGrams = new BodyGrams(st.newA);
  let callers: { old: readonly number[][]; new: readonly number[][] } | null = null;
  // A matched pair of callers, one calling `o`, the other `n`: the pair is that caller's
  // callee, not a slot that happens to line up. An unchanged caller (keys agree) is evidence
  // enough; a changed one only for bodies of close sizes (ast-grep: the changed caller of the
  // lost 43-instruction initialiser now calls the 308-instruction rehash; clang rewrote the
  // bounds-check sample's set_name from 73 instructions to 39).
  const calledByAPair = (o: number, n: number, changedCallers: boolean): boolean => {
    callers ??= { old: callerLists(st.oldTargets, st.oldA), new: callerLists(st.newTargets, st.newA) };
    const newCallers = callers.new[n]!;
    return callers.old[o]!.some((p) => {
      const q = st.fnOldToNew[p]!;
      return q >= 0 && (changedCallers || st.oldKey[p] === st.newKey[q]) && newCallers.includes(q);
    });
  };
  return (o, n, how) => {
    const evidence: PairEvidence | null = how === 'neighbour' || how === 'order' ? 'position' : how === 'callgraph' || how === 'data' ? 'site' : null;
    if (evidence === null || st.oldKey[o] === st.newKey[n]) return false;
    const of = st.oldA.fns.functions[o]!;
    const nf = st.newA.fns.functions[n]!;
    if (relatedBodies(oldGrams, of, newGrams, nf, evidence)) return false;
    if (evidence === 'site') return true;
    const [lo, hi] = [of.decoded.insns.length, nf.decoded.insns.length].sort((x, y) => x - y) as [number, number];
    return !calledByAPair(o, n, hi <= CALLED_RATIO * lo);
  };
}

/** Instruction-count ratio within which a changed caller pair is evidence for its callees. */
const CALLED_RATIO = 2;

/** Per function of one image, the functions that call (or jump to) its entry. */
function callerLists(targets: TargetLists, a: ImageAnalysis): number[][] {
  const out: number[][] = a.fns.functions.map(() => []);
  for (const f of a.fns.functions) for (const t of new Set(targets.fnTargets(f.index))) out[t]!.push(f.index);
  return out;
}

/** Function index by each name (export, COFF symbol) that no other function of `fns` has. */
export function uniqueFunctionNames(fns: readonly FunctionInfo[]): Map<string, number> {
  const m = new Map<string, number>();
  const dup = new Set<string>();
  for (const f of fns) for (const n of f.names) {
    if (m.has(n) && m.get(n) !== f.index) dup.add(n);
    m.set(n, f.index);
  }
  for (const d of dup) m.delete(d);
  return m;
}

/** 1. Names (exports, COFF symbols), unique on each side; writable data by symbol name and MSVC TypeDescriptors by type name. 2. The entry point. */
function pairByNames(st: MatchState): void {
  const { oldA, newA } = st;
  const oldNames = uniqueFunctionNames(oldA.fns.functions);
  const newNames = uniqueFunctionNames(newA.fns.functions);
  // Identical code folding: one body is several functions at one address. A body whose names
  // split across functions in the other build (folded in OLD, one changed in NEW) or join
  // (two OLD functions folded in NEW) is no name's counterpart: the shapes and the call graph
  // pair it with the function whose code it still is (diff/folded-functions.ts refuses a
  // pairing that would redirect the folded body to a changed one).
  const splits = (fns: readonly FunctionInfo[], other: ReadonlyMap<string, number>): Set<number> => {
    const out = new Set<number>();
    for (const f of fns) {
      const there = new Set<number>();
      for (const n of f.names) {
        const k = other.get(n);
        if (k !== undefined) there.add(k);
      }
      if (there.size > 1) out.add(f.index);
    }
    return out;
  };
  const oldSplit = splits(oldA.fns.functions, newNames);
  const newSplit = splits(newA.fns.functions, oldNames);
  for (const [name, n] of newNames) {
    const o = oldNames.get(name);
    if (o !== undefined && !oldSplit.has(o) && !newSplit.has(n)) st.pair(o, n, 'name');
  }
  const itemNames = new Map<string, number>();
  for (const d of oldA.items) if (d.name !== null && d.writable) itemNames.set(d.name, d.index);
  for (const d of newA.items) {
    const o = d.name === null ? undefined : itemNames.get(d.name);
    if (o !== undefined) st.pairItem(o, d.index);
  }
  // MSVC TypeDescriptors by their decorated type name, unique on each side (image/type-descriptors.ts).
  const descriptors = (a: ImageAnalysis): Map<string, number> => {
    const out = new Map<string, number>();
    for (const d of a.items) {
      const name = d.writable ? typeDescriptorName(a.img, d.start, d.end) : null;
      if (name !== null) out.set(name, out.has(name) ? -1 : d.index);
    }
    return out;
  };
  const oldDescriptors = descriptors(oldA);
  for (const [name, n] of descriptors(newA)) {
    const o = oldDescriptors.get(name) ?? -1;
    if (n >= 0 && o >= 0) st.pairItem(o, n);
  }
  const oe = oldA.fns.byEntry.get(oldA.img.pe.optionalHeader.addressOfEntryPoint);
  const ne = newA.fns.byEntry.get(newA.img.pe.optionalHeader.addressOfEntryPoint);
  if (oe !== undefined && ne !== undefined) st.pair(oe.index, ne.index, 'entry');
}

/** Callees of `f` at their entries, in reference order. */
function fnTargets(a: ImageAnalysis, f: FunctionInfo): number[] {
  const out: number[] = [];
  for (const r of f.decoded.refs) {
    const g = a.fns.containing(r.target);
    if (g !== undefined && g !== f && r.target === g.entry) out.push(g.index);
  }
  return out;
}

/** Writable items `f` reads or writes, in reference order. */
function itemTargets(a: ImageAnalysis, f: FunctionInfo): number[] {
  const out: number[] = [];
  for (const r of f.decoded.refs) {
    if (r.isBranch) continue;
    const d = a.itemAt(r.target);
    if (d !== undefined && d.writable) out.push(d.index);
  }
  return out;
}

/** 3-5b, to a fixed point: unique shapes, call graph, data slots, neighbours, order between anchors. */
function propagate(st: MatchState): void {
  const dataPairsWalked = new Set<string>();
  const fruitlessRuns = new Set<string>();
  for (let round = 0; round < 64; round++) {
    let changed = pairUniqueShapes(st) + pairThroughCalls(st);
    // 4b. Counterpart data slots (vtables) of items matched pairs reference in the same order.
    changed += pairThroughData(st.oldA, st.newA, st.fnNewToOld, (o, n) => st.pair(o, n, 'data'), dataPairsWalked, {
      pair: (o, n) => st.pairItem(o, n),
      sameShape: (o, n) => st.oldShape[o] === st.newShape[n],
    });
    changed += pairNeighbours(st);
    // 5b. Only when nothing else moves: runs between ordered anchors (LCS, equal gaps).
    if (changed === 0) changed += pairBetweenAnchors(st.fnNewToOld, st.fnOldToNew, st.oldKey, st.newKey, (o, n) => st.pair(o, n, 'order'), fruitlessRuns);
    if (changed === 0) break;
  }
  // 5c. Last (the rounds above may stop at their bound on a large image, couchbase): look-alikes
  // about types only one build names, by shape and descriptor family (match/name-evidence.ts),
  // then the descriptors they reference, by position.
  if (pairLookalikeLeftovers(st, (o, n) => st.pair(o, n, 'order')) > 0) pairThroughCalls(st);
}

/** 3. Named shapes, then shapes, unique among the unmatched on both sides. */
function pairUniqueShapes(st: MatchState): number {
  return pairUnique(st, st.oldNamed, st.newNamed) + pairUnique(st, st.oldShape, st.newShape);
}

/** Hashes (`oldHash`, `newHash`) unique among the unmatched on both sides. */
function pairUnique(st: MatchState, oldHash: readonly string[], newHash: readonly string[]): number {
  const count = (shapes: readonly string[], used: Int32Array): Map<string, number> => {
    const m = new Map<string, number>();
    shapes.forEach((h, i) => {
      if (used[i] !== -1) return;
      m.set(h, m.has(h) ? -2 : i);
    });
    return m;
  };
  const os = count(oldHash, st.fnOldToNew);
  const ns = count(newHash, st.fnNewToOld);
  let changed = 0;
  for (const [h, n] of ns) {
    const o = os.get(h);
    if (n >= 0 && o !== undefined && o >= 0 && st.pair(o, n, 'hash')) changed++;
  }
  return changed;
}

/**
 * Per function of one image, its callees and writable items (fnTargets, itemTargets), each
 * computed once: the propagation asks for every matched pair's lists in every round.
 */
class TargetLists {
  private readonly fns: Array<readonly number[] | undefined> = [];
  private readonly items: Array<readonly number[] | undefined> = [];

  constructor(private readonly a: ImageAnalysis) {}

  fnTargets(i: number): readonly number[] {
    return (this.fns[i] ??= fnTargets(this.a, this.a.fns.functions[i]!));
  }

  itemTargets(i: number): readonly number[] {
    return (this.items[i] ??= itemTargets(this.a, this.a.fns.functions[i]!));
  }
}

/** 4. Call graph and data references of matched pairs, position by position. */
function pairThroughCalls(st: MatchState): number {
  const { fnNewToOld, oldKey, newKey, oldTargets, newTargets, callsWalked } = st;
  let changed = 0;
  for (let n = 0; n < fnNewToOld.length; n++) {
    const o = fnNewToOld[n]!;
    if (o < 0 || callsWalked[n] === 1) continue;
    callsWalked[n] = 1;
    const nt = newTargets.fnTargets(n);
    const ot = oldTargets.fnTargets(o);
    if (nt.length === ot.length) {
      const unchangedSite = oldKey[o] === newKey[n];
      for (let k = 0; k < nt.length; k++) if (st.pair(ot[k]!, nt[k]!, 'callgraph', unchangedSite)) changed++;
    } else {
      // Different call lists: pair only callees whose (named) shapes agree, in order.
      let j = 0;
      for (const t of nt) {
        for (let k = j; k < ot.length; k++) {
          if (oldKey[ot[k]!] === newKey[t]) {
            if (st.pair(ot[k]!, t, 'callgraph')) changed++;
            j = k + 1;
            break;
          }
        }
      }
    }
    const ni = newTargets.itemTargets(n);
    const oi = oldTargets.itemTargets(o);
    if (ni.length === oi.length) for (let k = 0; k < ni.length; k++) if (st.pairItem(oi[k]!, ni[k]!)) changed++;
  }
  return changed;
}

/**
 * 5. Neighbours in address order, when their shapes agree or both are the only gap (a gap
 * pair rests on position alone: pair() refuses it when the bodies are unrelated, bodyGate).
 */
function pairNeighbours(st: MatchState): number {
  const { fnNewToOld, fnOldToNew, oldKey, newKey } = st;
  let changed = 0;
  for (let n = 0; n < fnNewToOld.length; n++) {
    const o = fnNewToOld[n]!;
    if (o < 0) continue;
    for (const d of [-1, 1]) {
      const nn = n + d;
      const on = o + d;
      if (nn < 0 || on < 0 || nn >= fnNewToOld.length || on >= fnOldToNew.length) continue;
      if (fnNewToOld[nn] !== -1 || fnOldToNew[on] !== -1) continue;
      const sameShape = oldKey[on] === newKey[nn];
      // Both unmatched and enclosed by the same matched pair on the other side: the same slot.
      const nn2 = nn + d;
      const on2 = on + d;
      const enclosed = nn2 >= 0 && on2 >= 0 && nn2 < fnNewToOld.length && on2 < fnOldToNew.length && fnNewToOld[nn2] === on2;
      if ((sameShape || enclosed) && st.pair(on, nn, 'neighbour')) changed++;
    }
  }
  return changed;
}

/**
 * 6. Writable items still unpaired: same section, same extent, and only where the layout
 * around them is proven: the nearest items on each side in the section that steps 1-5 paired
 * (by name, or by references from matched code) moved by one same amount, and so does the
 * pair (the section's start stands in for a missing neighbour before, its end for one after
 * when both sections have the same size). A section that changed size is refused by the
 * diff, but --skip-refused still builds, so a pair there must be as sound. An equal offset
 * alone proves nothing once globals moved: gcc's new `DW.ref.*` cells push the CRT's .data
 * 0x10 up in samples/new-catch, and old .data+0xd0 (`__terminate_handler`) is not new
 * .data+0xd0 (a typeinfo cell); a wrong pair aims new code at the wrong cell. Otherwise only
 * the same offset with the same contents found in no other unpaired item of the section on
 * either side (not all zero) pairs: an MSVC TypeDescriptor holds its decorated type name.
 * A loader-only cell never pairs by position: it is keyed by what it points at, and needs no
 * counterpart (match/loader-only-cells.ts).
 */
function pairWritableByPosition(st: MatchState, oldNorm: Normaliser, newNorm: Normaliser): Set<number> {
  const paired = new Set<number>();
  const { oldA, newA } = st;
  const oldSame = distinctContents(oldA, oldNorm, st.itemOldToNew);
  const newSame = distinctContents(newA, newNorm, st.itemNewToOld);
  const sectionOf = (a: ImageAnalysis, d: DataItem): MappedSection | undefined => a.img.sections.find((s) => s.name === d.section && d.start >= s.rva && d.start < s.rva + s.size);
  const oldAt = new Map<string, number>();
  for (const d of oldA.items) {
    if (!d.writable || st.itemOldToNew[d.index] !== -1) continue;
    const sec = sectionOf(oldA, d);
    if (sec !== undefined) oldAt.set(`${d.section}:${d.start - sec.rva}:${d.end - d.start}`, d.index);
  }
  // Decided against the evidence pairs alone: a position pair proves nothing about its neighbours.
  const evidence = st.itemNewToOld.slice();
  for (const d of newA.items) {
    if (!d.writable || evidence[d.index] !== -1) continue;
    const sec = sectionOf(newA, d);
    const osec = sec === undefined ? undefined : oldA.img.sections.find((s) => s.name === sec.name && s.writable);
    if (sec === undefined || osec === undefined) continue;
    const at = (shift: number): number | undefined => oldAt.get(`${d.section}:${d.start - sec.rva + shift}:${d.end - d.start}`);
    // Where the paired neighbours put it; else at the same offset with the same distinctive
    // contents (MSVC TypeDescriptors carry their decorated name).
    const shift = anchorShift(st, evidence, sec, osec, d.index);
    const content = newSame.get(d.index);
    const o = shift !== null ? at(shift) : content !== undefined && oldSame.get(at(0) ?? -1) === content ? at(0) : undefined;
    if (o === undefined || loaderOnlyCell(newA, d) || loaderOnlyCell(oldA, oldA.items[o]!)) continue;
    if (st.pairItem(o, d.index)) paired.add(d.index);
  }
  return paired;
}

/**
 * Unpaired writable items whose normalised contents (bytes, pointers as their targets) are
 * not all zero and unique among the unpaired items of their section: index -> contents.
 */
function distinctContents(a: ImageAnalysis, norm: Normaliser, paired: Int32Array): Map<number, string> {
  const byContent = new Map<string, number>();
  for (const d of a.items) {
    if (!d.writable || paired[d.index] !== -1) continue;
    const bytes = a.img.image.subarray(d.start, d.end);
    if (bytes.every((b) => b === 0)) continue;
    let key = `${d.section}|`;
    for (let k: number = d.start; k < d.end; ) {
      const type = a.img.relocs.get(k);
      if (type !== undefined) {
        key += `|p${type}:${norm.targetToken(null, absTarget(a.img, k, type), 'exact')}|`;
        k += type === 10 ? 8 : 4;
      } else key += String.fromCharCode(a.img.image[k++]!);
    }
    byContent.set(key, byContent.has(key) ? -1 : d.index);
  }
  const out = new Map<number, string>();
  for (const [key, i] of byContent) if (i >= 0) out.set(i, key);
  return out;
}

/**
 * How far NEW item `n` moved (OLD section offset minus NEW), when its nearest paired
 * neighbours in section `ns` both ways moved by that same amount with their extents; null
 * when they disagree. No paired neighbour before: the section's start (0); none after: the
 * section's end, only when both sections have the same size (0).
 */
function anchorShift(st: MatchState, newToOld: Int32Array, ns: MappedSection, os: MappedSection, n: number): number | null {
  const items = st.newA.items;
  const inSection = (k: number): boolean => {
    const d = items[k];
    return d !== undefined && d.writable && d.start >= ns.rva && d.start < ns.rva + ns.size;
  };
  let shift: number | null = null;
  for (const step of [-1, 1]) {
    let k = n + step;
    while (inSection(k) && newToOld[k]! < 0) k += step;
    let here: number;
    if (!inSection(k)) {
      if (step > 0 && os.size !== ns.size) return null;
      here = 0;
    } else {
      const o = st.oldA.items[newToOld[k]!]!;
      if (o.end - o.start !== items[k]!.end - items[k]!.start) return null;
      here = o.start - os.rva - (items[k]!.start - ns.rva);
    }
    if (shift !== null && shift !== here) return null;
    shift = here;
  }
  return shift;
}

/** The side-specific normaliser of a match. */
export function normaliserOf(m: MatchResult, side: Side): Normaliser {
  return side === 'old' ? m.oldNorm : m.newNorm;
}
