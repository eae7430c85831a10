/**
 * What every fuzz case returns and the invariant every refusal keeps: an error code of the
 * right stage and a one-line message (test/fuzz/surfaces.ts, test/fuzz/sealed-cases.ts).
 */

export type Rng = () => number;
export type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/** A broken invariant: the harness counts the case as a crash. */
export class Invariant extends Error {}

/** `ok`, or the code after checking it has one of `prefixes` and a one-line message. */
export function outcome(r: Outcome, prefixes: readonly string[], what: string): string {
  if (r.ok) return 'ok';
  const { code, message } = r.error;
  if (!prefixes.some((p) => code.startsWith(p))) throw new Invariant(`${what}: error code ${code} is not one of ${prefixes.join('/')}* (${message})`);
  if (message.includes('\n')) throw new Invariant(`${what}: ${code} message has more than one line`);
  return code;
}

export const pick = <T>(xs: readonly T[], r: Rng): T => xs[Math.floor(r() * xs.length)]!;
