/**
 * The reference check: an address `actual` on the paper image is a correct image of NEW
 * address `t` when it reaches, through the match, what `t` reaches in NEW: the carried body
 * of a carried function for a branch, its redirected old entry for any reference (the only
 * image of an address taken as a value: checkFunctionTarget), the same unchanged
 * function or matched global in OLD, an import's slot, or an image of a read-only item.
 *
 * Each read-only item of NEW the package reaches has exactly one image (its placement): the
 * start and the end of an array must land in the same copy, or a `p != end` loop runs off.
 * Pointer graphs in read-only data have cycles (type_info <-> vtables): an item already
 * placed is assumed to hold (coinduction); any mismatch elsewhere still fails.
 */
import { ok, type Result } from '../../common/errors.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import type { ImageDiff } from '../diff/types.ts';
import { absTarget, relocsIn, type MappedImage } from '../image/map-image.ts';
import { IMAGE_REL_BASED_DIR64 } from '../../runtime/pe/types.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import { importKey } from '../match/import-identity.ts';
import { delayDescriptorDll, delayDescriptorOf } from '../image/delay-imports.ts';
import { thunkImport } from '../image/import-thunks.ts';
import { loaderOnlyCell } from '../match/loader-only-cells.ts';
import { oldRvaByLayout } from '../match/writable-layout.ts';
import { untouchedByOldCode } from '../diff/untouched-old.ts';
import { comparedLength } from '../diff/relative-table-extent.ts';
import { mismatch, newPointerTarget, type PaperImage } from './paper-image.ts';
import { relativeEntryChecks } from './relative-entries.ts';

/** A carried NEW function: where its block puts it and the block offset of each range. */
export interface CarriedFunction {
  readonly fn: FunctionInfo;
  readonly addr: bigint;
  readonly offsets: readonly number[];
}

const describe = (rva: number): string => `read-only data at 0x${rva.toString(16)}`;

/**
 * How an address at the start of an item is read. `value`: as any address, so it may also be
 * one past the end of the item before it (`&arr[N]`). `access`: an instruction's load or store
 * at it (disasm/memory-access.ts), or a handler-data field naming a TypeDescriptor: it names
 * the writable item starting there (as resolve-target.ts reads it). `field`: an image-relative
 * RVA field of recognised MSVC throw data (functions/msvc-throw-info.ts), whose role fixes
 * what it names (a CatchableTypeArray, a CatchableType, a TypeDescriptor): the structure
 * starting there, read-only or writable, never the end of the one before it.
 */
type Reading = 'value' | 'access' | 'field';

/** Checks addresses on the paper image against the NEW addresses they stand for. */
export class TargetChecker {
  /** Read-only item slot (`pkg:` or `old:` + index) -> where its image starts. */
  private readonly placed = new Map<string, bigint>();
  /** Pointer obligations uncovered while placing items, checked from a worklist. */
  private readonly pending: Array<{ t: number; actual: bigint; what: string; fromOld: boolean; reading?: Reading }> = [];
  private readonly oldImg: MappedImage;
  private readonly newImg: MappedImage;
  private readonly imageBase: bigint;

  constructor(
    private readonly diff: ImageDiff,
    private readonly pkg: HotpatchPackage,
    private readonly paper: PaperImage,
    private readonly carried: ReadonlyMap<number, CarriedFunction>,
    /** NEW entries the package declares it left out on purpose (--skip-refused). */
    private readonly leftOut: ReadonlySet<number>,
  ) {
    this.oldImg = diff.match.old.img;
    this.newImg = diff.match.new.img;
    this.imageBase = paper.imageBase;
  }

  /**
   * Checks `t` -> `actual` and every pointer obligation it uncovers. `branch`: `actual` is the
   * target of a direct call or jump (or of the exception runtime), never seen as a value;
   * otherwise (and for every pointer in data) it is an address the program may compare.
   */
  check(t: number, actual: bigint, what: string, access = false, branch = false): Result<void> {
    let r = this.checkOne(t, actual, what, false, access ? 'access' : 'value', branch);
    while (r.ok && this.pending.length > 0) {
      const o = this.pending.pop()!;
      r = this.checkOne(o.t, o.actual, `${what} -> pointer in ${o.what}`, o.fromOld, o.reading);
    }
    this.pending.length = 0;
    return r;
  }

