/**
 * Planning, first steps: is this package for this image? The series (same baseline, newer
 * sequence), the build identity (machine, TimeDateStamp, SizeOfImage, CheckSum, CodeView
 * GUID/age, the relied-on bytes hash) and the original bytes at every redirect site. Each
 * check reads only its arguments and returns a verdict; none touches the target.
 */
import { err, ok, type Result } from '../../common/errors.ts';
import { hex, type Va } from '../../common/types.ts';
import { REDIRECT_PAD_LENGTH, REDIRECT_SITE_LENGTH, reliedHashMatches, type HotpatchPackage, type Redirect } from '../../formats/package.ts';
import { coveredByRelied } from '../../formats/validate.ts';
import type { ModuleView } from '../image/module-view.ts';
import { toHex } from '../pe/sha256.ts';
import { gather } from '../../formats/delta-index.ts';
import { sha256 } from './hash.ts';
import { describeBytesMismatch, describeReliedMismatch, type MappedSectionHeader } from './identity-mismatch.ts';
import type { WritePlan } from './write-plan.ts';

/** A run of bytes at an RVA. */
export interface RvaBytes {
  readonly rva: number;
  readonly bytes: Uint8Array;
}

export function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A package continues the applied plan's series (same baseline, newer sequence), or applies to a pristine image. */
export function checkSeries(pkg: HotpatchPackage, current: WritePlan | null): Result<void> {
  if (current === null) return ok(undefined);
  if (current.series.baseline !== pkg.series.baselineId) {
    return err('PLAN_SERIES', `package belongs to series "${pkg.series.baselineId}", the image has series "${current.series.baseline}" applied (revert it first)`);
  }
  if (pkg.series.sequence <= current.series.sequence) {
    return err('PLAN_SEQUENCE', `package sequence ${pkg.series.sequence} is not newer than the applied sequence ${current.series.sequence}`);
  }
  return ok(undefined);
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
  // A CodeView record whose data is only in the file cannot be read from memory; the other
  // fields and the relied-on bytes hash still pin the build.
  if (view.codeView !== 'unmapped' && (t.codeView !== null || view.codeView !== null)) {
    if (t.codeView === null) diffs.push('CodeView: none in package, present in image');
    else if (view.codeView === null) diffs.push('CodeView: present in package, none in image');
    else {
      if (!eqBytes(t.codeView.guid, view.codeView.guid)) diffs.push(`CodeView GUID ${toHex(t.codeView.guid)} in package, ${toHex(view.codeView.guid)} in image`);
      if (t.codeView.age !== view.codeView.age) diffs.push(`CodeView age ${t.codeView.age} in package, ${view.codeView.age} in image`);
    }
  }
  if (diffs.length > 0) return err('PLAN_IDENTITY', `package is for another build: ${diffs.join('; ')}`);
  return ok(undefined);
}

/** The image as it was before the applied plan (if any) redirected it, as loaded (relocated). */
export interface Baseline {
  /** The applied plan's redirect writes, undone: what `view.bytes` held there before it. */
  readonly restore: readonly RvaBytes[];
  /** Byte by byte, the baseline under the applied plan's redirects (rva -> byte). */
  readonly underApplied: ReadonlyMap<number, number>;
  /** The whole image with `restore` applied. */
  readonly bytes: Uint8Array;
}

/** The baseline image under the applied plan `current` (the image itself when null). */
export function baselineOf(view: ModuleView, current: WritePlan | null): Baseline {
  const rvaOf = (va: Va): number => Number(va - view.base);
  const underApplied = new Map<number, number>();
  for (const r of current?.redirects ?? []) for (const w of r.writes) w.original.forEach((b, i) => underApplied.set(rvaOf(w.address) + i, b));
  const restore = (current?.redirects ?? []).flatMap((r) => r.writes.map((w) => ({ rva: rvaOf(w.address), bytes: w.original })));
  const bytes = view.bytes.slice();
  for (const r of restore) if (r.rva >= 0 && r.rva + r.bytes.length <= bytes.length) bytes.set(r.bytes, r.rva);
  return { restore, underApplied, bytes };
}

