/**
 * What the planner knows about the target module, read from the target's memory through a
 * backend (never from the file on disk: the image in the process is what gets patched).
 *
 * `readModuleView` copies every readable page of the module (one query, one read per run
 * of readable pages; unreadable pages read as zero) and parses the mapped headers: the
 * identity fields, the data directories, the base relocations, the imports with their
 * bound IAT values, and the CodeView record. All parsing is bounds-checked; a malformed
 * mapped header is a PLAN_IMAGE error.
 *
 * `preferredView` undoes what loading did to the bytes (base relocations; IAT binding where
 * the import name table is there), giving the image "mapped at its preferred base", the
 * form the package's hashes are computed over.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import { IMAGE_REL_BASED_DIR64, IMAGE_REL_BASED_HIGHLOW } from '../pe/types.ts';
import type { ProcessBackend } from '../plan/backend.ts';
import { isReadable } from './address-space.ts';

/** One import slot of the mapped image: which symbol, where its IAT slot is, what it holds. */
export interface BoundImport {
  readonly dll: string;
  readonly name: string | null;
  readonly ordinal: number | null;
  readonly iatRva: number;
  /** The INT entry (file value of the slot), or null when the descriptor has no INT. */
  readonly intValue: bigint | null;
  /** The slot's value in memory: the bound address. */
  readonly bound: bigint;
}

/** The target module as the planner sees it (see the module comment). */
export interface ModuleView {
  readonly base: Va;
  /** SizeOfImage bytes as in the target; unreadable pages are zero. */
  readonly bytes: Uint8Array;
  readonly machine: number;
  readonly timeDateStamp: number;
  readonly sizeOfImage: number;
  readonly checkSum: number;
  /** ImageBase as the mapped optional header holds it (the loader sets it to the actual base). */
  readonly headerImageBase: bigint;
  /** Where that field is (PE32+ only; null for PE32), so preferredView can put the preferred base back. */
  readonly imageBaseOffset: number | null;
  readonly relocations: readonly { readonly rva: number; readonly type: number }[];
  readonly imports: readonly BoundImport[];
  /**
   * RSDS record: GUID as the 16 bytes stored in the image; null when there is no CodeView
   * debug entry; 'unmapped' when the entry's data is not in the mapped image (only in the
   * file), so memory cannot show it.
   */
  readonly codeView: { readonly guid: Uint8Array; readonly age: number } | 'unmapped' | null;
}

/** Reads and parses the module at `backend.module` (see the module comment). */
export async function readModuleView(backend: ProcessBackend): Promise<Result<ModuleView>> {
  const { base, sizeOfImage } = backend.module;
  const runs = await backend.queryProtection(base, sizeOfImage);
  if (!runs.ok) return runs;
  const bytes = new Uint8Array(sizeOfImage);
  for (const r of runs.value) {
    if (!isReadable(r.protection)) continue;
    const off = Number(r.address - base);
    const len = Math.min(r.size, sizeOfImage - off);
    if (off < 0 || len <= 0) continue;
    const got = await backend.read(r.address, len);
    if (!got.ok) return got;
    bytes.set(got.value, off);
  }
  return parseModuleView(base, bytes);
}

