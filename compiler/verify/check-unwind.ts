/**
 * The unwind check of one carried function: one RUNTIME_FUNCTION per registered (non-leaf,
 * layout-parts.ts registeredEntries) .pdata entry of NEW covering the carried range, the same
 * UNWIND_INFO bytes, chained entries naming the parent
 * part's copy, the handler and GCC LSDA type entries reaching what NEW's reach, and MSVC
 * handler data: every structure NEW's fields name has one copy in the block's unwind info,
 * equal to NEW outside its fields, and every field reaches what NEW's field reaches.
 */
import { ok, type Result } from '../../common/errors.ts';
import type { CodeBlock } from '../../formats/package.ts';
import type { ImageDiff } from '../diff/types.ts';
import { parseGccLsda } from '../eh/gcc-lsda.ts';
import { parseHandlerData } from '../eh/parse-handler-data.ts';
import type { HandlerRvaField, HandlerStructure, ParsedHandlerData } from '../eh/types.ts';
import { chainedParent, registeredEntries } from '../functions/layout-parts.ts';
import type { RuntimeFunction } from '../../runtime/pe/types.ts';
import type { CarriedView } from './check-function.ts';
import type { CarriedFunction, TargetChecker } from './check-target.ts';
import { mismatch, type PaperImage } from './paper-image.ts';

const UNW_FLAG_HANDLER = 3;
const UNW_FLAG_CHAININFO = 4;

/** One block's unwind info placed on paper, with the target address of each fixed-up field. */
interface PlacedUnwind {
  readonly unwind: NonNullable<CodeBlock['unwind']>;
  readonly info: Uint8Array;
  readonly infoAddr: bigint;
  /** Unwind info offset of a fixup -> the address it resolved to. */
  readonly fixedAt: ReadonlyMap<number, bigint>;
}

/** Checks the unwind data of carried function `c` (from its code block `cb`); returns the entries checked. */
export function checkFunctionUnwind(
  diff: ImageDiff,
  paper: PaperImage,
  checker: TargetChecker,
  carried: ReadonlyMap<number, CarriedFunction>,
  c: CarriedView,
  cb: CodeBlock,
): Result<number> {
  const { fn, name } = c;
  const u = cb.unwind;
  const entries = registeredEntries(fn);
  if (entries.length !== (u?.runtimeFunctions.length ?? 0)) return mismatch(`${name}: ${entries.length} non-leaf .pdata entries in NEW, ${u?.runtimeFunctions.length ?? 0} in the package`);
  if (u === null) return ok(0);
  const info = u.unwindInfo.slice();
  const infoAddr = paper.placeUnwindInfo(info.length);
  const fixed = paper.applyFixups(info, infoAddr, cb.id, u.unwindFixups, `${name} unwind`, true);
  if (!fixed.ok) return fixed;
  const fixedAt = new Map<number, bigint>(u.unwindFixups.map((f, i) => [f.offset, fixed.value[i]!] as const));
  // A parent and its funclets travel together: handler tables of a carried function never
  // reach a funclet the package leaves old (and a carried funclet's parent is carried too).
  for (const k of diff.ehGroupOf.get(fn.index) ?? []) {
    if (!carried.has(k)) {
      const g = diff.match.new.fns.functions[k]!;
      return mismatch(`${name}: its exception-handling group member ${g.name ?? `0x${g.entry.toString(16)}`} is not in the package`);
    }
  }
  const placed: PlacedUnwind = { unwind: u, info, infoAddr, fixedAt };
  const handlerData = new HandlerDataCheck(diff.match.new.img.image, paper, checker, c, placed);
  for (let i = 0; i < entries.length; i++) {
    const r = checkEntry(diff, paper, checker, c, placed, handlerData, entries[i]!, i);
    if (!r.ok) return r;
  }
  return ok(entries.length);
}

