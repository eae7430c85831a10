/**
 * MSVC's static initialisers, found from code and base relocations alone (a stripped image
 * keeps no `.CRT$X*` section names), as load-time roots (load-time-only.ts).
 *
 * MSVC puts C++ dynamic initialisers in `.CRT$XCU` and C initialisers in `.CRT$XIU`
 * (between the CRT's `.CRT$XCA`/`.CRT$XCZ` and `.CRT$XIA`/`.CRT$XIZ` null sentinels), merged
 * in name order into .rdata: `__xc_a, C++ initialisers, __xc_z, __xi_a, C initialisers,
 * __xi_z`, then the TLS callbacks (`.CRT$XL*`), then the pre-terminators and terminators
 * (`.CRT$XP*`, `.CRT$XT*`), each a null-bounded run of relocated pointers. The CRT's startup
 * (dllmain_crt_process_attach, __scrt_common_main_seh: reached from the entry point by direct
 * calls) walks the two initialiser arrays once, `_initterm_e(__xi_a, __xi_z)` then
 * `_initterm(__xc_a, __xc_z)`; the static ucrt's exit walks the terminators with
 * `_initterm(__xp_a, __xp_z)` from another function. So the initialiser arrays are the ones
 * whose bounds the function passing the lowest array's bounds passes, before the TLS callback
 * array when there is one (bufferutil 4.0.8: 0x182d0 and 0x182b8 from 0x1700, its
 * terminators 0x182f8 from 0x6384).
 *
 * code-tables.ts leaves such arrays out of the tables objects keep by the same shape (two
 * bounds passed to a call, addressUse).
 */
import { asRva, type Rva } from '../../common/types.ts';
import { codePointerAt, readU32, sectionAt } from '../image/map-image.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import { addressUse } from './code-tables.ts';

/** An `_initterm` array: its bounds, the call that walks it, its slots and their targets. */
export interface InittermArray {
  /** RVA of its first slot (`__xc_a`, `__xi_a`: a null sentinel) and of its end (`__xc_z`). */
  readonly start: Rva;
  readonly end: Rva;
  /** RVA of the function passing the bounds to the call, and of the second `lea`. */
  readonly caller: Rva;
  readonly site: Rva;
  /** RVA of each non-null slot (a relocated pointer into code), in array order. */
  readonly slots: readonly Rva[];
  /** The code RVA each slot points at, in array order. */
  readonly targets: readonly Rva[];
}

/** Most slots an array may have (the CRT's own and every translation unit's initialiser). */
const MAX_SLOTS = 8192;
/** Most instructions between the two `lea`s (no call between them). */
const MAX_GAP = 3;

/** The slots and targets of [start, end) when every 8-byte word is 0 or a relocated code pointer, with one at least; else null. */
function readArray(a: ImageAnalysis, start: number, end: number): { slots: Rva[]; targets: Rva[] } | null {
  if (end <= start || (end - start) % 8 !== 0 || (end - start) / 8 > MAX_SLOTS) return null;
  const sec = sectionAt(a.img, start);
  if (sec === undefined || sec.executable || sec.writable || end > sec.rva + Math.min(sec.size, sec.rawSize)) return null;
  const slots: Rva[] = [];
  const targets: Rva[] = [];
  for (let p = start; p < end; p += 8) {
    if (!a.img.relocs.has(p)) {
      if (readU32(a.img, p) !== 0 || readU32(a.img, p + 4) !== 0 || a.img.relocs.has(p + 4)) return null;
      continue;
    }
    const t = codePointerAt(a.img, p);
    if (t < 0) return null;
    slots.push(asRva(p));
    targets.push(asRva(t));
  }
  return targets.length > 0 ? { slots, targets } : null;
}

/** Indices of the functions the entry point reaches through direct calls and jumps. */
function entryClosure(a: ImageAnalysis): Set<number> {
  const out = new Set<number>();
  const first = a.fns.containing(a.img.pe.optionalHeader.addressOfEntryPoint);
  if (a.img.pe.optionalHeader.addressOfEntryPoint === 0 || first === undefined) return out;
  const queue = [first.index];
  out.add(first.index);
  for (let q = 0; q < queue.length; q++) {
    for (const r of a.fns.functions[queue[q]!]!.decoded.refs) {
      const g = r.isBranch ? a.fns.containing(r.target) : undefined;
      if (g === undefined || out.has(g.index)) continue;
      out.add(g.index);
      queue.push(g.index);
    }
  }
  return out;
}

/**
 * The initialiser arrays of an MSVC image, in address order (empty for other images): the
 * `_initterm` arrays whose bounds the CRT's startup passes (see the file comment).
 */
export function findMsvcInitializers(a: ImageAnalysis): InittermArray[] {
  const all = findInittermArrays(a);
  const first = all[0];
  if (first === undefined) return [];
  const tls = a.img.pe.tls;
  const callbacks = tls === null || tls.callbacks.length === 0 ? Infinity : Number(tls.addressOfCallBacks - a.img.imageBase);
  return all.filter((x) => x.caller === first.caller && x.end <= callbacks);
}

/**
 * Every `_initterm` array the entry point's direct closure walks, in address order: two
 * `lea`s of read-only addresses a few instructions apart, no call between them, both passed
 * to the call after them, bounding 8-byte words that are each 0 or a relocated pointer into
 * code, one such pointer at least.
 */
export function findInittermArrays(a: ImageAnalysis): InittermArray[] {
  const out = new Map<number, InittermArray>();
  for (const k of entryClosure(a)) {
    const f = a.fns.functions[k]!;
    const leas = f.decoded.refs.filter((r) => r.kind === 'riprel32' && !r.isBranch && !r.accessesTarget);
    const index = new Map<number, number>(f.decoded.insns.map((d, i) => [d.rva, i]));
    const calls = new Set(f.decoded.refs.filter((r) => r.isCall).map((r) => index.get(r.insnRva) ?? -1));
    for (let x = 0; x < leas.length; x++) {
      for (let y = x + 1; y < leas.length; y++) {
        const i = index.get(leas[x]!.insnRva);
        const j = index.get(leas[y]!.insnRva);
        if (i === undefined || j === undefined || j - i > MAX_GAP) break;
        if ([...calls].some((c) => c >= i && c < j)) break;
        const start = Math.min(leas[x]!.target, leas[y]!.target);
        const end = Math.max(leas[x]!.target, leas[y]!.target);
        if (out.has(start)) continue;
        const run = readArray(a, start, end);
        if (run === null) continue;
        if (addressUse(a.img.image, f, leas[x]!.insnRva) !== 'call' || addressUse(a.img.image, f, leas[y]!.insnRva) !== 'call') continue;
        out.set(start, { start: asRva(start), end: asRva(end), caller: f.entry, site: leas[y]!.insnRva, ...run });
      }
    }
  }
  return [...out.values()].sort((p, q) => p.start - q.start);
}
