/**
 * Data changes a hotpatch cannot make (each one refused): writable sections that changed
 * size or normalised initial contents, globals whose used field offsets moved, changed
 * exports, entry point or TLS.
 */
import { rvaAdd } from '../../common/types.ts';
import { absTarget, relocsIn, type MappedImage, type MappedSection } from '../image/map-image.ts';
import type { DataItem, ImageAnalysis } from '../match/analyze-image.ts';
import { loaderOnlyCell } from '../match/loader-only-cells.ts';
import type { MatchResult } from '../match/match-images.ts';
import { latin1 } from '../match/normalise.ts';
import { reason, type ReasonCode } from './reasons.ts';
import type { DataChange, FunctionStatus } from './types.ts';

/** Writable sections whose contents are the import machinery the loader fills in. */
function importSection(a: ImageAnalysis, s: MappedSection): boolean {
  return a.importRanges.some(([st, e]) => st < s.rva + s.size && e > s.rva);
}

/** Compares every writable section: size, and contents with pointers normalised. */
export function diffWritable(m: MatchResult): DataChange[] {
  const out: DataChange[] = [];
  const oldW = m.old.img.sections.filter((s) => s.writable && !s.executable && !importSection(m.old, s));
  const newW = m.new.img.sections.filter((s) => s.writable && !s.executable && !importSection(m.new, s));
  const byName = new Map(oldW.map((s) => [s.name, s] as const));
  const seen = new Set<string>();
  for (const ns of newW) {
    const os = byName.get(ns.name);
    seen.add(ns.name);
    if (os === undefined) {
      out.push({ name: null, section: ns.name, oldRva: null, newRva: ns.rva, size: ns.size, status: 'added', verdict: 'refused', reason: reason('WRITABLE_SECTION_ADDED', `new writable section ${ns.name}: its data cannot be added to a running image`, ns.rva) });
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
        reason: reason('WRITABLE_SECTION_RESIZED', `writable section ${ns.name} changed size (0x${os.size.toString(16)} -> 0x${ns.size.toString(16)} bytes): globals were added, removed or resized`, ns.rva),
      });
      continue;
    }
    for (const c of compareSection(m, os, ns)) out.push(c);
  }
  for (const os of oldW) {
    if (!seen.has(os.name)) out.push({ name: null, section: os.name, oldRva: os.rva, newRva: null, size: os.size, status: 'removed', verdict: 'refused', reason: reason('WRITABLE_SECTION_REMOVED', `writable section ${os.name} was removed`, os.rva) });
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
  const changes = compareAtOffsets(m, os, ns, ou, nu);
  return changes.length === 0 || sameByItems(m, os, ns, ou, nu) ? [] : changes;
}

/**
 * The section compared item by item through the match, when equal section offsets differ
 * (gcc's new `DW.ref.*` cells push every later global up inside a .data of the same size).
 * True when every NEW item in the section is matched (by name or by the code that references
 * it, not by position alone) to an OLD item whose contents equal it
 * (pointers by target, over the shorter extent; beyond it only zero padding on both sides) or
 * is a loader-only cell (match/writable-layout.ts), every unmatched OLD item is one too, and
 * every byte of both sections lies in some item, but for a leading run before the first item
 * that is the same on both sides. Layout (offsets and access sizes the code
 * uses) is checked separately by diffOffsetsUsed and diffAccessLayout, per matched item.
 */