/**
 * The relied-on bytes of `preferred` (the baseline seen at the package's image base) hash to
 * the package's. On a mismatch `reference` (a copy of the package's build), if given, lets
 * the verdict name the first differing byte.
 */
export async function checkReliedBytes(pkg: HotpatchPackage, preferred: Uint8Array, reference: (() => Promise<Uint8Array | null>) | undefined): Promise<Result<void>> {
  // Since format 1.3 a package relying on no bytes carries no hash (validation checks both).
  if (pkg.target.reliedRanges.length === 0 && pkg.target.reliedSha256.length === 0) return ok(undefined);
  const relied = gather(preferred, pkg.target.reliedRanges);
  if (relied === null) return err('PLAN_IDENTITY', 'package relies on bytes outside the image');
  const reliedHash = await sha256(relied);
  if (reliedHashMatches(reliedHash, pkg.target.reliedSha256)) return ok(undefined);
  const copy = reference === undefined ? null : await reference().catch(() => null);
  const why = await describeReliedMismatch(pkg, preferred, copy);
  return err('PLAN_IDENTITY', `package is for another build: relied-on bytes hash ${toHex(reliedHash).slice(0, 16)}… in image, ${toHex(pkg.target.reliedSha256).slice(0, 16)}… in package; ${why}`);
}

/**
 * The package with every redirect's left-out expected bytes (format 2.1: a site, or pad, the
 * relied ranges cover) taken from `preferred`, whose relied bytes checkReliedBytes has just
 * compared with the package's hash: the bytes are then exactly the build's. A site without
 * expected bytes that the relied ranges do not cover is refused (a library caller may hand the
 * planner an unvalidated package).
 */
export function withExpectedFromImage(pkg: HotpatchPackage, preferred: Uint8Array): Result<HotpatchPackage> {
  if (pkg.redirects.every((r) => r.expected.length > 0 && (r.pad === null || r.pad.expected.length > 0))) return ok(pkg);
  const take = (rva: number, len: number, what: string): Result<Uint8Array> => {
    if (!coveredByRelied(pkg.target.reliedRanges, rva, len) || rva + len > preferred.length) return err('PLAN_PACKAGE', `${what} ${hex(rva)}: no expected bytes, and the relied ranges do not cover it`, rva);
    return ok(preferred.slice(rva, rva + len));
  };
  const redirects: Redirect[] = [];
  for (const r of pkg.redirects) {
    const expected = r.expected.length > 0 ? ok(r.expected) : take(r.oldRva, REDIRECT_SITE_LENGTH[r.kind], 'redirect site');
    if (!expected.ok) return expected;
    let pad = r.pad;
    if (pad !== null && pad.expected.length === 0) {
      const p = take(pad.rva, REDIRECT_PAD_LENGTH, 'redirect pad');
      if (!p.ok) return p;
      pad = { rva: pad.rva, expected: p.value };
    }
    redirects.push({ ...r, expected: expected.value, pad });
  }
  return ok({ ...pkg, redirects });
}

/** Every redirect site (and its pad) holds the bytes the package expects in `preferred`. */
export function checkRedirectSites(pkg: HotpatchPackage, preferred: Uint8Array, sections: readonly MappedSectionHeader[]): Result<void> {
  for (const r of pkg.redirects) {
    const got = preferred.subarray(r.oldRva, r.oldRva + r.expected.length);
    if (r.oldRva + r.expected.length > preferred.length || !eqBytes(got, r.expected)) {
      return err('PLAN_ORIGINAL_BYTES', `redirect site ${hex(r.oldRva)}: image has ${toHex(got)}, package expects ${toHex(r.expected)}; ${describeBytesMismatch(sections, r.oldRva, got, r.expected)}`, r.oldRva);
    }
    if (r.pad !== null) {
      const pad = preferred.subarray(r.pad.rva, r.pad.rva + r.pad.expected.length);
      if (!eqBytes(pad, r.pad.expected)) return err('PLAN_ORIGINAL_BYTES', `redirect pad ${hex(r.pad.rva)}: image has ${toHex(pad)}, package expects ${toHex(r.pad.expected)}; ${describeBytesMismatch(sections, r.pad.rva, pad, r.pad.expected)}`, r.pad.rva);
    }
  }
  return ok(undefined);
}
