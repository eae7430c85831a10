/**
 * Everything the matcher needs from one image: its functions (discovered and decoded) and
 * its data items. A data item is a referenced address in a data section; it extends to the
 * next referenced address (or data symbol, or jump-table edge) in the same section, since a
 * stripped image says nothing else about where one object ends.
 */
import { findRelativeTables, type RelativeTable } from '../disasm/relative-tables.ts';
import { ok, type Result } from '../../common/errors.ts';
import { NO_PROGRESS, type Progress } from '../../common/progress.ts';
import type { Rva } from '../../common/types.ts';
import type { JumpTable } from '../image/types.ts';
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { handlerFields, parseHandlerData } from '../eh/parse-handler-data.ts';
import { discoverFunctions } from '../functions/discover-functions.ts';
import { absTarget, lowerBound, sectionAt, type MappedImage, type MappedSection } from '../image/map-image.ts';
import type { DataItem, FunctionInfo, FunctionTable } from '../image/types.ts';
export type { DataItem } from '../image/types.ts';
import { DirectoryIndex } from '../../runtime/pe/types.ts';
import { findCodeOffsetTables } from './code-offset-tables.ts';
import { findThrowInfo } from '../functions/msvc-throw-info.ts';
import { findTypeDescriptors } from '../image/type-descriptors.ts';
import { readGoTables } from '../image/go-tables.ts';
import { readGoMetadata, type GoMetadata } from '../image/go-types.ts';
import { upperBound } from '../../common/search.ts';

/** A jump table and the function that uses it. */
export interface OwnedTable {
  readonly fn: FunctionInfo;
  readonly table: JumpTable;
}

/** One image, analysed. */
export interface ImageAnalysis {
  readonly img: MappedImage;
  readonly fns: FunctionTable;
  /** Data items sorted by start. */
  readonly items: readonly DataItem[];
  /** The item holding `rva`, if any. */
  itemAt(rva: number): DataItem | undefined;
  /** Jump tables by table RVA. */
  readonly tables: ReadonlyMap<number, OwnedTable>;
  /** Self-relative data tables (LLVM relative lookup tables) by table RVA. */
  readonly relTables: ReadonlyMap<number, RelativeTable>;
  /** Every rel8/rel32 branch target in the image (the thread rule checks entries against it). */
  readonly branchTargets: ReadonlySet<number>;
  /** RVA ranges of the import machinery (directory, IAT, names): not data items. */
  readonly importRanges: ReadonlyArray<readonly [number, number]>;
  /** Image-relative RVA fields in read-only data (MSVC throw data): field RVA -> target. */
  readonly rvaFields: ReadonlyMap<number, number>;
  /** Entries of self-relative code-offset tables no jump table owns: entry RVA -> code target (match/code-offset-tables.ts). */
  readonly codeOffsets: ReadonlyMap<number, number>;
  /** Go type metadata: its offset fields resolved (compiler/image/go-types.ts); null when not Go. */
  readonly go: GoMetadata | null;
}

const IMAGE_SYM_CLASS_EXTERNAL = 2;
const IMAGE_SYM_CLASS_STATIC = 3;

/**
 * Ranges that are never data items, nor run into by one: the import machinery (returned
 * merged, sorted) and, in `opaque` with it, the debug directory and what it points at.
 */