function sameByItems(m: MatchResult, os: MappedSection, ns: MappedSection, ou: ReadonlyMap<number, string>, nu: ReadonlyMap<number, string>): boolean {
  const inSec = (a: ImageAnalysis, s: MappedSection): DataItem[] => a.items.filter((d) => d.writable && d.start >= s.rva && d.start < s.rva + s.size);
  const oItems = inSec(m.old, os);
  const nItems = inSec(m.new, ns);
  const covers = (items: readonly DataItem[], s: MappedSection): boolean => items.length > 0 && items.every((d, i) => (items[i + 1]?.start ?? s.rva + s.size) === d.end);
  if (!covers(oItems, os) || !covers(nItems, ns)) return false;
  for (const d of oItems) if (m.itemOldToNew[d.index]! < 0 && !loaderOnlyCell(m.old, d)) return false;
  const ob = m.old.img.image;
  const nb = m.new.img.image;
  // Bytes before the first item (stripped: mingw's __mingw_module_is_dll, which no code
  // references) belong to no item: the same length on both sides, the same bytes, no pointer.
  const lead = oItems[0]!.start - os.rva;
  if (nItems[0]!.start - ns.rva !== lead) return false;
  for (let k = 0; k < lead; k++) if (ob[os.rva + k] !== nb[ns.rva + k] || ou.has(k) || nu.has(k)) return false;
  /** Zero bytes and no pointer in [from, to) of one side. */
  const blank = (b: Uint8Array, units: ReadonlyMap<number, string>, s: MappedSection, from: number, to: number): boolean => {
    for (let k = from; k < to; k++) if (b[k] !== 0 || units.has(k - s.rva)) return false;
    return true;
  };
  for (const d of nItems) {
    const o = m.itemNewToOld[d.index]!;
    if (o < 0) {
      if (!loaderOnlyCell(m.new, d)) return false;
      continue;
    }
    // Globals moved: a pair found only by equal offset and extent proves nothing here.
    if (m.itemsByPosition.has(d.index)) return false;
    const od = m.old.items[o]!;
    const len = Math.min(od.end - od.start, d.end - d.start);
    for (let k = 0; k < len; ) {
      const a = ou.get(od.start - os.rva + k);
      const b = nu.get(d.start - ns.rva + k);
      if (a !== undefined || b !== undefined) {
        if (a !== b || k + 8 > len) return false;
        k += 8;
        continue;
      }
      if (ob[od.start + k] !== nb[d.start + k]) return false;
      k++;
    }
    if (!blank(ob, ou, os, od.start + len, od.end) || !blank(nb, nu, ns, d.start + len, d.end)) return false;
  }
  return true;
}

/** Differences at equal section offsets, one refusal per NEW item. */
function compareAtOffsets(m: MatchResult, os: MappedSection, ns: MappedSection, ou: ReadonlyMap<number, string>, nu: ReadonlyMap<number, string>): DataChange[] {
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
      oldRva: rvaAdd(os.rva, item === undefined ? k : item.start - ns.rva),
      newRva: item?.start ?? rvaAdd(ns.rva, k),
      size: item === undefined ? 1 : item.end - item.start,
      status: 'changed',
      verdict: 'refused',
      reason:
        sizes !== ''
          ? reason('GLOBAL_LAYOUT_CHANGED', `writable global ${label} changed layout${sizes}: the running image keeps the old layout, so new code would misread it`, item?.start ?? rvaAdd(ns.rva, k))
          : reason('GLOBAL_INITIAL_VALUE_CHANGED', `writable global ${label} changed initial value (or layout): the running image keeps its live copy, so this needs a baseline, not a hotpatch`, item?.start ?? rvaAdd(ns.rva, k)),
    });
  }
  return out;
}

/**
 * The field offsets code uses in each matched global. Offsets only added (a field used for
 * the first time) or only dropped are fine; both at once means fields moved: layout changed.
 */
export function diffOffsetsUsed(m: MatchResult): DataChange[] {
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
      reason: reason('GLOBAL_LAYOUT_CHANGED', `writable global ${label} changed layout: code accesses it at ${fmt(nset)} instead of ${fmt(oset)}`, item.start),
    });
  }
  return out;
}

