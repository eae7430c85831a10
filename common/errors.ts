/**
 * Errors are values: `{ code, message, offset? }`. `code` is a stable upper-snake-case id
 * whose prefix names the stage that refused (PE_, PKG_, DIFF_, BUILD_, PLAN_, APPLY_, LIVE_,
 * ...); the CLI turns the prefix into its exit code (see exitCodeOf), so scripts can branch
 * on either. `throw` is reserved for programmer bugs.
 */
export interface HotpatchError {
  /** Stable id, e.g. `PE_TRUNCATED`. Never reworded once released. */
  readonly code: string;
  /** One line, for people. */
  readonly message: string;
  /** Where in the input the problem sits (file offset, package byte, RVA: the message says which). */
  readonly offset?: number;
}

export type Result<T, E = HotpatchError> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err(code: string, message: string, offset?: number): { readonly ok: false; readonly error: HotpatchError } {
  return { ok: false, error: offset === undefined ? { code, message } : { code, message, offset } };
}

/**
 * Exit codes by stage. 1 is left to crashes (a bug), 2 to usage errors.
 * The table is part of the CLI contract: add prefixes, never renumber.
 */
const EXIT_BY_PREFIX: ReadonlyArray<readonly [string, number]> = [
  ['USAGE_', 2],
  ['IO_', 3],
  ['PE_', 10],
  ['PKG_', 20],
  ['SIG_', 21],
  ['DIFF_', 30],
  ['BUILD_', 31],
  ['VERIFY_', 32],
  ['PLAN_', 40],
  ['APPLY_', 41],
  ['REVERT_', 42],
  ['LIVE_', 50],
  ['SAMPLES_', 60],
  ['BENCH_', 70],
  ['BUNDLE_', 34],
];

/** The process exit code for an error code (stable; see EXIT_BY_PREFIX). */
export function exitCodeOf(code: string): number {
  for (const [prefix, exit] of EXIT_BY_PREFIX) if (code.startsWith(prefix)) return exit;
  return 1;
}

/** `CODE: message (at 0x1f)`: the one line the CLI prints for an error. */
export function formatError(e: HotpatchError): string {
  const at = e.offset === undefined ? '' : ` (at 0x${e.offset.toString(16)})`;
  return `${e.code}: ${e.message}${at}`;
}