function opaqueRanges(img: MappedImage): { importRanges: Array<readonly [number, number]>; opaque: Array<readonly [number, number]> } {
  const pe = img.pe;
  const importRanges: Array<readonly [number, number]> = [];
  // The export directory too: lld puts it in .rdata right after the CRT's constructor lists,
  // and its RVAs shift with any layout change, so an item running into it (`p.0 =
  // __DTOR_LIST__ + 1`, pointed at from .data) would change on every rebuild.
  for (const idx of [DirectoryIndex.Export, DirectoryIndex.Import, DirectoryIndex.Iat, DirectoryIndex.DelayImport]) {
    const d = pe.dataDirectories[idx];
    if (d !== undefined && d.size > 0) importRanges.push([d.virtualAddress, d.virtualAddress + d.size]);
  }
  for (const slot of img.iat.keys()) importRanges.push([slot, slot + 8]);
  // Few disjoint ranges (the IAT slots mostly sit inside the IAT directory).
  importRanges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [s, e] of importRanges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  importRanges.length = 0;
  importRanges.push(...merged);
  // Not data items either: the debug directory and what it points at (CodeView GUID and age,
  // timestamps), which change on every link. No code reads them, but a constant just before
  // them would run into them.
  const opaque: Array<readonly [number, number]> = [...importRanges];
  const dbg = pe.dataDirectories[DirectoryIndex.Debug];
  if (dbg !== undefined && dbg.size > 0) opaque.push([dbg.virtualAddress, dbg.virtualAddress + dbg.size]);
  for (const e of pe.debug) if (e.sizeOfData > 0 && e.addressOfRawData > 0) opaque.push([e.addressOfRawData, e.addressOfRawData + e.sizeOfData]);
  return { importRanges, opaque };
}

/** Where data items start (with the data symbol naming them, if any) and where they must end. */
interface ItemBounds {
  /** Keyed by RVA: `addStart` keeps only addresses inside a section. */
  readonly starts: Map<Rva, string | null>;
  readonly ends: Set<number>;
  /** Whether `rva` is data: in a data section, or in a code section where no function claims it. */
  isData(sec: MappedSection | undefined, rva: number): sec is MappedSection;
  /** Adds an item start at `rva` when it is data outside the opaque ranges; a name wins over none. */
  addStart(rva: number, name?: string | null): void;
  /** Where the linker's input sections start (COFF section symbols), sorted: no object spans one. */
  readonly inputStarts: number[];
}

function makeItemBounds(img: MappedImage, fns: FunctionTable, opaque: ReadonlyArray<readonly [number, number]>): ItemBounds {
  const starts = new Map<Rva, string | null>();
  const inImports = (rva: number): boolean => opaque.some(([s, e]) => rva >= s && rva < e);
  // Data in code sections (mingw's __CTOR_LIST__, MSVC's tables) is data too when no function
  // claims it.
  const isData = (sec: MappedSection | undefined, rva: number): sec is MappedSection => sec !== undefined && (!sec.executable || fns.containing(rva) === undefined);
  return {
    starts,
    ends: new Set<number>(),
    inputStarts: [],
    isData,
    addStart(rva: number, name: string | null = null): void {
      // A start known already takes no nameless start (code refers to the same few items often).
      if (name === null && starts.has(rva as Rva)) return;
      if (rva <= 0 || !isData(sectionAt(img, rva), rva) || inImports(rva)) return;
      const at = rva as Rva; // inside a section (isData): an RVA
      if (!starts.has(at) || name !== null) starts.set(at, name ?? starts.get(at) ?? null);
    },
  };
}

/** Code references and jump tables: data item starts, every branch target, and the tables by RVA. */
function addCodeBounds(fns: FunctionTable, bounds: ItemBounds): { branchTargets: Set<number>; tables: Map<number, OwnedTable> } {
  const branchTargets = new Set<number>();
  const tables = new Map<number, OwnedTable>();
  for (const f of fns.functions) {
    for (const r of f.decoded.refs) {
      if (r.isBranch) branchTargets.add(r.target);
      else bounds.addStart(r.target);
    }
    for (const t of f.decoded.jumpTables) {
      for (const target of t.targets) branchTargets.add(target);
      tables.set(t.rva, { fn: f, table: t });
      bounds.addStart(t.rva);
      bounds.ends.add(t.rva + 4 * t.targets.length);
    }
  }
  return { branchTargets, tables };
}

