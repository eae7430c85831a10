/**
 * The committed list of fuzz cases known to fail (test/fuzz/known-failures.json). It may
 * only shrink: test/fuzz/fuzz.test.ts checks that no commit in its git history added an
 * entry, and that every listed case still fails (a fixed one must be taken off the list).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FailureKind, FuzzFailure } from './harness.ts';

export const KNOWN_FAILURES_PATH = fileURLToPath(new URL('./known-failures.json', import.meta.url));

/** One known failing case. */
export interface KnownFailure {
  readonly surface: string;
  readonly seed: number;
  readonly case: number;
  readonly kind: FailureKind;
  /** Why it is still on the list (an issue number, a reason). */
  readonly reason: string;
}

/** Parses a known-failures document (the committed one when `text` is omitted). */
export function readKnownFailures(text = readFileSync(KNOWN_FAILURES_PATH, 'utf8')): KnownFailure[] {
  const doc = JSON.parse(text) as { failures: KnownFailure[] };
  return doc.failures;
}

/** The stable key of a case. */
export function failureKey(f: { surface: string; seed: number; case: number }): string {
  return `${f.surface}/${f.seed}/${f.case}`;
}

/** True when `f` is on the list. */
export function isKnown(list: readonly KnownFailure[], f: FuzzFailure): boolean {
  return list.some((k) => failureKey(k) === failureKey(f));
}