  /** A handler RVA: an import thunk no function owns reaches an OLD thunk of the same import. */
  checkHandler(t: number, actual: bigint, what: string): Result<void> {
    const ni = this.diff.match.new.fns.containing(t) === undefined ? thunkImportKey(this.newImg, t) : undefined;
    if (ni === undefined) return this.check(t, actual, what, false, true);
    const rva = actual - this.imageBase;
    if (rva < 0n || rva >= BigInt(this.oldImg.image.length)) return mismatch(`${what}: does not reach OLD`);
    return thunkImportKey(this.oldImg, Number(rva)) === ni ? ok(undefined) : mismatch(`${what}: does not reach an OLD thunk of ${ni}`);
  }

  /**
   * OLD's own data (an RVA field of a CatchableType or FH4 HandlerType that the package does
   * not touch) reaches an OLD loader-only cell (an MSVC TypeDescriptor's type_info pointer,
   * which only RVA fields reach): it means what NEW's cell means when it is a loader-only
   * cell of the same extent whose pointer reaches what NEW's pointer means. Null when it is
   * not such a cell.
   */
  private oldCellMeansSame(item: DataItem, t: number, actual: bigint, what: string): Result<void> | null {
    const m = this.diff.match;
    const oldRva = Number(actual - this.imageBase) - (t - item.start);
    const oc = m.old.itemAt(oldRva);
    if (oc === undefined || oc.start !== oldRva || oc.end - oc.start !== item.end - item.start || !loaderOnlyCell(m.old, oc)) return null;
    const newTarget = absTarget(this.newImg, item.start, IMAGE_REL_BASED_DIR64);
    const oldTarget = absTarget(this.oldImg, oc.start, IMAGE_REL_BASED_DIR64);
    if (newTarget < 0 || oldTarget < 0) return null;
    return this.checkOne(newTarget, this.imageBase + BigInt(oldTarget), `${what} -> loader-only cell`, true);
  }

  // `fromOld`: the obligation comes from a pointer inside OLD's own data, not from the package;
  // such an item may have its own image in OLD besides the one the package gives it.
  // `reading`: whether an item start may also be the end of the item before it (Reading).
  private checkOne(t: number, actual: bigint, what: string, fromOld = false, reading: Reading = 'value', branch = false): Result<void> {
    const m = this.diff.match;
    const B = this.imageBase;
    const newImg = this.newImg;
    const g = m.new.fns.containing(t);
    if (t === 0) return actual === B ? ok(undefined) : mismatch(`${what}: expected __ImageBase`);
    if (t < newImg.pe.optionalHeader.sizeOfHeaders && newImg.sections.every((s) => t < s.rva)) {
      return actual === B + BigInt(t) ? ok(undefined) : mismatch(`${what}: expected the PE headers +0x${t.toString(16)}`);
    }
    const imp = newImg.iat.get(t);
    if (imp !== undefined) {
      for (const [slot, o] of this.oldImg.iat) if (importKey(o) === importKey(imp) && actual === B + BigInt(slot)) return ok(undefined);
      const i = this.pkg.imports.findIndex((x) => x.dll === imp.dll && (x.symbol.kind === 'name' ? x.symbol.name : `#${x.symbol.ordinal}`) === imp.symbol);
      return i >= 0 && actual === this.paper.importSlotVa[i] ? ok(undefined) : mismatch(`${what}: does not reach import ${imp.dll}!${imp.symbol}`);
    }
    if (g !== undefined) return this.checkFunctionTarget(g, t, actual, what, branch);
    const delayed = delayDescriptorDll(newImg, t);
    if (delayed !== null) {
      const od = delayDescriptorOf(this.oldImg, delayed);
      return od !== null && actual === B + BigInt(od) ? ok(undefined) : mismatch(`${what}: does not reach OLD's delay-load descriptor of ${delayed}`);
    }
    const item = m.new.itemAt(t);
    if (item === undefined) {
      const edge = newImg.sections.find((s) => s.rva + s.size === t);
      const oe = edge === undefined ? undefined : this.oldImg.sections.find((s) => s.name === edge.name);
      if (oe === undefined || actual !== B + BigInt(oe.rva + oe.size)) return mismatch(`${what}: NEW target 0x${t.toString(16)} is not a known object`);
      // A section's end is also one past the end of its last item: that reading must hold too.
      const last = m.new.itemAt(t - 1);
      return last === undefined || last.end !== t ? ok(undefined) : this.endOf(last, actual, what, fromOld);
    }
    if (item.writable) {
      const o = m.itemNewToOld[item.index]!;
      const oi = o < 0 ? undefined : m.old.items[o];
      const byLayout = oi === undefined ? oldRvaByLayout(m, item, t, untouchedByOldCode(m, this.diff.newStatus)) : null;
      if (byLayout !== null) return actual === B + BigInt(byLayout) ? ok(undefined) : mismatch(`${what}: does not reach the old global at the same place in an unchanged section`);
      if (oi === undefined && loaderOnlyCell(m.new, item)) {
        // A new loader-only cell: only the package's copy (its pointer checked by meaning) will do.
        if (actual >= B && actual < B + BigInt(this.oldImg.image.length)) {
          const same = fromOld ? this.oldCellMeansSame(item, t, actual, what) : null;
          return same ?? mismatch(`${what}: a loader-only cell with no counterpart must be the package's copy`);
        }
        return this.placeItem(item, actual - BigInt(t - item.start), what, false);
      }
      if (oi === undefined || actual !== B + BigInt(oi.start + (t - item.start))) return mismatch(`${what}: does not reach the matched old global`);
      const prev = t === item.start && reading === 'value' ? m.new.items[item.index - 1] : undefined;
      return prev !== undefined && prev.writable && prev.end === t && prev.section === item.section ? this.endOf(prev, actual, what, fromOld) : ok(undefined);
    }
    // Read-only: `t` means (item, offset). Item extents are inferred, so an address that
    // starts an item may equally be one past the end of the read-only item just before it
    // (`&table[N]`): the image must then hold both, the previous item ending exactly at actual.
    const prev = t === item.start && reading !== 'field' ? m.new.items[item.index - 1] : undefined;
    if (prev !== undefined && !prev.writable && prev.end === t && prev.section === item.section) {
      const r = this.endOf(prev, actual, what, fromOld);
      if (!r.ok) return r;
    }
    return this.placeItem(item, actual - BigInt(t - item.start), what, fromOld);
  }

