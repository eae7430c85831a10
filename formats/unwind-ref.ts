/**
 * Unwind by reference (format 2.3, FORMAT.md "Unwind by reference"): a carried function's
 * UNWIND_INFO and handler data are mostly the old function's bytes, so a package may store the
 * blob as a delta against those old-image bytes (`Unwind.infoDelta`) instead of literally.
 *
 * One function turns such a package back into literal unwind blobs, for everyone who
 * materialises them: the runtime's planner (after checkReliedBytes has compared the relied
 * ranges, which cover every base range, with the package's hash) and the compiler's paper
 * image (compiler/verify), so both see exactly the same bytes. The unwind fixups then apply to
 * the blob as to a literal one: every field they name is written, whatever the old bytes held.
 */
import { err, ok, type Result } from '../common/errors.ts';
import type { CodeBlock, HotpatchPackage, Unwind } from './package.ts';
import { gather } from './delta-index.ts';
import { baseRanges, materialiseDelta } from './intra-refs.ts';
import { coveredByRelied } from './validate.ts';

/**
 * `pkg` with every unwind blob stored by reference made literal, the delta applied to the bytes
 * of its base ranges in `image` (the old image mapped at its preferred base, whose relied bytes
 * the caller has compared with the package's hash). Unchanged (the same object) when no blob is
 * stored so. PKG_INVALID when a base range is not covered by the relied ranges or lies outside
 * the image, or the delta does not produce its declared size (a library caller may pass an
 * unvalidated package): checked before any byte is read.
 */
export function openUnwinds(pkg: HotpatchPackage, image: Uint8Array): Result<HotpatchPackage> {
  if (!pkg.codeBlocks.some((b) => b.unwind?.infoDelta !== undefined)) return ok(pkg);
  const codeBlocks: CodeBlock[] = [];
  for (const b of pkg.codeBlocks) {
    const u = b.unwind;
    if (u === null || u.infoDelta === undefined) {
      codeBlocks.push(b);
      continue;
    }
    const opened = openUnwind(u, pkg, image, `block ${b.id} unwind`);
    if (!opened.ok) return opened;
    codeBlocks.push({ ...b, unwind: opened.value });
  }
  return ok({ ...pkg, codeBlocks });
}

function openUnwind(u: Unwind, pkg: HotpatchPackage, image: Uint8Array, what: string): Result<Unwind> {
  const d = u.infoDelta!;
  if (u.unwindInfo.length > 0) return err('PKG_INVALID', `${what}: both a literal blob and a delta`);
  if (d.baseSha256.length > 0) return err('PKG_INVALID', `${what}: an unwind delta carries no hash`);
  const ranges = baseRanges(d);
  for (const r of ranges) {
    if (r.length === 0 || !coveredByRelied(pkg.target.reliedRanges, r.rva, r.length)) {
      return err('PKG_INVALID', `${what}: base range 0x${r.rva.toString(16)}+${r.length} is not covered by the relied ranges`);
    }
  }
  const base = gather(image, ranges);
  if (base === null) return err('PKG_INVALID', `${what}: a base range lies outside the image`);
  const bytes = materialiseDelta(d, base, what);
  if (!bytes.ok) return err('PKG_INVALID', bytes.error.message);
  return ok({ runtimeFunctions: u.runtimeFunctions, unwindInfo: bytes.value, unwindFixups: u.unwindFixups });
}
