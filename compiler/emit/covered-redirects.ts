/**
 * Since format 2.1 a redirect leaves out the original bytes it expects at its site (and at
 * its pad) when the relied ranges cover them: the runtime hash-checks those ranges before any
 * write and takes the expected bytes from the same checked image (FORMAT.md, "Redirect"). The
 * site of a changed function stored as a delta against its old body always lies in its base,
 * so the 5 bytes are a second copy of what the relied hash already pins.
 */
import { coveredByRelied } from '../../formats/validate.ts';
import { REDIRECT_PAD_LENGTH, REDIRECT_SITE_LENGTH, type HotpatchPackage, type Redirect } from '../../formats/package.ts';
import type { EmittedPackage } from './types.ts';

const NONE = new Uint8Array(0);

/** `r` with its expected bytes left out where the relied ranges of `pkg` cover them. */
function withoutCoveredBytes(r: Redirect, pkg: HotpatchPackage): Redirect {
  const ranges = pkg.target.reliedRanges;
  const site = coveredByRelied(ranges, r.oldRva, REDIRECT_SITE_LENGTH[r.kind]);
  const pad = r.pad !== null && coveredByRelied(ranges, r.pad.rva, REDIRECT_PAD_LENGTH);
  if (!site && !pad) return r;
  return { ...r, expected: site ? NONE : r.expected, pad: r.pad === null ? null : { rva: r.pad.rva, expected: pad ? NONE : r.pad.expected } };
}

/** `pkg` with every covered redirect site's (and pad's) expected bytes left out. */
export function coverRedirects(pkg: HotpatchPackage): HotpatchPackage {
  return { ...pkg, redirects: pkg.redirects.map((r) => withoutCoveredBytes(r, pkg)) };
}

/** The emitted package with every covered redirect site's (and pad's) expected bytes left out. */
export function withCoveredRedirects(e: EmittedPackage): EmittedPackage {
  return { ...e, pkg: coverRedirects(e.pkg) };
}