/** RUNTIME_FUNCTION `i` of the block against `rf`, the i-th registered .pdata entry of NEW, and its UNWIND_INFO byte for byte. */
function checkEntry(diff: ImageDiff, paper: PaperImage, checker: TargetChecker, c: CarriedView, placed: PlacedUnwind, handlerData: HandlerDataCheck, rf: CarriedView['fn']['pdata'][number], i: number): Result<void> {
  const { fn, name } = c;
  const newImg = diff.match.new.img;
  const { unwind: u, info } = placed;
  const e = u.runtimeFunctions[i]!;
  const ri = fn.ranges.findIndex((r) => r.start === rf.beginAddress);
  if (ri < 0 || e.beginOffset !== c.base + c.offsets[ri]! || e.endOffset - e.beginOffset !== rf.endAddress - rf.beginAddress) return mismatch(`${name}: RUNTIME_FUNCTION ${i} does not cover the carried range`);
  const uw = rf.unwind!;
  const hasHandler = (uw.flags & UNW_FLAG_HANDLER) !== 0;
  const hd = hasHandler ? parseHandlerData(newImg, diff.match.new.fns, fn, rf) : null;
  if (hd?.kind === 'refused') return mismatch(`${name}: carries handler data this compiler refuses (${hd.reason})`);
  const eh = hd?.kind === 'msvc' ? hd.data : null;
  handlerData.data = eh;
  const lsda = hasHandler && eh === null ? parseGccLsda(newImg.image, rf.unwindInfoAddress + uw.size, rf.endAddress - rf.beginAddress, newImg.imageBase) : null;
  if (hasHandler && eh === null && lsda === null) return mismatch(`${name}: carries handler data that is neither MSVC nor a GCC LSDA`);
  const len = uw.size + (eh?.inline.length ?? lsda?.length ?? 0);
  const want = newImg.image.subarray(rf.unwindInfoAddress, rf.unwindInfoAddress + len);
  const fields = new Map<number, { readonly target: number; readonly kind: 'handler' | 'pcrel' | 'abs64' }>();
  if (hasHandler) fields.set(uw.size - 4, { target: uw.handler!, kind: 'handler' });
  for (const t of lsda?.typeRefs ?? []) fields.set(uw.size + t.offset, { target: t.target, kind: t.kind });
  const ehFields = new Map<number, HandlerRvaField>();
  for (const x of eh?.inline.fields ?? []) ehFields.set(uw.size + x.offset, x);
  if (e.unwindInfoOffset + len > info.length) return mismatch(`${name}: UNWIND_INFO ${i} runs past the unwind info`);
  const chainAt = (uw.flags & UNW_FLAG_CHAININFO) !== 0 ? uw.size - 12 : -1;
  if (chainAt >= 0) {
    const r = checkChain(paper, c, placed, rf, e.unwindInfoOffset + chainAt, i);
    if (!r.ok) return r;
  }
  for (let k = 0; k < len; k++) {
    if (chainAt >= 0 && k >= chainAt && k < chainAt + 12) continue;
    const hf = ehFields.get(k);
    if (hf !== undefined) {
      const rr = handlerData.checkField(hf, e.unwindInfoOffset + k);
      if (!rr.ok) return rr;
      k += 3;
      continue;
    }
    const field = fields.get(k);
    if (field !== undefined) {
      const at = e.unwindInfoOffset + k;
      if (!placed.fixedAt.has(at)) return mismatch(`${name}: unwind field at +${k} has no fixup`);
      // Read back as the runtime reads it, not what the fixup claims to aim at: the
      // handler is an RVA against the unwind base, a GCC type entry (0x9b: pcrel
      // sdata4) is relative to its own address, a clang one (0x00: absptr) an address.
      const dvu = new DataView(info.buffer, info.byteOffset, info.byteLength);
      if (at + (field.kind === 'abs64' ? 8 : 4) > info.length) return mismatch(`${name}: unwind field at +${k} runs past the unwind info`);
      const S =
        field.kind === 'handler' ? paper.unwindBase + BigInt(dvu.getUint32(at, true)) : field.kind === 'abs64' ? dvu.getBigUint64(at, true) : placed.infoAddr + BigInt(at) + BigInt(dvu.getInt32(at, true));
      const rr = field.kind === 'handler' ? checker.checkHandler(field.target, S, `${name} exception handler`) : checker.check(field.target, S, `${name} unwind field +${k}`, false, true);
      if (!rr.ok) return rr;
      k += field.kind === 'abs64' ? 7 : 3;
      continue;
    }
    if (info[e.unwindInfoOffset + k] !== want[k]) return mismatch(`${name}: UNWIND_INFO byte ${k} differs from NEW`);
  }
  return handlerData.checkStructures();
}

/**
 * A chained entry (a part of a split function) names its parent: the parent's copy in this
 * block (begin, end) and its UNWIND_INFO in this blob, against the unwind base.
 */
function checkChain(paper: PaperImage, c: CarriedView, placed: PlacedUnwind, rf: RuntimeFunction, at: number, i: number): Result<void> {
  const { fn, name, block } = c;
  const pi = chainedParent(fn, rf);
  const parent = pi < 0 ? undefined : placed.unwind.runtimeFunctions[pi];
  if (parent === undefined) return mismatch(`${name}: chained unwind info ${i} names no part of the function`);
  for (const k of [0, 4, 8]) if (!placed.fixedAt.has(at + k)) return mismatch(`${name}: chained entry field +${k} of UNWIND_INFO ${i} has no fixup`);
  const dv = new DataView(placed.info.buffer, placed.info.byteOffset);
  const unwindBase = paper.unwindBase;
  const got = [0, 4, 8].map((k) => unwindBase + BigInt(dv.getUint32(at + k, true)));
  const want = [block.addr + BigInt(parent.beginOffset), block.addr + BigInt(parent.endOffset), placed.infoAddr + BigInt(parent.unwindInfoOffset)];
  if (got.some((g, k) => g !== want[k])) return mismatch(`${name}: chained entry of UNWIND_INFO ${i} does not name its parent part's copy`);
  return ok(undefined);
}

