/**
 * Planning: from a loaded, verified package and a target (through its backend) compute the
 * write plan. Nothing is written here; every check that can refuse happens here, so a
 * refused package leaves the target untouched (zero backend steps executed).
 *
 * Order of checks: series (same baseline, newer sequence) → target identity (machine,
 * TimeDateStamp, SizeOfImage, CheckSum, CodeView GUID/age, the relied-on bytes hash) →
 * original bytes at every redirect site → delta bases → layout and a free region within
 * ±2 GB (within 2 GB above the image base when the package holds imagerel32 fixups) →
 * imports → every fixup (targets resolved here, fields written and range-checked by
 * the wasm core: runtime/pe/apply-fixups.ts) → redirect encodings (reach) → steps.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import { applyDelta } from '../../formats/delta.ts';
import { impliedFixups } from '../../formats/implicit-fixups.ts';
import { checkBudget } from '../../formats/validate.ts';
import type { BlockBytes, Fixup, HotpatchPackage } from '../../formats/package.ts';
import { preferredView, readModuleView, type ModuleView } from '../image/module-view.ts';
import { applyFixups, type ResolvedFixup } from '../pe/apply-fixups.ts';
import type { ProcessBackend } from './backend.ts';
import { sha256 } from './hash.ts';
import { describeBytesMismatch, describeReliedMismatch, mappedSections, sectionOf } from './identity-mismatch.ts';
import {
  PAGE_EXECUTE_READ,
  PAGE_EXECUTE_READWRITE,
  PAGE_READONLY,
  PAGE_READWRITE,
  PAGE_SIZE,
  WRITE_PLAN_VERSION,
  type PlannedFunction,
  type PlannedRedirect,
  type RedirectWrite,
  type VaRange,
  type WritePlan,
  type WriteStep,
} from './write-plan.ts';

/** Planning options: the series state and the thread rule's bounds. */
export interface PlanOptions {
  /** The plan currently applied to this image (same series), or null for a pristine image. */
  readonly current?: WritePlan | null;
  /** Thread rule: how many times to suspend and look (default 50). */
  readonly threadAttempts?: number;
  /** Thread rule: wait between attempts in ms (default 2). */
  readonly retryDelayMs?: number;
  /**
   * A copy of the package's build mapped at its preferred base (e.g. the module's file read
   * by the CLI), asked for only when the relied-on bytes differ, to name the first differing
   * byte (runtime/plan/identity-mismatch.ts). Null when there is none.
   */
  readonly reference?: () => Promise<Uint8Array | null>;
}

/** Time spent planning, per code block (materialise + fixups), for per-function reports. */
export interface PlanTiming {
  readonly totalMs: number;
  readonly blockMs: ReadonlyMap<number, number>;
}