/** Exports, entry point and TLS: image-level properties a hotpatch cannot change. */
export function diffImageLevel(m: MatchResult, status: readonly FunctionStatus[]): DataChange[] {
  const out: DataChange[] = [];
  const refuse = (code: ReasonCode, message: string, name: string | null = null): void => {
    out.push({ name, section: null, oldRva: null, newRva: null, size: 0, status: 'changed', verdict: 'refused', reason: reason(code, message) });
  };
  const exportsOf = (a: ImageAnalysis): Map<string, number> => {
    const e = new Map<string, number>();
    for (const x of a.img.pe.exports?.entries ?? []) e.set(x.name ?? `#${x.ordinal}`, x.forwarder === null ? x.rva : -1);
    return e;
  };
  const oe = exportsOf(m.old);
  const ne = exportsOf(m.new);
  for (const [name, nr] of ne) {
    const or = oe.get(name);
    if (or === undefined) {
      refuse('EXPORTS_CHANGED', `export ${name} was added: the export table of a loaded image cannot change`, name);
      continue;
    }
    if (nr < 0 || or < 0) {
      if (nr !== or) refuse('EXPORTS_CHANGED', `export ${name} changed between forwarder and definition`, name);
      continue;
    }
    const nf = m.new.fns.containing(nr);
    const of = m.old.fns.containing(or);
    if (nf !== undefined && of !== undefined) {
      if (m.fnNewToOld[nf.index] !== of.index || nr - nf.entry !== or - of.entry) refuse('EXPORTS_CHANGED', `export ${name} now names a different function`, name);
      continue;
    }
    const ni = m.new.itemAt(nr);
    const oi = m.old.itemAt(or);
    if (nf !== undefined || of !== undefined || ni === undefined || oi === undefined) refuse('EXPORTS_CHANGED', `export ${name} changed kind (code/data)`, name);
    else if (ni.writable && m.itemNewToOld[ni.index] !== oi.index) refuse('EXPORTS_CHANGED', `exported data ${name} moved`, name);
  }
  for (const name of oe.keys()) if (!ne.has(name)) refuse('EXPORTS_CHANGED', `export ${name} was removed`, name);

  const oEntry = m.old.img.pe.optionalHeader.addressOfEntryPoint;
  const nEntry = m.new.img.pe.optionalHeader.addressOfEntryPoint;
  const of = m.old.fns.byEntry.get(oEntry);
  const nf = m.new.fns.byEntry.get(nEntry);
  if ((of === undefined) !== (nf === undefined) || (of !== undefined && nf !== undefined && m.fnNewToOld[nf.index] !== of.index)) {
    refuse('ENTRY_POINT_CHANGED', 'the entry point moved to a different function');
  } else if (nf !== undefined && status[nf.index] !== 'unchanged') {
    refuse('ENTRY_POINT_CHANGED', `the entry point function ${nf.name ?? `0x${nEntry.toString(16)}`} changed: it ran at load time and would not run again`);
  }

  const ot = m.old.img.pe.tls;
  const nt = m.new.img.pe.tls;
  if ((ot === null) !== (nt === null)) refuse('TLS_CHANGED', nt === null ? 'TLS directory removed' : 'TLS directory added: thread-local storage cannot be added to a loaded image');
  else if (ot !== null && nt !== null) {
    const osz = ot.endAddressOfRawData - ot.startAddressOfRawData;
    const nsz = nt.endAddressOfRawData - nt.startAddressOfRawData;
    if (osz !== nsz || ot.sizeOfZeroFill !== nt.sizeOfZeroFill) refuse('TLS_CHANGED', `TLS template changed size (0x${osz.toString(16)}+0x${ot.sizeOfZeroFill.toString(16)} -> 0x${nsz.toString(16)}+0x${nt.sizeOfZeroFill.toString(16)})`);
    else {
      const oStart = Number(ot.startAddressOfRawData - m.old.img.imageBase);
      const nStart = Number(nt.startAddressOfRawData - m.new.img.imageBase);
      if (latin1(m.old.img.image.subarray(oStart, oStart + Number(osz))) !== latin1(m.new.img.image.subarray(nStart, nStart + Number(nsz)))) {
        refuse('TLS_CHANGED', 'TLS template contents changed: existing threads keep the old thread-local values');
      }
    }
    if (ot.callbacks.length !== nt.callbacks.length) refuse('TLS_CHANGED', `TLS callbacks changed (${ot.callbacks.length} -> ${nt.callbacks.length})`);
  }
  return out;
}
