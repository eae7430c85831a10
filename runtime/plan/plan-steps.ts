/**
 * Planning, the step lists: which image bytes change (this plan's redirects and the ones of
 * the plan it supersedes, in contiguous segments), the page protections around them, and
 * from those the apply steps and the revert steps (back to the baseline, region freed).
 */
import { ok, type Result } from '../../common/errors.ts';
import { asVa, type Va } from '../../common/types.ts';
import type { ProcessBackend, ProtectionRun } from './backend.ts';
import { eqBytes, type RvaBytes } from './check-target.ts';
import { PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_READONLY, PAGE_READWRITE, PAGE_SIZE, SUPERSEDED_CODE, type QuiescentRange, type VaRange, type WritePlan, type WriteStep } from './write-plan.ts';
import type { HotpatchPackage } from '../../formats/package.ts';

/** A contiguous run of image bytes the apply touches: as they are, after it, and in the baseline. */
export interface Segment {
  readonly rva: number;
  readonly current: Uint8Array;
  readonly final: Uint8Array;
  readonly original: Uint8Array;
}

/** A contiguous run of this plan's writes: the bytes it applies and the baseline bytes under them. */
export interface OwnSegment {
  readonly rva: number;
  readonly applied: Uint8Array;
  readonly bytes: Uint8Array;
}

/**
 * Every byte this plan (`writes`) or the superseded one (`underApplied`) writes, grouped into
 * runs, with the image's `current` bytes, the final ones and the `baseline`'s.
 */
export function touchedSegments(writes: ReadonlyMap<number, number>, underApplied: ReadonlyMap<number, number>, current: Uint8Array, baseline: Uint8Array): Segment[] {
  const touched = new Set<number>(writes.keys());
  for (const k of underApplied.keys()) touched.add(k);
  const sortedTouched = [...touched].sort((a, b) => a - b);
  const segments: Segment[] = [];
  for (let i = 0; i < sortedTouched.length; ) {
    let j = i;
    while (j + 1 < sortedTouched.length && sortedTouched[j + 1] === sortedTouched[j]! + 1) j++;
    const rva = sortedTouched[i]!;
    const len = j - i + 1;
    const orig = baseline.slice(rva, rva + len);
    const fin = orig.slice();
    for (let k = 0; k < len; k++) {
      const w = writes.get(rva + k);
      if (w !== undefined) fin[k] = w;
    }
    segments.push({ rva, current: current.slice(rva, rva + len), final: fin, original: orig });
    i = j + 1;
  }
  return segments;
}

