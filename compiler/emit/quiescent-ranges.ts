/**
 * Quiescent ranges (format 2.4) written into the package: the old bodies of the callers
 * diff/quiescent-callers.ts finds among the functions this package redirects.
 */
import type { MatchResult } from '../match/match-images.ts';
import { findQuiescentCallers, quiescentRangesOf, redirectedOld } from '../diff/quiescent-callers.ts';
import type { EmittedPackage } from './types.ts';

/** The emitted package with its quiescent ranges (none: unchanged). */
export function withQuiescentRanges(m: MatchResult, e: EmittedPackage): EmittedPackage {
  const ranges = quiescentRangesOf(findQuiescentCallers(m, redirectedOld(m, e.pkg)));
  return ranges.length === 0 ? e : { ...e, pkg: { ...e.pkg, quiescent: ranges } };
}