/** Exception data: what catch clauses (MSVC) and GCC type tables name, and MSVC's handler structures as bounds. */
function addEhBounds(img: MappedImage, fns: FunctionTable, bounds: ItemBounds): void {
  // Type-table entries of GCC exception data point at type_info slots (`.refptr.*`).
  for (const f of fns.functions) {
    for (const rf of f.pdata) {
      const u = rf.unwind;
      if (u === null || (u.flags & 3) === 0) continue;
      // MSVC handler data: the TypeDescriptors catch clauses name are data items.
      const hd = parseHandlerData(img, fns, f, rf);
      if (hd?.kind === 'msvc') {
        for (const x of handlerFields(hd.data)) if (x.field.role === 'data') bounds.addStart(x.field.target);
        // Its structures (FuncInfo, maps) are bounds: a constant before one does not run into
        // RVAs that move with every layout change.
        for (const st of hd.data.structures) {
          bounds.ends.add(st.rva);
          bounds.ends.add(st.rva + st.length);
        }
        continue;
      }
      const lsda = parseGccLsda(img.image, rf.unwindInfoAddress + u.size, rf.endAddress - rf.beginAddress, img.imageBase);
      for (const t of lsda?.typeRefs ?? []) bounds.addStart(t.target);
    }
  }
}

/** Pointers stored in data, data symbols, and unwind data as a bound; then every bound starts an item. */
function addImageBounds(img: MappedImage, bounds: ItemBounds): void {
  const pe = img.pe;
  // Pointers stored in data (covered by base relocations) make their targets items too.
  for (const [rva, type] of img.relocs) {
    if (!bounds.isData(sectionAt(img, rva), rva)) continue;
    const t = absTarget(img, rva, type);
    if (t > 0) bounds.addStart(t);
  }
  for (const sym of pe.symbols) {
    if (sym.type === 0x20 || sym.sectionNumber <= 0) continue;
    if (sym.storageClass !== IMAGE_SYM_CLASS_EXTERNAL && sym.storageClass !== IMAGE_SYM_CLASS_STATIC) continue;
    const sec = pe.sections[sym.sectionNumber - 1];
    if (sec === undefined) continue;
    // Section symbols (`.data`, `.rdata$...`) are not objects, but each starts an input section.
    if (sym.name.startsWith('.') || sym.numberOfAuxSymbols > 0) {
      if (sym.storageClass === IMAGE_SYM_CLASS_STATIC && sym.numberOfAuxSymbols > 0) bounds.inputStarts.push(sec.virtualAddress + sym.value);
      continue;
    }
    bounds.addStart(sec.virtualAddress + sym.value, sym.name);
  }
  // Unwind data (MSVC's .xdata sits in .rdata) is no part of the constant before it: an item
  // ends where an UNWIND_INFO starts, so a constant keyed by bytes does not take in the
  // whole table (which changes with any function's frame).
  for (const rf of pe.exceptions) bounds.ends.add(rf.unwindInfoAddress);
  for (const e of bounds.ends) bounds.addStart(e);
  bounds.inputStarts.sort((a, b) => a - b);
}

/** The data items, sorted by start: each runs to the next start, opaque range or function in its section. */
function buildItems(
  img: MappedImage,
  fns: FunctionTable,
  starts: ReadonlyMap<Rva, string | null>,
  tables: ReadonlyMap<number, OwnedTable>,
  opaque: ReadonlyArray<readonly [number, number]>,
  inputStarts: readonly number[],
): DataItem[] {
  const fnEntries = fns.functions.map((f) => f.entry);
  /** True when an input section starts in (after, upTo]. */
  const inputStartIn = (after: number, upTo: number): boolean => {
    const i = lowerBound(inputStarts, after + 1);
    return i < inputStarts.length && inputStarts[i]! <= upTo;
  };
  let sortedStarts = [...starts.keys()].sort((a, b) => a - b);
  // In writable sections the symbols (when present) name every global: a reference into the
  // middle of one (a struct field) is part of it, not an object of its own. Unless an input
  // section starts in between: ld keeps no symbol for some objects (gcc's `DW.ref.*` cells,
  // libstdc++'s aligned statics), and no object spans two input sections.
  let lastNamed: { section: MappedSection; rva: Rva } | null = null;
  sortedStarts = sortedStarts.filter((rva) => {
    const sec = sectionAt(img, rva)!;
    if (!sec.writable) return true;
    if (starts.get(rva) !== null) {
      lastNamed = { section: sec, rva };
      return true;
    }
    if (lastNamed !== null && lastNamed.section === sec && inputStartIn(lastNamed.rva, rva)) return true;
    return lastNamed === null || lastNamed.section !== sec;
  });
  const items: DataItem[] = [];
  for (let i = 0; i < sortedStarts.length; i++) {
    const s = sortedStarts[i]!;
    const sec = sectionAt(img, s)!;
    const secEnd = sec.rva + sec.size;
    const next = sortedStarts[i + 1];
    let end = next !== undefined && next < secEnd ? next : secEnd;
    // Import machinery inside the same section (mingw's .idata) ends an item early, and so
    // does the next function in a code section.
    // (Indexed: destructuring `for (const [a] of opaque)` allocates an iterator per item.)
    for (let k = 0; k < opaque.length; k++) {
      const a = opaque[k]![0];
      if (a > s && a < end) end = a;
    }
    if (sec.executable) {
      const nextFn = fnEntries[lowerBound(fnEntries, s + 1)];
      if (nextFn !== undefined && nextFn < end) end = nextFn;
    }
    items.push({
      index: items.length,
      start: s,
      end: end as Rva,
      writable: sec.writable,
      section: sec.name,
      name: starts.get(s) ?? null,
      jumpTable: tables.has(s),
    });
  }
  return items;
}