/**
 * MSVC handler data fields hold addr32nb values: read back as the runtime would (unwind
 * base + value), each must reach what NEW's field reaches; a `table` field names a structure,
 * which must have exactly one copy inside the block's unwind info.
 */
class HandlerDataCheck {
  /** The handler data of the entry being checked (structures are looked up in it). */
  data: ParsedHandlerData | null = null;
  /** Structure key (`rva:length`) -> its copy's offset in the unwind info. */
  private readonly placedStructures = new Map<string, number>();
  private readonly work: Array<[HandlerStructure, number]> = [];

  constructor(
    private readonly newImage: Uint8Array,
    private readonly paper: PaperImage,
    private readonly checker: TargetChecker,
    private readonly c: CarriedView,
    private readonly placed: PlacedUnwind,
  ) {}

  checkField(hf: HandlerRvaField, at: number): Result<void> {
    const { fn, name, block } = this.c;
    const { info, infoAddr } = this.placed;
    if (at + 4 > info.length) return mismatch(`${name}: handler field at +${at} is outside the unwind info`);
    const actual = this.paper.unwindBase + BigInt(new DataView(info.buffer, info.byteOffset).getUint32(at, true));
    const what = `${name} handler data field (${hf.role} 0x${hf.target.toString(16)})`;
    if (!this.placed.fixedAt.has(at)) return mismatch(`${what}: has no fixup`);
    const t = hf.target;
    if (hf.role === 'table') {
      const d = this.data!;
      const st = d.structures.find((x) => x.rva === t) ?? d.structures.find((x) => t >= x.rva && t < x.rva + x.length);
      if (st === undefined) return mismatch(`${what}: NEW names no structure there`);
      const start = actual - BigInt(t - st.rva);
      if (start < infoAddr || start + BigInt(st.length) > infoAddr + BigInt(info.length)) return mismatch(`${what}: the copy is not inside the block's unwind info`);
      const off = Number(start - infoAddr);
      const key = `${st.rva}:${st.length}`;
      const before = this.placedStructures.get(key);
      if (before === undefined) {
        this.placedStructures.set(key, off);
        this.work.push([st, off]);
      } else if (before !== off) return mismatch(`${what}: the structure at 0x${st.rva.toString(16)} has two copies`);
      return ok(undefined);
    }
    if (hf.role === 'code') {
      // An address of this function (or its end) is the same place in the carried body.
      const o = this.c.offsetOf(t);
      if (o >= 0) return actual === block.addr + BigInt(o) ? ok(undefined) : mismatch(`${what}: does not reach the same place in the carried body`);
      const ri = fn.ranges.findIndex((r) => r.end === t);
      if (ri >= 0) return actual === this.c.addr + BigInt(this.c.offsets[ri]! + (t - fn.ranges[ri]!.start)) ? ok(undefined) : mismatch(`${what}: does not reach the end of the carried range`);
    }
    // Routines the exception runtime calls: their address is never compared (as a branch). A
    // `data` field (a TypeDescriptor a catch matches) names the object at its address, never
    // the end of the one before it, as resolve-target.ts handlerFieldTarget reads it.
    return this.checker.check(t, actual, what, hf.role === 'data', true);
  }

  /** The structures the fields named so far: one copy each, equal to NEW outside its fields. */
  checkStructures(): Result<void> {
    const { name } = this.c;
    const newImage = this.newImage;
    const info = this.placed.info;
    while (this.work.length > 0) {
      const [st, at] = this.work.pop()!;
      const nb = newImage.subarray(st.rva, st.rva + st.length);
      const byOff = new Map(st.fields.map((x) => [x.offset, x] as const));
      for (let k = 0; k < st.length; k++) {
        const hf = byOff.get(k);
        if (hf !== undefined) {
          const rr = this.checkField(hf, at + k);
          if (!rr.ok) return rr;
          k += 3;
          continue;
        }
        if (info[at + k] !== nb[k]) return mismatch(`${name}: byte ${k} of the handler structure at 0x${st.rva.toString(16)} (${this.data!.form}) differs from NEW`);
      }
    }
    return ok(undefined);
  }
}