  /**
   * `t` lies in NEW function `g`: the carried body, or the same place in the unchanged old one.
   * The entry of a carried function whose OLD entry is redirected to its body has two images:
   * a branch may take either, an address taken as a value only the OLD entry, the one OLD's
   * code and data hold (in NEW one function has one address; resolve-target.ts canonicalEntry).
   */
  private checkFunctionTarget(g: FunctionInfo, t: number, actual: bigint, what: string, branch: boolean): Result<void> {
    const m = this.diff.match;
    const B = this.imageBase;
    const c = this.carried.get(g.index);
    if (c !== undefined) {
      const name = g.name ?? `0x${g.entry.toString(16)}`;
      const o = m.fnNewToOld[g.index]!;
      let oldEntry: number | null = null;
      if (t === g.entry && o >= 0) {
        const oe = m.old.fns.functions[o]!.entry;
        const rd = this.pkg.redirects.find((r) => r.oldRva === oe);
        const rec = this.pkg.functions.find((r) => r.newRva === g.entry);
        if (rd !== undefined && rec !== undefined && rd.target.blockId === rec.blockId && rd.target.offset === rec.blockOffset) oldEntry = oe;
      }
      if (oldEntry !== null && actual === B + BigInt(oldEntry)) return ok(undefined);
      for (let i = 0; i < g.ranges.length; i++) {
        const r = g.ranges[i]!;
        if (t >= r.start && t < r.end && actual === c.addr + BigInt(c.offsets[i]! + (t - r.start))) {
          if (oldEntry !== null && !branch) return mismatch(`${what}: takes the address of ${name} as a value, which must be its redirected OLD entry (0x${oldEntry.toString(16)}), not its new body: OLD's code and data hold the old one`);
          return ok(undefined);
        }
      }
      return mismatch(`${what}: does not reach the carried body of ${name}`);
    }
    const o = m.fnNewToOld[g.index]!;
    if (o < 0) return mismatch(`${what}: reaches a new function the package does not carry`);
    const og = m.old.fns.functions[o]!;
    // Reaching the old function is right only when it is unchanged (or a refused change the
    // package leaves out on purpose, which the build reported).
    const st = this.diff.newStatus[g.index];
    const skipped = this.leftOut.has(g.entry) || this.diff.functions.some((x) => x.newIndex === g.index && x.verdict === 'refused');
    if (st !== 'unchanged' && !skipped) return mismatch(`${what}: reaches old ${g.name ?? `0x${g.entry.toString(16)}`}, which changed`);
    if (st === 'unchanged' && m.oldNorm.functionForm(og, 'exact') !== m.newNorm.functionForm(g, 'exact')) return mismatch(`${what}: old and new ${g.name ?? ''} differ`);
    for (let i = 0; i < g.ranges.length; i++) {
      const r = g.ranges[i]!;
      const or = og.ranges[i];
      if (t >= r.start && t < r.end && or !== undefined && actual === B + BigInt(or.start + (t - r.start))) return ok(undefined);
    }
    return mismatch(`${what}: does not reach old ${g.name ?? `0x${og.entry.toString(16)}`}`);
  }

