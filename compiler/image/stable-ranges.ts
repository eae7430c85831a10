/**
 * Which bytes of OLD a package may rely on in a running process. The target identity (the
 * relied-on bytes hash) and the original-bytes checks are made against the module as it is in
 * memory, possibly long after it was loaded. They must rest only on bytes that neither the
 * loader nor the program changes: code and read-only data, compared after relocation is
 * undone and imports are unbound (runtime/image/module-view.ts: preferredView).
 *
 * Unstable, so never relied on:
 * - writable sections (the program's globals, .bss, delay-load IATs, MSVC's .fptable);
 * - every IAT slot, normal and delay-load, and the IAT directory (bound by the loader; a
 *   delay-load helper binds on first call; with "protect delay-load IAT" they sit in a
 *   section that headers call read-only);
 * - the load configuration's pointer slots the loader fills: the security cookie, the CFG and
 *   XFG check/dispatch function pointers, the return-flow guard pointers, the memcpy guard;
 * - the TLS template and the TLS index slot (each thread gets a copy; the loader writes the index).
 *
 * Pure over the mapped image; the emitter subtracts these ranges from what it relies on
 * (emit/emit-package.ts) and the build checks the result (checkStableRelied).
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { REDIRECT_PAD_LENGTH, REDIRECT_SITE_LENGTH, type HotpatchPackage } from '../../formats/package.ts';
import type { MappedImage } from './map-image.ts';

/** A half-open RVA range [start, end). */
export type RvaSpan = readonly [number, number];

/** IMAGE_DIRECTORY_ENTRY_IAT and _LOAD_CONFIG. */
const DIR_IAT = 12;
const DIR_LOAD_CONFIG = 10;

/** Offsets of loader-written pointer slots in IMAGE_LOAD_CONFIG_DIRECTORY64 (each a VA of an 8-byte slot). */
const LOAD_CONFIG_SLOT_FIELDS: readonly { readonly offset: number; readonly name: string }[] = [
  { offset: 0x58, name: 'SecurityCookie' },
  { offset: 0x70, name: 'GuardCFCheckFunctionPointer' },
  { offset: 0x78, name: 'GuardCFDispatchFunctionPointer' },
  { offset: 0xd8, name: 'GuardRFFailureRoutineFunctionPointer' },
  { offset: 0xe8, name: 'GuardRFVerifyStackPointerFunctionPointer' },
  { offset: 0x118, name: 'GuardXFGCheckFunctionPointer' },
  { offset: 0x120, name: 'GuardXFGDispatchFunctionPointer' },
  { offset: 0x128, name: 'GuardXFGTableDispatchFunctionPointer' },
  { offset: 0x138, name: 'GuardMemcpyFunctionPointer' },
];

/** One unstable range and why. */
export interface UnstableRange {
  readonly start: number;
  readonly end: number;
  readonly why: string;
}

/** Every range of `img` a package must not rely on (see the module comment), sorted by start. */
export function unstableRanges(img: MappedImage): UnstableRange[] {
  const out: UnstableRange[] = [];
  const size = img.image.length;
  const add = (start: number, end: number, why: string): void => {
    const s = Math.max(0, start);
    const e = Math.min(size, end);
    if (e > s) out.push({ start: s, end: e, why });
  };
  for (const s of img.sections) if (s.writable) add(s.rva, s.rva + s.size, `writable section ${s.name}`);
  for (const slot of img.iat.keys()) add(slot, slot + 8, 'IAT slot');
  for (const d of img.pe.imports) for (const sym of d.symbols) add(sym.iatRva, sym.iatRva + 8, d.delayed ? 'delay-load IAT slot' : 'IAT slot');
  const iatDir = img.pe.dataDirectories[DIR_IAT];
  if (iatDir !== undefined && iatDir.size > 0) add(iatDir.virtualAddress, iatDir.virtualAddress + iatDir.size, 'IAT directory');
  const lcDir = img.pe.dataDirectories[DIR_LOAD_CONFIG];
  if (lcDir !== undefined && lcDir.size > 0 && img.pe.optionalHeader.magic === 0x20b) {
    const at = lcDir.virtualAddress;
    const dv = new DataView(img.image.buffer, img.image.byteOffset, img.image.byteLength);
    const lcSize = at + 4 <= size ? dv.getUint32(at, true) : 0;
    for (const f of LOAD_CONFIG_SLOT_FIELDS) {
      if (f.offset + 8 > lcSize || at + f.offset + 8 > size) continue;
      const va = dv.getBigUint64(at + f.offset, true);
      if (va === 0n || va < img.imageBase) continue;
      const rva = va - img.imageBase;
      if (rva < BigInt(size)) add(Number(rva), Number(rva) + 8, `load config ${f.name} slot`);
    }
  }
  const tls = img.pe.tls;
  if (tls !== null) {
    const rvaOf = (va: bigint): number => (va >= img.imageBase && va - img.imageBase < BigInt(size) ? Number(va - img.imageBase) : -1);
    const s = rvaOf(tls.startAddressOfRawData);
    const e = rvaOf(tls.endAddressOfRawData);
    if (s >= 0 && e > s) add(s, e, 'TLS template');
    const idx = rvaOf(tls.addressOfIndex);
    if (idx >= 0) add(idx, idx + 4, 'TLS index slot');
  }
  return out.sort((a, b) => a.start - b.start);
}

