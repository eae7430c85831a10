/**
 * Planning, the patch region's bytes: import addresses (through the image's own import
 * table first, else the backend's resolver), every block with its fixups applied, the unwind
 * info blobs with theirs, and the sorted RUNTIME_FUNCTION table. Where each fixup's target
 * lives (S) is decided here; the fields are written, with their range checks, by the wasm
 * core (runtime/pe/apply-fixups.ts).
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import type { Fixup, HotpatchPackage } from '../../formats/package.ts';
import type { ModuleView } from '../image/module-view.ts';
import { applyFixups, type ResolvedFixup } from '../pe/apply-fixups.ts';
import type { ProcessBackend } from './backend.ts';
import type { RegionLayout } from './layout-region.ts';
import { now } from './timing.ts';

/** Where the patch region and the image are: what fixup targets resolve against. */
export interface RegionPlace {
  readonly base: Va;
  readonly sizeOfImage: number;
  readonly region: Va;
  /** Base of the package's function table: min(region, image base). */
  readonly unwindBase: Va;
}

/** The address of each of the package's imports, in order. */
export async function resolveImports(pkg: HotpatchPackage, view: ModuleView, backend: ProcessBackend): Promise<Result<Va[]>> {
  const importAddr: Va[] = [];
  for (const imp of pkg.imports) {
    const name = imp.symbol.kind === 'name' ? imp.symbol.name : null;
    const ordinal = imp.symbol.kind === 'ordinal' ? imp.symbol.ordinal : null;
    const known = view.imports.find((i) => i.dll.toLowerCase() === imp.dll.toLowerCase() && (name !== null ? i.name === name : i.ordinal === ordinal));
    if (known !== undefined) importAddr.push(asVa(known.bound));
    else {
      const r = await backend.resolveImport(imp.dll, name, ordinal);
      if (!r.ok) return r;
      importAddr.push(r.value);
    }
  }
  return ok(importAddr);
}

/** The unwind info a fixup sits in (its address and length), or null outside unwind data. */
type UnwindInfoPlace = { readonly va: bigint; readonly length: number } | null;

/** S, the address a fixup's target resolves to; `where` names the fixup in a refusal. */
export function fixupSymbol(f: Fixup, where: string, unwindInfo: UnwindInfoPlace, layout: RegionLayout, place: RegionPlace, importAddr: readonly Va[]): Result<bigint> {
  const tg = f.target;
  switch (tg.kind) {
    case 'unwind':
      if (unwindInfo === null || tg.offset > unwindInfo.length) return err('PLAN_FIXUP', `${where}: unwind target +${hex(tg.offset)} is not inside this block's unwind info`);
      return ok(unwindInfo.va + BigInt(tg.offset));
    case 'image':
      if (tg.rva >= place.sizeOfImage) return err('PLAN_FIXUP', `${where}: target RVA ${hex(tg.rva)} is outside the image`);
      return ok(place.base + BigInt(tg.rva));
    case 'block': {
      const b = layout.placed.get(tg.blockId);
      if (b === undefined || tg.offset > b.bytes.length) return err('PLAN_FIXUP', `${where}: target block ${tg.blockId}+${hex(tg.offset)} does not exist`);
      return ok(place.region + BigInt(b.offset + tg.offset));
    }
    case 'import-slot':
      if (tg.index >= importAddr.length) return err('PLAN_FIXUP', `${where}: import ${tg.index} does not exist`);
      return ok(place.region + BigInt(layout.importSlotsOffset + tg.index * 8));
    case 'import-address': {
      const a = importAddr[tg.index];
      if (a === undefined) return err('PLAN_FIXUP', `${where}: import ${tg.index} does not exist`);
      return ok(a);
    }
  }
}

/**
 * The region's bytes: import slots, blocks with fixups applied, unwind info and the sorted
 * RUNTIME_FUNCTION table (entries relative to the unwind base: the OS binary-searches it).
 * `blockMs` gains each code block's fixup time.
 */
export function fillRegion(pkg: HotpatchPackage, layout: RegionLayout, place: RegionPlace, importAddr: readonly Va[], blockMs: Map<number, number>): Result<Uint8Array> {
  const { region, unwindBase, base } = place;
  const regionBytes = new Uint8Array(layout.regionSize);
  const vaAt = (offset: number): Va => asVa(region + BigInt(offset));
  const rdv = new DataView(regionBytes.buffer);
  importAddr.forEach((a, i) => rdv.setBigUint64(layout.importSlotsOffset + i * 8, a, true));
  const resolve = (fixups: readonly Fixup[], what: string, unwindInfo: UnwindInfoPlace = null): ResolvedFixup[] =>
    fixups.map((f, i) => ({ kind: f.kind, offset: f.offset, addend: f.addend, symbol: fixupSymbol(f, `${what} ${i}`, unwindInfo, layout, place, importAddr) }));
  for (const b of layout.placed.values()) {
    const ts = now();
    const done = applyFixups(b.bytes, resolve(b.fixups, `block ${b.id} fixup`), { blockId: b.id, container: 'block', blockVa: vaAt(b.offset), unwindBase, imageBase: base });
    if (!done.ok) return done;
    regionBytes.set(done.value, b.offset);
    if (b.code) blockMs.set(b.id, (blockMs.get(b.id) ?? 0) + now() - ts);
  }
  const entries: [number, number, number][] = [];
  for (const c of layout.unwindBlocks) {
    const u = c.unwind!;
    const b = layout.placed.get(c.id)!;
    const infoOff = layout.unwindInfoOffsets.get(c.id)!;
    const info = applyFixups(u.unwindInfo, resolve(u.unwindFixups, `block ${c.id} unwind fixup`, { va: region + BigInt(infoOff), length: u.unwindInfo.length }), { blockId: c.id, container: 'unwind', blockVa: vaAt(infoOff), unwindBase, imageBase: base });
    if (!info.ok) return info;
    regionBytes.set(info.value, infoOff);
    for (const rf of u.runtimeFunctions) {
      const rel = (o: number): number => Number(region + BigInt(o) - unwindBase);
      if (rf.endOffset > b.bytes.length || rf.beginOffset >= rf.endOffset || rf.unwindInfoOffset >= u.unwindInfo.length) {
        return err('PLAN_UNWIND', `block ${c.id}: RUNTIME_FUNCTION ${hex(rf.beginOffset)}..${hex(rf.endOffset)} is outside its block or info`);
      }
      entries.push([rel(b.offset + rf.beginOffset), rel(b.offset + rf.endOffset), rel(infoOff + rf.unwindInfoOffset)]);
    }
  }
  entries.sort((x, y) => x[0] - y[0]);
  entries.forEach(([begin, end, info], i) => {
    rdv.setUint32(layout.tableOffset + i * 12, begin, true);
    rdv.setUint32(layout.tableOffset + i * 12 + 4, end, true);
    rdv.setUint32(layout.tableOffset + i * 12 + 8, info, true);
  });
  if (region + BigInt(layout.regionSize) - unwindBase > 0xffff_ffffn) return err('PLAN_UNWIND', `patch region ${hex(region)} is more than 4 GB from unwind base ${hex(unwindBase)}`);
  return ok(regionBytes);
}
