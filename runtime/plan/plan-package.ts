/**
 * Planning: from a loaded, verified package and a target (through its backend) compute the
 * write plan. Nothing is written here; every check that can refuse happens here, so a
 * refused package leaves the target untouched (zero backend steps executed).
 *
 * Order of checks, one step each: series, target identity (machine, TimeDateStamp,
 * SizeOfImage, CheckSum, CodeView GUID/age, the relied-on bytes hash) and original bytes at
 * every redirect site, those the relied ranges cover taken from the checked image (check-target.ts) → sealed
 * blocks (format 2.2) decoded against the same checked image (formats/seal.ts), and unwind
 * blobs stored by reference (2.3) copied from it (formats/unwind-ref.ts) → blocks, delta bases and layout (layout-region.ts)
 * → a free region within ±2 GB (within 2 GB above the image base when the package holds
 * imagerel32 fixups) → imports and every fixup (targets resolved here, fields written and
 * range-checked by the wasm core: runtime/pe/apply-fixups.ts) and the unwind table
 * (fill-region.ts) → redirect encodings and reach (plan-redirects.ts) → steps
 * (plan-steps.ts). Each step is a function of its inputs; only this file reads the target
 * through the backend (the module view, a free region, imports, page protections).
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa } from '../../common/types.ts';
import { checkBudget } from '../../formats/validate.ts';
import { unsealPackage } from '../../formats/seal.ts';
import { openUnwinds } from '../../formats/unwind-ref.ts';
import { openRefScans } from '../../formats/ref-scan.ts';
import type { HotpatchPackage } from '../../formats/package.ts';
import { preferredView, readModuleView } from '../image/module-view.ts';
import type { ProcessBackend } from './backend.ts';
import { baselineOf, checkIdentity, checkRedirectSites, checkReliedBytes, checkSeries, withExpectedFromImage } from './check-target.ts';
import { fillRegion, resolveImports } from './fill-region.ts';
import { mappedSections } from './identity-mismatch.ts';
import { checkBlocks, checkImageRelativeReach, layoutRegion, type RegionLayout } from './layout-region.ts';
import { planRedirects } from './plan-redirects.ts';
import { applySteps, ownRanges, quiescentRanges, revertSteps, storeProtectionRuns, segmentRanges, segmentsOf, touchedSegments, type StepContext } from './plan-steps.ts';
import { now, type PlanTiming } from './timing.ts';
import { WRITE_PLAN_VERSION, type PlannedFunction, type WritePlan } from './write-plan.ts';

export { checkIdentity } from './check-target.ts';
export { MAX_REGION } from './layout-region.ts';
export type { PlanTiming } from './timing.ts';

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

/**
 * Computes the write plan for applying `pkg` to the module `backend.module` (see the module
 * comment for the order of checks). Reads the target; never writes.
 */
