/**
 * The safety half of the true-change audit (#14): every function the compiler calls unchanged
 * that the independent diff (independent-diff.ts) calls changed. Such a function gets no new
 * code and no redirect, so if the independent method is right the patch leaves a real change
 * out. Checked twice: under the independent method's own pairing and under the compiler's
 * pairing (function references named through the compiler's pairs, so only the bodies decide).
 *
 * The independent method guesses that an unrelocated aligned dword of read-only data is an RVA
 * when it lands on a plausible target; integer tables hold such dwords too (sharp's Winsock
 * error table, 0x271d = 10013). A disagreement whose forms are equal when those dwords stay
 * bytes (`equalEitherReading`) differs only in what identical bytes would point at: it is listed as
 * explained, the rest as hidden changes.
 */
import type { ImageDiff } from '../compiler/index.ts';
import { independentDiff, type IndDiff } from './independent-diff.ts';

/** One function the compiler calls unchanged and the independent method changed. */
export interface Disagreement {
  readonly old: number;
  readonly new: number;
  /** Whose pairing the independent forms were compared under. */
  readonly pairing: 'independent' | 'compiler';
  /** What the compiler says about the old function. */
  readonly tool: string;
  /** Every instruction equal under one reading of read-only dwords (see the module comment). */
  readonly equalEitherReading: boolean;
}

/** The compiler's view and the independent counts, with every disagreement. */
export interface TrueChangeCheck {
  readonly independent: { readonly changed: number; readonly added: number; readonly removed: number };
  readonly disagreements: readonly Disagreement[];
  /** Compiler changes the independent method calls unchanged (the conservative direction). */
  readonly extraChanges: readonly number[];
}

const hex = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `0x${v.toString(16)}`);

/** The independent diff under its own pairing and under the compiler's (function pairs of `tool`). */
export interface IndependentViews {
  readonly own: IndDiff;
  readonly underTool: IndDiff;
}

/** Runs the independent diff both ways (the slow part: seconds per pair). */
export function independentViews(oldBytes: Uint8Array, newBytes: Uint8Array, tool: ImageDiff): IndependentViews {
  const toolPairs = new Map<number, number>(tool.functions.filter((f) => f.oldRva !== null && f.newRva !== null).map((f) => [f.oldRva!, f.newRva!]));
  return { own: independentDiff(oldBytes, newBytes), underTool: independentDiff(oldBytes, newBytes, toolPairs) };
}

/** Checks `tool` (the compiler's diff of the pair) against the independent views of the same pair. */
export function checkTrueChange(tool: ImageDiff, views: IndependentViews): TrueChangeCheck {
  const byOld = new Map<number, ImageDiff['functions'][number]>(tool.functions.filter((f) => f.oldRva !== null).map((f) => [f.oldRva!, f]));
  const says = (o: number): string => {
    const t = byOld.get(o);
    return t === undefined ? 'no such function' : `${t.status} ${hex(t.oldRva)} -> ${hex(t.newRva)}${t.verdict ? ` ${t.verdict}` : ''}${t.matchedBy ? ` by ${t.matchedBy}` : ''}`;
  };
  const out: Disagreement[] = [];
  for (const [pairing, ind] of [['independent', views.own], ['compiler', views.underTool]] as const) {
    for (const x of ind.pairs) {
      if (x.status === 'changed' && byOld.get(x.old)?.status === 'unchanged') out.push({ old: x.old, new: x.new, pairing, tool: says(x.old), equalEitherReading: x.equalEitherReading });
    }
  }
  const ind = views.own;
  const indByOld = new Map(ind.pairs.map((x) => [x.old, x]));
  const extraChanges = tool.functions.filter((f) => f.status === 'changed' && indByOld.get(f.oldRva!)?.status === 'unchanged' && indByOld.get(f.oldRva!)?.new === f.newRva).map((f) => f.oldRva!);
  return { independent: { changed: ind.pairs.filter((x) => x.status === 'changed').length, added: ind.added.length, removed: ind.removed.length }, disagreements: out, extraChanges };
}

/** One line per disagreement, for the audit's output and test messages. */
export function describeDisagreement(d: Disagreement): string {
  return `${d.equalEitherReading ? 'explained (equal line by line under one reading of read-only dwords)' : 'HIDDEN CHANGE'}: ${hex(d.old)} -> ${hex(d.new)} changed under the ${d.pairing} pairing | tool: ${d.tool}`;
}
