/**
 * Planning, the redirects: each redirect's jump encoded for where its target body landed in
 * the patch region (jmp rel32 when it reaches, jmp [rip] abs64, or a short jmp to a pad
 * holding a rel32), with no two redirects writing the same byte.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { asVa, hex, type Va } from '../../common/types.ts';
import type { HotpatchPackage, Redirect } from '../../formats/package.ts';
import type { RvaBytes } from './check-target.ts';
import type { RegionLayout } from './layout-region.ts';
import type { PlannedRedirect, RedirectWrite } from './write-plan.ts';

/** The planned redirects and, byte by byte, what they write. */
export interface RedirectPlan {
  readonly redirects: readonly PlannedRedirect[];
  /** rva -> byte this plan writes. */
  readonly writes: ReadonlyMap<number, number>;
  /** Each redirect's written ranges (a pad, then its site; or the site alone). */
  readonly ranges: readonly (readonly RvaBytes[])[];
}

function int32Fits(v: bigint): boolean {
  return v >= -0x8000_0000n && v <= 0x7fff_ffffn;
}

function jmpRel32(rel: bigint): Uint8Array {
  const j = new Uint8Array(5);
  j[0] = 0xe9;
  new DataView(j.buffer).setInt32(1, Number(rel), true);
  return j;
}

/** The bytes that send `r`'s site (at `base` + oldRva) to `target`, in write order. */
export function encodeRedirect(r: Redirect, base: Va, target: bigint): Result<RvaBytes[]> {
  const site = base + BigInt(r.oldRva);
  if (r.kind === 'jmp-rel32') {
    const rel = target - (site + 5n);
    if (!int32Fits(rel)) return err('PLAN_REDIRECT_RANGE', `redirect at ${hex(r.oldRva)}: jmp rel32 does not reach ${hex(target)}`, r.oldRva);
    return ok([{ rva: r.oldRva, bytes: jmpRel32(rel) }]);
  }
  if (r.kind === 'jmp-abs64') {
    const j = new Uint8Array(14);
    j.set([0xff, 0x25, 0, 0, 0, 0]);
    new DataView(j.buffer).setBigUint64(6, target, true);
    return ok([{ rva: r.oldRva, bytes: j }]);
  }
  if (r.pad === null) return err('PLAN_REDIRECT', `redirect at ${hex(r.oldRva)}: short-to-pad without a pad`, r.oldRva);
  const pad = base + BigInt(r.pad.rva);
  const short = pad - (site + 2n);
  if (short < -128n || short > 127n) return err('PLAN_REDIRECT_RANGE', `redirect at ${hex(r.oldRva)}: short jmp does not reach the pad at ${hex(r.pad.rva)}`, r.oldRva);
  const rel = target - (pad + 5n);
  if (!int32Fits(rel)) return err('PLAN_REDIRECT_RANGE', `redirect pad at ${hex(r.pad.rva)}: jmp rel32 does not reach ${hex(target)}`, r.pad.rva);
  const s = new Uint8Array([0xeb, Number(BigInt.asUintN(8, short))]);
  // The pad is dead padding: writing it first is harmless even to a running thread.
  return ok([{ rva: r.pad.rva, bytes: jmpRel32(rel) }, { rva: r.oldRva, bytes: s }]);
}

/**
 * Every redirect of `pkg` encoded for the region at `region`: its writes carry the image's
 * current bytes (`current`) and the baseline's (`baseline`) under each range.
 */
export function planRedirects(pkg: HotpatchPackage, layout: RegionLayout, base: Va, region: Va, current: Uint8Array, baseline: Uint8Array): Result<RedirectPlan> {
  const redirects: PlannedRedirect[] = [];
  const functionName = new Map<number, string | null>();
  for (const f of pkg.functions) if (f.oldRva !== null) functionName.set(f.oldRva, f.name);
  const writes = new Map<number, number>();
  const allRanges: RvaBytes[][] = [];
  for (const r of pkg.redirects) {
    const b = layout.placed.get(r.target.blockId);
    if (b === undefined || !b.code || r.target.offset >= b.bytes.length) return err('PLAN_REDIRECT', `redirect at ${hex(r.oldRva)}: target block ${r.target.blockId}+${hex(r.target.offset)} is not code in the package`, r.oldRva);
    const target = region + BigInt(b.offset + r.target.offset);
    const ranges = encodeRedirect(r, base, target);
    if (!ranges.ok) return ranges;
    for (const rg of ranges.value) {
      for (let i = 0; i < rg.bytes.length; i++) {
        if (writes.has(rg.rva + i)) return err('PLAN_REDIRECT_OVERLAP', `redirect at ${hex(r.oldRva)} overlaps another redirect at ${hex(rg.rva + i)}`, r.oldRva);
        writes.set(rg.rva + i, rg.bytes[i]!);
      }
    }
    allRanges.push(ranges.value);
    const planned: RedirectWrite[] = ranges.value.map((rg) => ({
      address: asVa(base + BigInt(rg.rva)),
      expected: current.slice(rg.rva, rg.rva + rg.bytes.length),
      bytes: rg.bytes,
      original: baseline.slice(rg.rva, rg.rva + rg.bytes.length),
    }));
    redirects.push({ name: functionName.get(r.oldRva) ?? null, functionVa: asVa(base + BigInt(r.oldRva)), target: asVa(target), kind: r.kind, writes: planned });
  }
  return ok({ redirects, writes, ranges: allRanges });
}