/** Contiguous runs of the given writes: the applied bytes and the baseline bytes under them. */
export function segmentsOf(writes: readonly RvaBytes[], baseline: Uint8Array): OwnSegment[] {
  const sorted = [...writes].sort((a, b) => a.rva - b.rva);
  const out: OwnSegment[] = [];
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

/** The distinct pages under `ranges` with their current protection (reads the target). */
async function pagesUnder(backend: ProcessBackend, ranges: readonly VaRange[]): Promise<Result<Map<bigint, number>>> {
  const pages = new Map<bigint, number>();
  for (const r of ranges) {
    const q = await backend.queryProtection(r.start, r.size);
    if (!q.ok) return q;
    for (const run of q.value) for (let a: bigint = run.address; a < run.address + BigInt(run.size); a += BigInt(PAGE_SIZE)) pages.set(a, run.protection);
  }
  return ok(pages);
}

/** Ascending order of two addresses (bigint has no numeric subtraction comparator). */
const byAddress = (x: bigint, y: bigint): number => (x < y ? -1 : x > y ? 1 : 0);

/** Pages as runs of equal protection, in address order. */
function runsOfPages(pages: ReadonlyMap<bigint, number>): ProtectionRun[] {
  const out: ProtectionRun[] = [];
  for (const a of [...pages.keys()].sort(byAddress)) {
    const p = pages.get(a)!;
    const last = out[out.length - 1];
    if (last !== undefined && last.protection === p && last.address + BigInt(last.size) === a) out[out.length - 1] = { ...last, size: last.size + PAGE_SIZE };
    else out.push({ address: asVa(a), size: PAGE_SIZE, protection: p });
  }
  return out;
}

/**
 * Sites less than this far apart are stored in one write by the win32 agent's `swap` when the
 * pages between them are writable (agent.c STORE_GAP, plan_stores: the same value).
 */
export const STORE_GAP = 0x8000;

/**
 * The pages a suspended span writes, as runs of their current protection: the pages under
 * `ranges` (the sites), and the code pages (PAGE_EXECUTE_READ) between two sites less than
 * STORE_GAP apart. The plan makes them all writable before the pause and restores them after
 * it, so the agent stores a cluster of nearby sites in one write, the bytes between them
 * written back as read under the same suspension: under Wine each write is a wineserver
 * round trip (~55 µs at best), each KiB it carries ~1.3 µs. A page between sites with any
 * other protection (data, another section) is left alone, and the agent then writes the
 * sites on either side apart.
 */
export async function storeProtectionRuns(backend: ProcessBackend, ranges: readonly VaRange[]): Promise<Result<ProtectionRun[]>> {
  const sorted = ranges.filter((r) => r.size > 0).sort((x, y) => byAddress(x.start, y.start));
  const gaps: VaRange[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prevEnd = sorted[i - 1]!.start + BigInt(sorted[i - 1]!.size);
    const gap = sorted[i]!.start - prevEnd;
    if (gap > 0n && gap < BigInt(STORE_GAP)) gaps.push({ start: asVa(prevEnd), size: Number(gap) });
  }
  const pages = await pagesUnder(backend, sorted);
  if (!pages.ok) return pages;
  const between = await pagesUnder(backend, gaps);
  if (!between.ok) return between;
  for (const [a, p] of between.value) if (p === PAGE_EXECUTE_READ && !pages.value.has(a)) pages.value.set(a, p);
  return ok(runsOfPages(pages.value));
}

/** What the step lists need to know about the region and the thread rule. */
export interface StepContext {
  readonly base: Va;
  readonly region: Va;
  readonly regionSize: number;
  readonly threadAttempts: number;
  readonly retryDelayMs: number;
  readonly unwind: WritePlan['unwind'];
  /** Since format 2.4: the package's quiescent ranges in the process (the apply's suspension checks them; a revert needs none). */
  readonly quiescent: readonly QuiescentRange[];
}

/**
 * The package's quiescent ranges (format 2.4) in the image at `base`, each named after the
 * changed function whose old entry lies in it (its name, else its old RVA; a range holding no
 * record's entry, a cold fragment, after the record whose old entry precedes it).
 */
export function quiescentRanges(pkg: HotpatchPackage, base: Va): QuiescentRange[] {
  const changed = pkg.functions.filter((f) => f.status === 'changed' && f.oldRva !== null).sort((a, b) => a.oldRva! - b.oldRva!);
  return (pkg.quiescent ?? []).map((r) => {
    const inside = changed.find((f) => f.oldRva! >= r.rva && f.oldRva! - r.rva < r.length);
    const before = inside ?? [...changed].reverse().find((f) => f.oldRva! < r.rva);
    const who = before === undefined ? `0x${r.rva.toString(16)}` : (before.name ?? `0x${before.oldRva!.toString(16)}`);
    return { start: asVa(base + BigInt(r.rva)), size: r.length, name: inside === undefined ? `a fragment of ${who}` : who };
  });
}

/** The byte range of `rva`.. in the image at `base`. */
const rangeAt = (base: Va, rva: number, size: number): VaRange => ({ start: asVa(base + BigInt(rva)), size });

/** The image ranges of `segments` (what their protection runs are queried for). */
export function segmentRanges(base: Va, segments: readonly Segment[]): VaRange[] {
  return segments.map((s) => rangeAt(base, s.rva, s.current.length));
}

/**
 * Apply: allocate and fill the region (`regionBytes`, of which `codeUsed` bytes of code and
 * `codeSize`..`usedSize` of data are in use), protect and flush it, register its unwind
 * table, then under suspended threads redirect every changing segment; finally release the
 * superseded plan `current` if any. `siteProtections` are the pages the span writes (storeProtectionRuns of `segments`).
 */
export function applySteps(ctx: StepContext, layout: { readonly codeUsed: number; readonly codeSize: number; readonly usedSize: number }, regionBytes: Uint8Array, segments: readonly Segment[], siteProtections: readonly ProtectionRun[], current: WritePlan | null): WriteStep[] {
  const { base, region, regionSize } = ctx;
  const { codeUsed, codeSize, usedSize } = layout;
  const vaAt = (offset: number): Va => asVa(region + BigInt(offset));
  const steps: WriteStep[] = [{ op: 'allocate', address: region, size: regionSize, protection: PAGE_READWRITE }];
  // The region starts zeroed: write only the bytes in use (code, then data if any).
  if (codeUsed > 0) steps.push({ op: 'write', address: region, bytes: regionBytes.slice(0, codeUsed) });
  if (usedSize > codeSize) steps.push({ op: 'write', address: vaAt(codeSize), bytes: regionBytes.slice(codeSize, usedSize) });
  steps.push({ op: 'protect', address: region, size: codeSize, protection: PAGE_EXECUTE_READ });
  if (regionSize > codeSize) steps.push({ op: 'protect', address: vaAt(codeSize), size: regionSize - codeSize, protection: PAGE_READONLY });
  steps.push({ op: 'flush', address: region, size: codeSize });
  if (ctx.unwind !== null) steps.push({ op: 'register-unwind', ...ctx.unwind });
  const changing = segments.filter((s) => !eqBytes(s.current, s.final));
  // Only the bytes being replaced are avoided (the Detours rule). A thread running inside the
  // superseded region runs on there: its free is deferred by the backend until no thread's RIP,
  // register or stack word points into it, else the region is kept (see revertSteps). Its code
  // calls its own changed callees in the region, but an image entry this package newly
  // redirects is reached at its new body: when this package lists quiescent ranges (a new entry
  // reads arguments an old caller did not pass), the superseded code is such a caller too, as
  // far as the runtime can tell, so the whole superseded region joins the quiescent ranges.
  const avoid: VaRange[] = segmentRanges(base, changing);
  const quiescent: QuiescentRange[] =
    current === null || ctx.quiescent.length === 0 ? [...ctx.quiescent] : [...ctx.quiescent, { start: current.region.address, size: current.region.size, name: SUPERSEDED_CODE }];
  steps.push(...siteProtections.map((r): WriteStep => ({ op: 'protect', address: r.address, size: r.size, protection: PAGE_EXECUTE_READWRITE })));
  steps.push({ op: 'suspend-threads', avoid, attempts: ctx.threadAttempts, retryDelayMs: ctx.retryDelayMs, ...(quiescent.length === 0 ? {} : { quiescent }) });
  for (const s of changing) steps.push({ op: 'redirect', address: asVa(base + BigInt(s.rva)), expected: s.current, bytes: s.final });
  steps.push(...segmentRanges(base, segments).map((r): WriteStep => ({ op: 'flush', address: r.start, size: r.size })), { op: 'resume-threads' });
  steps.push(...siteProtections.map((r): WriteStep => ({ op: 'protect', address: r.address, size: r.size, protection: r.protection })));
  if (current !== null) {
    if (current.unwind !== null) steps.push({ op: 'deregister-unwind', ...current.unwind });
    steps.push({ op: 'free', address: current.region.address, size: current.region.size });
  }
  return steps;
}

/** The image ranges of this plan's own writes (what revert rewrites). */
export function ownRanges(base: Va, own: readonly OwnSegment[]): VaRange[] {
  return own.map((s) => rangeAt(base, s.rva, s.bytes.length));
}

/**
 * Revert: this plan's ranges (`own`) back to the baseline under suspended threads, then the
 * unwind table deregistered and the region released. `ownProtections` are the pages the span writes (storeProtectionRuns of `own`).
 *
 * The pause avoids only the bytes being put back, never the region: a thread running NEW code
 * in the region when the old entries return runs on there until it leaves (as a thread inside
 * old code does when a patch lands), and new code calling an old callee passes at least what
 * the old callee reads (undoing a signature change is the direction v1 is compiled for). The
 * region itself is only released when no thread can still run in it: `free` is deferred by the
 * backend to the end of the transaction, which releases it only while no thread's RIP, integer
 * register or stack word points into it, and otherwise keeps it allocated and reports it.
 * Avoiding the region in the pause instead made a revert fail (LIVE_THREAD_IN_SITE) whenever a
 * thread spends most of its time in patched code, e.g. a worker looping in a patched function.
 */
export function revertSteps(ctx: StepContext, own: readonly OwnSegment[], ownProtections: readonly ProtectionRun[]): WriteStep[] {
  const { base, region, regionSize } = ctx;
  const ranges = ownRanges(base, own);
  const revert: WriteStep[] = [
    ...ownProtections.map((r): WriteStep => ({ op: 'protect', address: r.address, size: r.size, protection: PAGE_EXECUTE_READWRITE })),
    { op: 'suspend-threads', avoid: ranges, attempts: ctx.threadAttempts, retryDelayMs: ctx.retryDelayMs },
    ...own.map((s): WriteStep => ({ op: 'redirect', address: asVa(base + BigInt(s.rva)), expected: s.applied, bytes: s.bytes })),
    ...ranges.map((r): WriteStep => ({ op: 'flush', address: r.start, size: r.size })),
    { op: 'resume-threads' },
    ...ownProtections.map((r): WriteStep => ({ op: 'protect', address: r.address, size: r.size, protection: r.protection })),
  ];
  if (ctx.unwind !== null) revert.push({ op: 'deregister-unwind', ...ctx.unwind });
  revert.push({ op: 'free', address: region, size: regionSize });
  return revert;
}
