/**
 * What the diff says: each function's status and verdict, each changed piece of data, and
 * how each redirected function's entry will be overwritten.
 */
import type { Rva } from '../../common/types.ts';
import type { MatchHow, MatchResult } from '../match/match-images.ts';
import type { Reason } from './reasons.ts';

export type FunctionStatus = 'unchanged' | 'changed' | 'added' | 'removed';
export type Verdict = 'hotpatchable' | 'refused';

/** How an old function's entry will be redirected. */
export type RedirectPlan = { readonly kind: 'jmp-rel32' } | { readonly kind: 'short-to-pad'; readonly padRva: Rva };

/** One function of the diff. */
export interface FunctionChange {
  readonly name: string | null;
  readonly oldIndex: number | null;
  readonly newIndex: number | null;
  readonly oldRva: Rva | null;
  readonly newRva: Rva | null;
  readonly oldSize: number;
  readonly newSize: number;
  readonly status: FunctionStatus;
  /** Null for unchanged functions. */
  readonly verdict: Verdict | null;
  /** Why it is refused; for a changed function whose own form is equal, why it is carried. */
  readonly reason: Reason | null;
  readonly matchedBy: MatchHow | null;
  /** Changed only because read-only data it references changed (its code is the same). */
  readonly dataOnly: boolean;
  /** For changed functions that can be redirected. */
  readonly redirect: RedirectPlan | null;
}

/** One changed or added piece of data (or a whole-image property such as exports). */
export interface DataChange {
  readonly name: string | null;
  readonly section: string | null;
  readonly oldRva: Rva | null;
  readonly newRva: Rva | null;
  readonly size: number;
  readonly status: 'changed' | 'added' | 'removed';
  readonly verdict: Verdict;
  readonly reason: Reason;
}

/** The diff of two images. */
export interface ImageDiff {
  readonly match: MatchResult;
  /** Every function, new-image order first, then removed ones. */
  readonly functions: readonly FunctionChange[];
  readonly data: readonly DataChange[];
  readonly hotpatchable: boolean;
  readonly counts: { readonly unchanged: number; readonly changed: number; readonly added: number; readonly removed: number; readonly refused: number };
  /** Status of each new function by index. */
  readonly newStatus: readonly FunctionStatus[];
  /**
   * New functions (funclets reached only through exception-handler tables) that the package
   * carries with their group but does not redirect: recorded as added code.
   */
  readonly funcletsWithoutRedirect: ReadonlySet<number>;
  /** New function index -> every member of its exception-handling group (itself included). */
  readonly ehGroupOf: ReadonlyMap<number, readonly number[]>;
}