/** Largest patch region a plan allocates (a hotpatch carries functions, not programs). */
export const MAX_REGION = 64 * 1024 * 1024;

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hexBytes(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Compares the package's target identity with the image; one PLAN_IDENTITY line naming every difference. */
export function checkIdentity(pkg: HotpatchPackage, view: ModuleView): Result<void> {
  const t = pkg.target;
  const diffs: string[] = [];
  const cmp = (what: string, want: number, got: number): void => {
    if (want !== got) diffs.push(`${what} ${hex(want)} in package, ${hex(got)} in image`);
  };
  cmp('machine', t.machine, view.machine);
  cmp('TimeDateStamp', t.timeDateStamp, view.timeDateStamp);
  cmp('SizeOfImage', t.sizeOfImage, view.sizeOfImage);
  cmp('CheckSum', t.checkSum, view.checkSum);
  const guidText = (g: Uint8Array): string => hexBytes(g);
  // A CodeView record whose data is only in the file cannot be read from memory; the other
  // fields and the relied-on bytes hash still pin the build.
  if (view.codeView !== 'unmapped' && (t.codeView !== null || view.codeView !== null)) {
    if (t.codeView === null) diffs.push('CodeView: none in package, present in image');
    else if (view.codeView === null) diffs.push('CodeView: present in package, none in image');
    else {
      if (!eqBytes(t.codeView.guid, view.codeView.guid)) diffs.push(`CodeView GUID ${guidText(t.codeView.guid)} in package, ${guidText(view.codeView.guid)} in image`);
      if (t.codeView.age !== view.codeView.age) diffs.push(`CodeView age ${t.codeView.age} in package, ${view.codeView.age} in image`);
    }
  }
  if (diffs.length > 0) return err('PLAN_IDENTITY', `package is for another build: ${diffs.join('; ')}`);
  return ok(undefined);
}

/** Concatenated bytes of `ranges` from `bytes` (bounds-checked). */
function gather(bytes: Uint8Array, ranges: readonly { readonly rva: number; readonly length: number }[]): Uint8Array | null {
  let n = 0;
  for (const r of ranges) {
    if (r.rva + r.length > bytes.length) return null;
    n += r.length;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const r of ranges) {
    out.set(bytes.subarray(r.rva, r.rva + r.length), at);
    at += r.length;
  }
  return out;
}

interface PlacedBlock {
  readonly id: number;
  readonly code: boolean;
  /** Offset in the region. */
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly fixups: readonly Fixup[];
}

function int32Fits(v: bigint): boolean {
  return v >= -0x8000_0000n && v <= 0x7fff_ffffn;
}

/**
 * Computes the write plan for applying `pkg` to the module `backend.module` (see the module
 * comment for the order of checks). Reads the target; never writes.
 */
export async function planPackage(pkg: HotpatchPackage, backend: ProcessBackend, options: PlanOptions = {}): Promise<Result<{ plan: WritePlan; timing: PlanTiming }>> {
  const t0 = now();
  const current = options.current ?? null;
  // The package may come straight from a library caller, unvalidated: its declared block
  // sizes are summed before any block is materialised (formats/validate.ts checkBudget).
  const budget = checkBudget(pkg);
  if (!budget.ok) return err('PLAN_TOO_LARGE', budget.error.message);

  // 1. Series.
  if (current !== null) {
    if (current.series.baseline !== pkg.series.baselineId) {
      return err('PLAN_SERIES', `package belongs to series "${pkg.series.baselineId}", the image has series "${current.series.baseline}" applied (revert it first)`);
    }
    if (pkg.series.sequence <= current.series.sequence) {
      return err('PLAN_SEQUENCE', `package sequence ${pkg.series.sequence} is not newer than the applied sequence ${current.series.sequence}`);
    }
  }

  // 2. Identity.
  const viewR = await readModuleView(backend);
  if (!viewR.ok) return viewR;
  const view = viewR.value;
  const id = checkIdentity(pkg, view);
  if (!id.ok) return id;
  const base = view.base;
  const rvaOf = (va: Va): number => Number(va - base);
  // Baseline bytes under the applied patch's redirects, as they were before it (actual, i.e. relocated).
  const baselineActual = new Map<number, number>();
  for (const r of current?.redirects ?? []) for (const w of r.writes) w.original.forEach((b, i) => baselineActual.set(rvaOf(w.address) + i, b));
  const restore = (current?.redirects ?? []).flatMap((r) => r.writes.map((w) => ({ rva: rvaOf(w.address), bytes: w.original })));
  const actualBaseline = view.bytes.slice();
  for (const r of restore) if (r.rva >= 0 && r.rva + r.bytes.length <= actualBaseline.length) actualBaseline.set(r.bytes, r.rva);
  const preferred = preferredView(view, pkg.target.imageBase, restore);
  const relied = gather(preferred, pkg.target.reliedRanges);
  if (relied === null) return err('PLAN_IDENTITY', 'package relies on bytes outside the image');
  const reliedHash = await sha256(relied);
  if (!eqBytes(reliedHash, pkg.target.reliedSha256)) {
    const reference = options.reference === undefined ? null : await options.reference().catch(() => null);
    const why = await describeReliedMismatch(pkg, preferred, reference);
    return err('PLAN_IDENTITY', `package is for another build: relied-on bytes hash ${hexBytes(reliedHash).slice(0, 16)}… in image, ${hexBytes(pkg.target.reliedSha256).slice(0, 16)}… in package; ${why}`);
  }
  const sections = mappedSections(preferred);

  // 3. Original bytes at every redirect site (and pad).
  for (const r of pkg.redirects) {
    const got = preferred.subarray(r.oldRva, r.oldRva + r.expected.length);
    if (r.oldRva + r.expected.length > preferred.length || !eqBytes(got, r.expected)) {
      return err('PLAN_ORIGINAL_BYTES', `redirect site ${hex(r.oldRva)}: image has ${hexBytes(got)}, package expects ${hexBytes(r.expected)}; ${describeBytesMismatch(sections, r.oldRva, got, r.expected)}`, r.oldRva);
    }
    if (r.pad !== null) {
      const pad = preferred.subarray(r.pad.rva, r.pad.rva + r.pad.expected.length);
      if (!eqBytes(pad, r.pad.expected)) return err('PLAN_ORIGINAL_BYTES', `redirect pad ${hex(r.pad.rva)}: image has ${hexBytes(pad)}, package expects ${hexBytes(r.pad.expected)}; ${describeBytesMismatch(sections, r.pad.rva, pad, r.pad.expected)}`, r.pad.rva);
    }
  }

  // 4. Block bytes (literal, or delta against the old image).
  const blockMs = new Map<number, number>();
  // A block's bytes and the fixups its delta's implicit fields stand for (format 1.2,
  // formats/implicit-fixups.ts), read from the same hash-checked base.
  const materialise = async (b: BlockBytes, what: string): Promise<Result<{ bytes: Uint8Array; implied: Fixup[] }>> => {
    if (b.kind === 'literal') return ok({ bytes: b.bytes.slice(), implied: [] });
    const baseBytes = gather(preferred, [b.base]);
    if (baseBytes === null) return err('PLAN_IDENTITY', `${what}: delta base ${hex(b.base.rva)}+${b.base.length} is outside the image`);
    if (!eqBytes(await sha256(baseBytes), b.baseSha256)) return err('PLAN_IDENTITY', `${what}: delta base at ${hex(b.base.rva)}+${b.base.length} (section ${sectionOf(sections, b.base.rva)}) differs from the package's`, b.base.rva);
    const bytes = applyDelta(baseBytes, b.ops, b.size);
    if (!bytes.ok) return bytes;
    const implied = impliedFixups(b, baseBytes, pkg.target.imageBase, pkg.target.sizeOfImage, what);
    if (!implied.ok) return err('PLAN_PACKAGE', implied.error.message);
    return ok({ bytes: bytes.value, implied: implied.value });
  };

  // 5. Layout: code blocks, then (page-aligned) data blocks, import slots, unwind table and info.
  const ids = new Set<number>();
  for (const b of [...pkg.codeBlocks, ...pkg.dataBlocks]) {
    if (ids.has(b.id)) return err('PLAN_PACKAGE', `block id ${b.id} is used twice`);
    if (!Number.isInteger(b.alignment) || b.alignment < 1 || b.alignment > PAGE_SIZE || (b.alignment & (b.alignment - 1)) !== 0) {
      return err('PLAN_PACKAGE', `block ${b.id}: alignment ${b.alignment} is not a power of two up to ${PAGE_SIZE}`);
    }
    ids.add(b.id);
  }
  const placed = new Map<number, PlacedBlock>();
  let off = 0;
  for (const c of pkg.codeBlocks) {
    const ts = now();
    const bytes = await materialise(c.bytes, `code block ${c.id}`);
    if (!bytes.ok) return bytes;
    off = alignUp(off, Math.max(1, c.alignment));
    placed.set(c.id, { id: c.id, code: true, offset: off, bytes: bytes.value.bytes, fixups: [...c.fixups, ...bytes.value.implied] });
    off += bytes.value.bytes.length;
    blockMs.set(c.id, now() - ts);
  }
  const codeUsed = off;
  const codeSize = alignUp(Math.max(off, 1), PAGE_SIZE);
  off = codeSize;
  for (const d of pkg.dataBlocks) {
    const bytes = await materialise(d.bytes, `data block ${d.id}`);
    if (!bytes.ok) return bytes;
    off = alignUp(off, Math.max(1, d.alignment));
    placed.set(d.id, { id: d.id, code: false, offset: off, bytes: bytes.value.bytes, fixups: [...d.fixups, ...bytes.value.implied] });
    off += bytes.value.bytes.length;
  }
  off = alignUp(off, 8);
  const importSlotsOffset = off;
  off += pkg.imports.length * 8;
  off = alignUp(off, 4);
  const unwindBlocks = pkg.codeBlocks.filter((c) => c.unwind !== null && c.unwind.runtimeFunctions.length > 0);
  const entryCount = unwindBlocks.reduce((n, c) => n + (c.unwind?.runtimeFunctions.length ?? 0), 0);
  const tableOffset = off;
  off += entryCount * 12;
  const unwindInfoOffsets = new Map<number, number>();
  for (const c of unwindBlocks) {
    off = alignUp(off, 4);
    unwindInfoOffsets.set(c.id, off);
    off += c.unwind?.unwindInfo.length ?? 0;
  }
  const usedSize = off;
  const regionSize = alignUp(off, PAGE_SIZE);
  if (regionSize > MAX_REGION) return err('PLAN_TOO_LARGE', `the patch needs ${regionSize} bytes, more than the ${MAX_REGION}-byte limit`);
  const regionAt = await backend.findFreeRegion({ start: base, size: view.sizeOfImage }, regionSize);
  if (!regionAt.ok) return regionAt;
  const region = regionAt.value;
  // IMAGEREL32 values are `__ImageBase + value` with value in 0..2^31-1: a package holding
  // one needs the whole region above the image base and within 2 GB of it. Backends search
  // upward from the image first, so this only refuses when the space above is taken.
  const imageRelative = [...pkg.codeBlocks, ...pkg.dataBlocks].some((b) => b.fixups.some((f) => f.kind === 'imagerel32'));
  if (imageRelative && (region < base || region + BigInt(regionSize) - base > 0x7fff_ffffn)) {
    return err('PLAN_NO_REGION', `the package holds image-relative (imagerel32) fixups, which need the patch region within 2 GB above the image base ${hex(base)}; the free region found is at ${hex(region)}`);
  }
  const regionBytes = new Uint8Array(regionSize);
  const vaAt = (offset: number): Va => asVa(region + BigInt(offset));
  const unwindBase = region < base ? region : base;

  // 6. Imports: through the image's own import table first, else the backend's resolver.
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
  const rdv = new DataView(regionBytes.buffer);
  importAddr.forEach((a, i) => rdv.setBigUint64(importSlotsOffset + i * 8, a, true));

  // 7. Fixups: S for each target, by kind.
  // `unwindInfo`: where the unwind info the fixup sits in lives, and its length (null outside
  // unwind data, where an unwind target means nothing).
  const symbolOf = (f: Fixup, where: string, unwindInfo: { readonly va: bigint; readonly length: number } | null): Result<bigint> => {
    const tg = f.target;
    switch (tg.kind) {
      case 'unwind':
        if (unwindInfo === null || tg.offset > unwindInfo.length) return err('PLAN_FIXUP', `${where}: unwind target +${hex(tg.offset)} is not inside this block's unwind info`);
        return ok(unwindInfo.va + BigInt(tg.offset));
      case 'image':
        if (tg.rva >= view.sizeOfImage) return err('PLAN_FIXUP', `${where}: target RVA ${hex(tg.rva)} is outside the image`);
        return ok(base + BigInt(tg.rva));
      case 'block': {
        const b = placed.get(tg.blockId);
        if (b === undefined || tg.offset > b.bytes.length) return err('PLAN_FIXUP', `${where}: target block ${tg.blockId}+${hex(tg.offset)} does not exist`);
        return ok(region + BigInt(b.offset + tg.offset));
      }
      case 'import-slot':
        if (tg.index >= importAddr.length) return err('PLAN_FIXUP', `${where}: import ${tg.index} does not exist`);
        return ok(region + BigInt(importSlotsOffset + tg.index * 8));
      case 'import-address': {
        const a = importAddr[tg.index];
        if (a === undefined) return err('PLAN_FIXUP', `${where}: import ${tg.index} does not exist`);
        return ok(a);
      }
    }
  };
  // Where each target lives is decided here; the fields are written, with their range
  // checks, by the wasm core (runtime/pe/apply-fixups.ts).
  const resolve = (fixups: readonly Fixup[], what: string, unwindInfo: { readonly va: bigint; readonly length: number } | null = null): ResolvedFixup[] =>
    fixups.map((f, i) => ({ kind: f.kind, offset: f.offset, addend: f.addend, symbol: symbolOf(f, `${what} ${i}`, unwindInfo) }));
  for (const b of placed.values()) {
    const ts = now();
    const done = applyFixups(b.bytes, resolve(b.fixups, `block ${b.id} fixup`), { blockId: b.id, container: 'block', blockVa: vaAt(b.offset), unwindBase, imageBase: base });
    if (!done.ok) return done;
    regionBytes.set(done.value, b.offset);
    if (b.code) blockMs.set(b.id, (blockMs.get(b.id) ?? 0) + now() - ts);
  }
  // Unwind: RUNTIME_FUNCTION entries relative to unwindBase (sorted: the OS binary-searches
  // the table), then the info blobs with their fixups.
  const entries: [number, number, number][] = [];
  for (const c of unwindBlocks) {
    const u = c.unwind!;
    const b = placed.get(c.id)!;
    const infoOff = unwindInfoOffsets.get(c.id)!;
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
    rdv.setUint32(tableOffset + i * 12, begin, true);
    rdv.setUint32(tableOffset + i * 12 + 4, end, true);
    rdv.setUint32(tableOffset + i * 12 + 8, info, true);
  });
  if (region + BigInt(regionSize) - unwindBase > 0xffff_ffffn) return err('PLAN_UNWIND', `patch region ${hex(region)} is more than 4 GB from unwind base ${hex(unwindBase)}`);

  // 8. Redirect encodings.
  const redirects: PlannedRedirect[] = [];
  const functionName = new Map<number, string | null>();
  for (const f of pkg.functions) if (f.oldRva !== null) functionName.set(f.oldRva, f.name);
  const newWrites = new Map<number, number>(); // rva -> byte this plan writes
  const writeRanges: { rva: number; bytes: Uint8Array }[][] = [];
  for (const r of pkg.redirects) {
    const b = placed.get(r.target.blockId);
    if (b === undefined || !b.code || r.target.offset >= b.bytes.length) return err('PLAN_REDIRECT', `redirect at ${hex(r.oldRva)}: target block ${r.target.blockId}+${hex(r.target.offset)} is not code in the package`, r.oldRva);
    const target = region + BigInt(b.offset + r.target.offset);
    const site = base + BigInt(r.oldRva);
    const ranges: { rva: number; bytes: Uint8Array }[] = [];
    if (r.kind === 'jmp-rel32') {
      const rel = target - (site + 5n);
      if (!int32Fits(rel)) return err('PLAN_REDIRECT_RANGE', `redirect at ${hex(r.oldRva)}: jmp rel32 does not reach ${hex(target)}`, r.oldRva);
      const j = new Uint8Array(5);
      j[0] = 0xe9;
      new DataView(j.buffer).setInt32(1, Number(rel), true);
      ranges.push({ rva: r.oldRva, bytes: j });
    } else if (r.kind === 'jmp-abs64') {
      const j = new Uint8Array(14);
      j.set([0xff, 0x25, 0, 0, 0, 0]);
      new DataView(j.buffer).setBigUint64(6, target, true);
      ranges.push({ rva: r.oldRva, bytes: j });
    } else {
      if (r.pad === null) return err('PLAN_REDIRECT', `redirect at ${hex(r.oldRva)}: short-to-pad without a pad`, r.oldRva);
      const pad = base + BigInt(r.pad.rva);
      const short = pad - (site + 2n);
      if (short < -128n || short > 127n) return err('PLAN_REDIRECT_RANGE', `redirect at ${hex(r.oldRva)}: short jmp does not reach the pad at ${hex(r.pad.rva)}`, r.oldRva);
      const rel = target - (pad + 5n);
      if (!int32Fits(rel)) return err('PLAN_REDIRECT_RANGE', `redirect pad at ${hex(r.pad.rva)}: jmp rel32 does not reach ${hex(target)}`, r.pad.rva);
      const j = new Uint8Array(5);
      j[0] = 0xe9;
      new DataView(j.buffer).setInt32(1, Number(rel), true);
      const s = new Uint8Array([0xeb, Number(BigInt.asUintN(8, short))]);
      // The pad is dead padding: writing it first is harmless even to a running thread.
      ranges.push({ rva: r.pad.rva, bytes: j }, { rva: r.oldRva, bytes: s });
    }
    for (const rg of ranges) {
      for (let i = 0; i < rg.bytes.length; i++) {
        if (newWrites.has(rg.rva + i)) return err('PLAN_REDIRECT_OVERLAP', `redirect at ${hex(r.oldRva)} overlaps another redirect at ${hex(rg.rva + i)}`, r.oldRva);
        newWrites.set(rg.rva + i, rg.bytes[i]!);
      }
    }
    writeRanges.push(ranges);
    const writes: RedirectWrite[] = ranges.map((rg) => ({
      address: asVa(base + BigInt(rg.rva)),
      expected: view.bytes.slice(rg.rva, rg.rva + rg.bytes.length),
      bytes: rg.bytes,
      original: actualBaseline.slice(rg.rva, rg.rva + rg.bytes.length),
    }));
    redirects.push({ name: functionName.get(r.oldRva) ?? null, functionVa: asVa(site), target: asVa(target), kind: r.kind, writes });
  }

  // 9. Segments: every byte this plan or the superseded one writes, grouped into runs.
  const touched = new Set<number>(newWrites.keys());
  for (const k of baselineActual.keys()) touched.add(k);
  const sortedTouched = [...touched].sort((a, b) => a - b);
  const segments: { rva: number; current: Uint8Array; final: Uint8Array; original: Uint8Array }[] = [];
  for (let i = 0; i < sortedTouched.length; ) {
    let j = i;
    while (j + 1 < sortedTouched.length && sortedTouched[j + 1] === sortedTouched[j]! + 1) j++;
    const rva = sortedTouched[i]!;
    const len = j - i + 1;
    const cur = view.bytes.slice(rva, rva + len);
    const orig = actualBaseline.slice(rva, rva + len);
    const fin = orig.slice();
    for (let k = 0; k < len; k++) {
      const w = newWrites.get(rva + k);
      if (w !== undefined) fin[k] = w;
    }
    segments.push({ rva, current: cur, final: fin, original: orig });
    i = j + 1;
  }

  // 10. Steps.
  const threadAttempts = options.threadAttempts ?? 50;
  const retryDelayMs = options.retryDelayMs ?? 2;
  const siteProtections = await protectionRuns(backend, segments.map((s) => ({ start: asVa(base + BigInt(s.rva)), size: s.current.length })));
  if (!siteProtections.ok) return siteProtections;
  const makeWritable: WriteStep[] = siteProtections.value.map((r) => ({ op: 'protect', address: r.address, size: r.size, protection: PAGE_EXECUTE_READWRITE }));
  const restoreProtection: WriteStep[] = siteProtections.value.map((r) => ({ op: 'protect', address: r.address, size: r.size, protection: r.protection }));
  const segRanges: VaRange[] = segments.map((s) => ({ start: asVa(base + BigInt(s.rva)), size: s.current.length }));
  const flushSites: WriteStep[] = segRanges.map((r) => ({ op: 'flush', address: r.start, size: r.size }));
  const unwind = entryCount > 0 ? { table: vaAt(tableOffset), entryCount, base: asVa(unwindBase) } : null;

  const steps: WriteStep[] = [
    { op: 'allocate', address: region, size: regionSize, protection: PAGE_READWRITE },
  ];
  // The region starts zeroed: write only the bytes in use (code, then data if any).
  if (codeUsed > 0) steps.push({ op: 'write', address: region, bytes: regionBytes.slice(0, codeUsed) });
  if (usedSize > codeSize) steps.push({ op: 'write', address: vaAt(codeSize), bytes: regionBytes.slice(codeSize, usedSize) });
  steps.push({ op: 'protect', address: region, size: codeSize, protection: PAGE_EXECUTE_READ });
  if (regionSize > codeSize) steps.push({ op: 'protect', address: vaAt(codeSize), size: regionSize - codeSize, protection: PAGE_READONLY });
  steps.push({ op: 'flush', address: region, size: codeSize });
  if (unwind !== null) steps.push({ op: 'register-unwind', ...unwind });
  const changing = segments.filter((s) => !eqBytes(s.current, s.final));
  const avoid: VaRange[] = changing.map((s) => ({ start: asVa(base + BigInt(s.rva)), size: s.current.length }));
  if (current !== null) avoid.push({ start: current.region.address, size: current.region.size });
  steps.push(...makeWritable, { op: 'suspend-threads', avoid, attempts: threadAttempts, retryDelayMs });
  for (const s of changing) steps.push({ op: 'redirect', address: asVa(base + BigInt(s.rva)), expected: s.current, bytes: s.final });
  steps.push(...flushSites, { op: 'resume-threads' }, ...restoreProtection);
  if (current !== null) {
    if (current.unwind !== null) steps.push({ op: 'deregister-unwind', ...current.unwind });
    steps.push({ op: 'free', address: current.region.address, size: current.region.size });
  }

  // Revert: this plan's ranges back to the baseline, then the region released.
  const own = segmentsOf(writeRanges.flat(), actualBaseline);
  const ownRanges: VaRange[] = own.map((s) => ({ start: asVa(base + BigInt(s.rva)), size: s.bytes.length }));
  const ownProt = await protectionRuns(backend, ownRanges);
  if (!ownProt.ok) return ownProt;
  const revert: WriteStep[] = [
    ...ownProt.value.map((r): WriteStep => ({ op: 'protect', address: r.address, size: r.size, protection: PAGE_EXECUTE_READWRITE })),
    { op: 'suspend-threads', avoid: [...ownRanges, { start: region, size: regionSize }], attempts: threadAttempts, retryDelayMs },
    ...own.map((s): WriteStep => ({ op: 'redirect', address: asVa(base + BigInt(s.rva)), expected: s.applied, bytes: s.bytes })),
    ...ownRanges.map((r): WriteStep => ({ op: 'flush', address: r.start, size: r.size })),
    { op: 'resume-threads' },
    ...ownProt.value.map((r): WriteStep => ({ op: 'protect', address: r.address, size: r.size, protection: r.protection })),
  ];
  if (unwind !== null) revert.push({ op: 'deregister-unwind', ...unwind });
  revert.push({ op: 'free', address: region, size: regionSize });

  const functions: PlannedFunction[] = pkg.functions.map((f) => {
    const b = placed.get(f.blockId);
    return {
      name: f.name,
      status: f.status,
      oldVa: f.oldRva === null ? null : asVa(base + BigInt(f.oldRva)),
      bodyVa: asVa(region + BigInt((b?.offset ?? 0) + f.blockOffset)),
      size: f.newSize,
    };
  });

  const plan: WritePlan = {
    version: WRITE_PLAN_VERSION,
    series: { baseline: pkg.series.baselineId, sequence: pkg.series.sequence },
    image: { base, sizeOfImage: view.sizeOfImage, name: backend.module.name },
    region: { address: region, size: regionSize, codeSize },
    unwind,
    redirects,
    functions,
    supersedes: current?.series.sequence ?? null,
    steps,
    revert,
  };
  return ok({ plan, timing: { totalMs: now() - t0, blockMs } });
}