/** `ranges` (any order, may overlap) minus every unstable range: sorted, merged, non-empty pieces. */
export function subtractUnstable(ranges: readonly RvaSpan[], unstable: readonly UnstableRange[]): Array<[number, number]> {
  const merged: Array<[number, number]> = [];
  for (const [s, e] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = merged[merged.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else if (e > s) merged.push([s, e]);
  }
  const out: Array<[number, number]> = [];
  for (const [s, e] of merged) {
    let cur = s;
    for (const u of unstable) {
      if (u.end <= cur || u.start >= e) continue;
      if (u.start > cur) out.push([cur, u.start]);
      cur = Math.max(cur, u.end);
      if (cur >= e) break;
    }
    if (cur < e) out.push([cur, e]);
  }
  return out;
}

/** The first unstable range `[start, end)` overlaps, or undefined. */
export function unstableOverlap(start: number, end: number, unstable: readonly UnstableRange[]): UnstableRange | undefined {
  return unstable.find((u) => u.start < end && u.end > start);
}

/**
 * Checks a package against OLD: its relied ranges hold no unstable byte, and every byte it
 * must check before writing (redirect sites and pads, delta bases) is one it relies on, so
 * the checks rest only on bytes a running process keeps. A redirect site in a writable code
 * section is refused here: the program may rewrite those bytes itself.
 */
export function checkStableRelied(img: MappedImage, pkg: HotpatchPackage): Result<void> {
  const unstable = unstableRanges(img);
  const hex = (n: number): string => `0x${n.toString(16)}`;
  for (const r of pkg.target.reliedRanges) {
    const u = unstableOverlap(r.rva, r.rva + r.length, unstable);
    if (u !== undefined)
      return err('BUILD_UNSTABLE_RELIED', `the package relies on ${hex(r.rva)}+${r.length}, which overlaps a ${u.why} (${hex(u.start)}..${hex(u.end)}) that a running process changes`);
  }
  const need: { what: string; start: number; end: number }[] = [];
  for (const r of pkg.redirects) {
    need.push({ what: `redirect site ${hex(r.oldRva)}`, start: r.oldRva, end: r.oldRva + REDIRECT_SITE_LENGTH[r.kind] });
    if (r.pad !== null) need.push({ what: `redirect pad ${hex(r.pad.rva)}`, start: r.pad.rva, end: r.pad.rva + REDIRECT_PAD_LENGTH });
  }
  for (const b of [...pkg.codeBlocks, ...pkg.dataBlocks])
    if (b.bytes.kind === 'delta') need.push({ what: `delta base of block ${b.id}`, start: b.bytes.base.rva, end: b.bytes.base.rva + b.bytes.base.length });
  for (const n of need) {
    const u = unstableOverlap(n.start, n.end, unstable);
    if (u !== undefined) return err('BUILD_UNSTABLE_RELIED', `${n.what} lies in a ${u.why} (${hex(u.start)}..${hex(u.end)}): a running process may change those bytes, so they cannot be checked before patching`);
  }
  return ok(undefined);
}