  /** Checks that `actual` is one past the end of the image of NEW item `item`. */
  private endOf(item: DataItem, actual: bigint, what: string, fromOld: boolean): Result<void> {
    const m = this.diff.match;
    const B = this.imageBase;
    const size = BigInt(item.end - item.start);
    if (!item.writable) return this.placeItem(item, actual - size, `${what} (as the end of ${describe(item.start)})`, fromOld);
    const o = m.itemNewToOld[item.index]!;
    if (o < 0) {
      // Unmatched: the old global ending at actual must be unmatched too and of the same size.
      const rva = actual - B;
      const oi = rva > 0n && rva <= BigInt(this.oldImg.image.length) ? m.old.itemAt(Number(rva) - 1) : undefined;
      if (oi !== undefined && oi.writable && BigInt(oi.end) === rva && m.itemOldToNew[oi.index]! < 0 && BigInt(oi.end - oi.start) === size) return ok(undefined);
      return mismatch(`${what}: is not the end of an unmatched old global of the size of the one before it (0x${item.start.toString(16)} in NEW)`);
    }
    const oi = m.old.items[o];
    return oi !== undefined && actual === B + BigInt(oi.start) + size ? ok(undefined) : mismatch(`${what}: is not the end of the matched old global before it (0x${item.start.toString(16)} in NEW)`);
  }

  /** Checks that read-only `item` of NEW is placed at `startA`, and only there. */
  private placeItem(item: DataItem, startA: bigint, what: string, fromOld: boolean): Result<void> {
    const newImg = this.newImg;
    const slot = `${fromOld ? 'old' : 'pkg'}:${item.index}`;
    const before = this.placed.get(slot);
    if (before !== undefined) {
      if (before === startA) return ok(undefined);
      return mismatch(`${what}: ${describe(item.start)} would have two images (0x${before.toString(16)} and 0x${startA.toString(16)})`);
    }
    this.placed.set(slot, startA);
    const inOld = startA >= this.imageBase && startA < this.imageBase + BigInt(this.oldImg.image.length);
    // A pointer may straddle the inferred end of the item (a reference into its middle
    // started the next one): compared whole (comparedLength).
    const len = comparedLength(newImg, item);
    const got = this.paper.readAt(startA, len);
    if (got === null) return mismatch(`${what}: read-only data target is outside the image and the package`);
    const want = newImg.image.subarray(item.start, item.start + len);
    const relocs = new Set(relocsIn(newImg, item.start, item.start + len));
    // A self-relative table is checked by meaning: each entry, read as the code reads it
    // (sign-extended, plus the table's address), must reach the image of NEW's target.
    const rel = this.diff.match.new.relTables.get(item.start);
    const relEnd = rel === undefined ? 0 : relativeEntryChecks(rel, got, startA, len, (t, actual, k) => this.pending.push({ t, actual, what: `${describe(item.start)} entry ${k}`, fromOld: inOld }));
    if (relEnd < 0) return mismatch(`${what}: self-relative table ${describe(item.start)} has no proven extent`);
    for (let k = relEnd; k < len; k++) {
      if (relocs.has(item.start + k)) {
        const nt = newPointerTarget(newImg, item.start + k);
        const av = new DataView(got.buffer, got.byteOffset).getBigUint64(k, true);
        if (nt === null) return mismatch(`${what}: pointer in read-only data cannot be checked`);
        // Pointer graphs in data are deep (Go type descriptors): checked from a worklist.
        this.pending.push({ t: Number(nt), actual: av, what: `${describe(item.start)} + ${k}`, fromOld: inOld });
        k += 7;
        continue;
      }
      const rvaTarget = inOld ? this.diff.match.new.rvaFields.get(item.start + k) : undefined;
      if (rvaTarget !== undefined) {
        // An image-relative RVA (MSVC throw data) in OLD's copy: it names OLD's counterpart.
        // (A copy in the package, only ever glued to the item after it as a possible end
        // pointer, is compared byte for byte below.)
        const rv = new DataView(got.buffer, got.byteOffset).getUint32(k, true);
        this.pending.push({ t: rvaTarget, actual: this.imageBase + BigInt(rv), what: `${describe(item.start)} + ${k} (rva)`, fromOld: true, reading: 'field' });
        k += 3;
        continue;
      }
      if (got[k] !== want[k]) return mismatch(`${what}: read-only data differs at +${k}`);
    }
    return ok(undefined);
  }
}

/** Import thunk `jmp [slot]` at `rva` of `img`: the key of the import it jumps to, or undefined. */
function thunkImportKey(img: MappedImage, rva: number): string | undefined {
  const imp = thunkImport(img, rva);
  return imp === undefined ? undefined : importKey(imp);
}