/** Parses a module's mapped bytes (see readModuleView). */
export function parseModuleView(base: Va, bytes: Uint8Array): Result<ModuleView> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fits = (off: number, len: number): boolean => off >= 0 && len >= 0 && off + len <= bytes.length;
  const bad = (what: string, at: number): Result<never> => err('PLAN_IMAGE', `mapped image at ${hex(base)}: ${what}`, at);
  if (!fits(0, 0x40) || dv.getUint16(0, true) !== 0x5a4d) return bad('no MZ header', 0);
  const nt = dv.getUint32(0x3c, true);
  if (!fits(nt, 24) || dv.getUint32(nt, true) !== 0x0000_4550) return bad('no PE signature', nt);
  const machine = dv.getUint16(nt + 4, true);
  const timeDateStamp = dv.getUint32(nt + 8, true);
  const sizeOfOptional = dv.getUint16(nt + 20, true);
  const opt = nt + 24;
  if (!fits(opt, sizeOfOptional) || sizeOfOptional < 2) return bad('truncated optional header', opt);
  const magic = dv.getUint16(opt, true);
  if (magic !== 0x20b && magic !== 0x10b) return bad(`optional header magic ${hex(magic)}`, opt);
  const plus = magic === 0x20b;
  const minOpt = plus ? 112 : 96;
  if (sizeOfOptional < minOpt) return bad('truncated optional header', opt);
  const headerImageBase = plus ? dv.getBigUint64(opt + 24, true) : BigInt(dv.getUint32(opt + 28, true));
  const sizeOfImage = dv.getUint32(opt + 56, true);
  const checkSum = dv.getUint32(opt + 64, true);
  const nDirs = Math.min(dv.getUint32(opt + (plus ? 108 : 92), true), 16, Math.floor((sizeOfOptional - minOpt) / 8));
  const dir = (i: number): { rva: number; size: number } =>
    i < nDirs ? { rva: dv.getUint32(opt + minOpt + i * 8, true), size: dv.getUint32(opt + minOpt + i * 8 + 4, true) } : { rva: 0, size: 0 };

  // Base relocations (directory 5).
  const relocations: { rva: number; type: number }[] = [];
  const rd = dir(5);
  if (rd.size > 0) {
    if (!fits(rd.rva, rd.size)) return bad('relocation directory outside the image', rd.rva);
    for (let at = rd.rva; at + 8 <= rd.rva + rd.size; ) {
      const page = dv.getUint32(at, true);
      const blockSize = dv.getUint32(at + 4, true);
      if (blockSize < 8 || at + blockSize > rd.rva + rd.size) return bad('malformed relocation block', at);
      for (let e = at + 8; e + 2 <= at + blockSize; e += 2) {
        const v = dv.getUint16(e, true);
        const type = v >> 12;
        if (type !== 0) relocations.push({ rva: page + (v & 0xfff), type });
      }
      at += blockSize;
    }
  }

  // Imports (directory 1): names from the INT (or the IAT when there is no INT).
  const imports: BoundImport[] = [];
  const id = dir(1);
  const cstr = (rva: number): string | null => {
    if (!fits(rva, 1)) return null;
    let end = rva;
    while (end < bytes.length && end - rva < 4096 && bytes[end] !== 0) end++;
    return String.fromCharCode(...bytes.subarray(rva, end));
  };
  if (id.size > 0) {
    if (!fits(id.rva, 20)) return bad('import directory outside the image', id.rva);
    for (let d = id.rva; fits(d, 20); d += 20) {
      const intRva = dv.getUint32(d, true);
      const nameRva = dv.getUint32(d + 12, true);
      const iatRva = dv.getUint32(d + 16, true);
      if (intRva === 0 && nameRva === 0 && iatRva === 0) break;
      const dll = cstr(nameRva);
      if (dll === null) return bad('import descriptor names no DLL', d);
      const thunks = intRva !== 0 ? intRva : iatRva;
      for (let i = 0; ; i++) {
        const t = thunks + i * (plus ? 8 : 4);
        const s = iatRva + i * (plus ? 8 : 4);
        if (!fits(t, plus ? 8 : 4) || !fits(s, plus ? 8 : 4)) return bad('import thunk outside the image', t);
        const value = plus ? dv.getBigUint64(t, true) : BigInt(dv.getUint32(t, true));
        if (value === 0n) break;
        const byOrdinal = plus ? (value >> 63n) === 1n : (value >> 31n) === 1n;
        const ordinal = byOrdinal ? Number(value & 0xffffn) : null;
        const name = byOrdinal ? null : cstr(Number(value & 0x7fff_ffffn) + 2);
        const bound = plus ? dv.getBigUint64(s, true) : BigInt(dv.getUint32(s, true));
        imports.push({ dll, name, ordinal, iatRva: s, intValue: intRva !== 0 ? value : null, bound });
        if (i > 0x10000) return bad('import thunk list does not end', t);
      }
    }
  }

  // CodeView (directory 6): the RSDS record, when its data is mapped.
  let codeView: ModuleView['codeView'] = null;
  const dd = dir(6);
  if (dd.size > 0 && fits(dd.rva, dd.size)) {
    for (let e = dd.rva; e + 28 <= dd.rva + dd.size; e += 28) {
      const type = dv.getUint32(e + 12, true);
      const size = dv.getUint32(e + 16, true);
      const rva = dv.getUint32(e + 20, true);
      if (type !== 2) continue;
      if (rva !== 0 && size >= 24 && fits(rva, 24) && dv.getUint32(rva, true) === 0x5344_5352) {
        codeView = { guid: bytes.slice(rva + 4, rva + 20), age: dv.getUint32(rva + 20, true) };
        break;
      }
      if (rva === 0) codeView = 'unmapped';
    }
  }
  return ok({ base, bytes, machine, timeDateStamp, sizeOfImage, checkSum, headerImageBase, imageBaseOffset: plus ? opt + 24 : null, relocations, imports, codeView });
}

/**
 * The module's bytes as if mapped at `preferredBase` with imports unbound: base
 * relocations reversed, the header's ImageBase set back to `preferredBase`, IAT slots given
 * back their INT values. `restore` lists ranges to
 * put back first (the original bytes under redirects an applied patch wrote).
 */
export function preferredView(view: ModuleView, preferredBase: bigint, restore: readonly { readonly rva: number; readonly bytes: Uint8Array }[] = []): Uint8Array {
  const out = view.bytes.slice();
  for (const r of restore) if (r.rva >= 0 && r.rva + r.bytes.length <= out.length) out.set(r.bytes, r.rva);
  const dv = new DataView(out.buffer);
  const delta = BigInt.asUintN(64, preferredBase - view.base);
  if (delta !== 0n) {
    for (const r of view.relocations) {
      if (r.type === IMAGE_REL_BASED_DIR64 && r.rva + 8 <= out.length) dv.setBigUint64(r.rva, BigInt.asUintN(64, dv.getBigUint64(r.rva, true) + delta), true);
      else if (r.type === IMAGE_REL_BASED_HIGHLOW && r.rva + 4 <= out.length) dv.setUint32(r.rva, (dv.getUint32(r.rva, true) + Number(delta & 0xffff_ffffn)) >>> 0, true);
    }
  }
  if (view.imageBaseOffset !== null) dv.setBigUint64(view.imageBaseOffset, preferredBase, true);
  for (const imp of view.imports) {
    if (imp.intValue === null || imp.iatRva + 8 > out.length) continue;
    dv.setBigUint64(imp.iatRva, imp.intValue, true);
  }
  return out;
}

/** The VA of an RVA in this module. */
export function vaIn(view: ModuleView, rva: number): Va {
  return asVa(view.base + BigInt(rva));
}