export async function planPackage(given: HotpatchPackage, backend: ProcessBackend, options: PlanOptions = {}): Promise<Result<{ plan: WritePlan; timing: PlanTiming }>> {
  const t0 = now();
  const current = options.current ?? null;
  // The package may come straight from a library caller, unvalidated: its declared block
  // sizes are summed before any block is materialised (formats/validate.ts checkBudget).
  const budget = checkBudget(given);
  if (!budget.ok) return err('PLAN_TOO_LARGE', budget.error.message);
  const series = checkSeries(given, current);
  if (!series.ok) return series;

  // Is it this build? Header fields, then the relied-on bytes as they were before any
  // applied patch (seen at the package's image base), then every redirect site.
  const viewR = await readModuleView(backend);
  if (!viewR.ok) return viewR;
  const view = viewR.value;
  const base = view.base;
  const id = checkIdentity(given, view);
  if (!id.ok) return id;
  const baseline = baselineOf(view, current);
  const preferred = preferredView(view, given.target.imageBase, baseline.restore);
  const relied = await checkReliedBytes(given, preferred, options.reference);
  if (!relied.ok) return relied;
  // Expected bytes left out of covered redirect sites (format 2.1) come from the checked image.
  const full = withExpectedFromImage(given, preferred);
  if (!full.ok) return full;
  // Sealed blocks (format 2.2) decoded against the same checked bytes: the relied ranges cover
  // every dictionary range. One function for the runtime and the compiler's paper image.
  const opened = unsealPackage(full.value, preferred);
  if (!opened.ok) return err('PLAN_PACKAGE', `sealed bytes: ${opened.error.message}`, opened.error.offset);
  // Unwind blobs stored by reference (format 2.3) copied from the same checked bytes.
  const unwound = openUnwinds(opened.value, preferred);
  if (!unwound.ok) return err('PLAN_PACKAGE', `unwind by reference: ${unwound.error.message}`, unwound.error.offset);
  // Reference fields left to the scan (format 2.6) listed, read from the same checked bytes.
  const scanned = openRefScans(unwound.value, preferred);
  if (!scanned.ok) return err('PLAN_PACKAGE', `scanned references: ${scanned.error.message}`, scanned.error.offset);
  const pkg = scanned.value;
  const sections = mappedSections(preferred);
  const sites = checkRedirectSites(pkg, preferred, sections);
  if (!sites.ok) return sites;

  // The region: layout, a place for it, its bytes.
  const blocks = checkBlocks(pkg);
  if (!blocks.ok) return blocks;
  const blockMs = new Map<number, number>();
  const laid = await layoutRegion(pkg, preferred, sections, blockMs);
  if (!laid.ok) return laid;
  const layout = laid.value;
  const regionAt = await backend.findFreeRegion({ start: base, size: view.sizeOfImage }, layout.regionSize);
  if (!regionAt.ok) return regionAt;
  const region = regionAt.value;
  const reach = checkImageRelativeReach(pkg, base, region, layout.regionSize);
  if (!reach.ok) return reach;
  const importAddr = await resolveImports(pkg, view, backend);
  if (!importAddr.ok) return importAddr;
  const place = { base, sizeOfImage: view.sizeOfImage, region, unwindBase: region < base ? region : base };
  const regionBytes = fillRegion(pkg, layout, place, importAddr.value, blockMs);
  if (!regionBytes.ok) return regionBytes;

  // The redirects, then the steps that apply and revert them.
  const redirects = planRedirects(pkg, layout, base, region, view.bytes, baseline.bytes);
  if (!redirects.ok) return redirects;
  const segments = touchedSegments(redirects.value.writes, baseline.underApplied, view.bytes, baseline.bytes);
  const siteProtections = await storeProtectionRuns(backend, segmentRanges(base, segments));
  if (!siteProtections.ok) return siteProtections;
  const own = segmentsOf(redirects.value.ranges.flat(), baseline.bytes);
  const ownProtections = await storeProtectionRuns(backend, ownRanges(base, own));
  if (!ownProtections.ok) return ownProtections;
  const ctx: StepContext = {
    base,
    region,
    regionSize: layout.regionSize,
    // A quiescent range (format 2.4) is a whole function a thread may loop in, not a few bytes:
    // more tries before refusing (at load ~15 on 2 cores, 50 tries of 2 ms sometimes missed a
    // worker that is outside old run half the time: test/quiesce-live.test.ts).
    threadAttempts: options.threadAttempts ?? ((pkg.quiescent ?? []).length > 0 ? 200 : 50),
    retryDelayMs: options.retryDelayMs ?? 2,
    unwind: layout.entryCount > 0 ? { table: asVa(region + BigInt(layout.tableOffset)), entryCount: layout.entryCount, base: asVa(place.unwindBase) } : null,
    quiescent: quiescentRanges(pkg, base),
  };
  const plan: WritePlan = {
    version: WRITE_PLAN_VERSION,
    series: { baseline: pkg.series.baselineId, sequence: pkg.series.sequence },
    image: { base, sizeOfImage: view.sizeOfImage, name: backend.module.name },
    region: { address: region, size: layout.regionSize, codeSize: layout.codeSize },
    unwind: ctx.unwind,
    redirects: redirects.value.redirects,
    functions: plannedFunctions(pkg, layout, ctx),
    supersedes: current?.series.sequence ?? null,
    steps: applySteps(ctx, layout, regionBytes.value, segments, siteProtections.value, current),
    revert: revertSteps(ctx, own, ownProtections.value),
  };
  return ok({ plan, timing: { totalMs: now() - t0, blockMs } });
}

/** Where each of the package's functions sits: its old entry, and its body in the region. */
function plannedFunctions(pkg: HotpatchPackage, layout: RegionLayout, ctx: StepContext): PlannedFunction[] {
  return pkg.functions.map((f) => {
    const b = layout.placed.get(f.blockId);
    return {
      name: f.name,
      status: f.status,
      oldVa: f.oldRva === null ? null : asVa(ctx.base + BigInt(f.oldRva)),
      bodyVa: asVa(ctx.region + BigInt((b?.offset ?? 0) + f.blockOffset)),
      size: f.newSize,
    };
  });
}