/** The item holding `rva` (items sorted by start), by binary search. */
function itemFinder(items: readonly DataItem[]): (rva: number) => DataItem | undefined {
  const itemStarts = items.map((d) => d.start);
  return (rva) => {
    const best = upperBound(itemStarts, rva) - 1;
    if (best < 0) return undefined;
    const d = items[best]!;
    return rva < d.end ? d : undefined;
  };
}

/** Discovers functions and data items of a mapped image. */
export function analyzeImage(img: MappedImage, progress: Progress = NO_PROGRESS): Result<ImageAnalysis> {
  const fr = discoverFunctions(img, progress);
  if (!fr.ok) return fr;
  const fns = fr.value;
  const { importRanges, opaque } = opaqueRanges(img);
  const bounds = makeItemBounds(img, fns, opaque);
  const { branchTargets, tables } = addCodeBounds(fns, bounds);
  // MSVC throw data (ThrowInfo -> CatchableTypeArray -> CatchableType -> TypeDescriptor) is
  // reached by RVA fields: its structures are items, and the fields are keyed as references.
  const refTargets = new Set<number>();
  for (const f of fns.functions) for (const r of f.decoded.refs) if (!r.isBranch) refTargets.add(r.target);
  const throwData = findThrowInfo(img, (rva) => fns.byEntry.has(rva), refTargets);
  for (const s of throwData.starts) bounds.addStart(s);
  // MSVC TypeDescriptors are items of their own (image/type-descriptors.ts).
  for (const s of findTypeDescriptors(img)) bounds.addStart(s);
  // --- Go hook (compiler/image/go-types.ts): type descriptors, names, method tables and GC
  // bitmaps are items of their exact extent, and their offset fields are keyed by meaning.
  const goTables = readGoTables(img);
  const go = goTables === null ? null : readGoMetadata(img, goTables, refTargets);
  if (go !== null) {
    for (const s of go.starts) bounds.addStart(s);
    for (const e of go.ends) bounds.ends.add(e);
  }
  // --- end Go hook
  // Self-relative tables: each entry's target is an object (a string) of its own, and the
  // table ends after its last entry.
  const relTables = findRelativeTables(img, fns.functions);
  for (const t of relTables.values()) {
    bounds.addStart(t.rva);
    if (t.count !== null) bounds.ends.add(t.rva + 4 * t.count);
    for (const x of t.targets) bounds.addStart(x);
  }
  const codeOffsets = findCodeOffsetTables(img, fns, (rva) => tables.has(rva) || relTables.has(rva) || throwData.fields.has(rva));
  addEhBounds(img, fns, bounds);
  addImageBounds(img, bounds);
  const items = buildItems(img, fns, bounds.starts, tables, opaque, bounds.inputStarts);
  return ok({
    img,
    fns,
    items,
    itemAt: itemFinder(items),
    tables,
    relTables,
    branchTargets,
    importRanges,
    rvaFields: throwData.fields,
    codeOffsets,
    go,
  });
}