/** Contiguous runs of the given writes: the applied bytes and the baseline bytes under them. */
function segmentsOf(writes: readonly { rva: number; bytes: Uint8Array }[], baseline: Uint8Array): { rva: number; applied: Uint8Array; bytes: Uint8Array }[] {
  const sorted = [...writes].sort((a, b) => a.rva - b.rva);
  const out: { rva: number; applied: Uint8Array; bytes: Uint8Array }[] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && last.rva + last.applied.length === w.rva) {
      const applied = new Uint8Array(last.applied.length + w.bytes.length);
      applied.set(last.applied);
      applied.set(w.bytes, last.applied.length);
      out[out.length - 1] = { rva: last.rva, applied, bytes: baseline.slice(last.rva, w.rva + w.bytes.length) };
    } else out.push({ rva: w.rva, applied: w.bytes, bytes: baseline.slice(w.rva, w.rva + w.bytes.length) });
  }
  return out;
}

/** The distinct pages under `ranges`, as runs of equal current protection. */
async function protectionRuns(backend: ProcessBackend, ranges: readonly VaRange[]): Promise<Result<{ address: Va; size: number; protection: number }[]>> {
  const pages = new Map<bigint, number>();
  for (const r of ranges) {
    const q = await backend.queryProtection(r.start, r.size);
    if (!q.ok) return q;
    for (const run of q.value) for (let a: bigint = run.address; a < run.address + BigInt(run.size); a += BigInt(PAGE_SIZE)) pages.set(a, run.protection);
  }
  const out: { address: Va; size: number; protection: number }[] = [];
  for (const a of [...pages.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
    const p = pages.get(a)!;
    const last = out[out.length - 1];
    if (last !== undefined && last.protection === p && last.address + BigInt(last.size) === a) out[out.length - 1] = { ...last, size: last.size + PAGE_SIZE };
    else out.push({ address: asVa(a), size: PAGE_SIZE, protection: p });
  }
  return ok(out);
}
