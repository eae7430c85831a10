/**
 * The refused changes of a diff, as the CLI prints them and the bench counts them: what
 * (a function, a global, a section or the image) and its reason, grouped by reason code.
 */
import { hex } from '../../common/types.ts';
import type { Reason, ReasonCode } from './reasons.ts';
import type { ImageDiff } from './types.ts';

/** One refused change. */
export interface Refusal {
  /** `function NAME`, `global NAME`, `data SECTION` or `image`. */
  readonly what: string;
  readonly reason: Reason;
}

/** Every refused change: functions first (NEW order, then removed), then data. */
export function refusalsOf(d: ImageDiff): Refusal[] {
  const out: Refusal[] = [];
  for (const f of d.functions) {
    if (f.verdict !== 'refused' || f.reason === null) continue;
    out.push({ what: `function ${f.name ?? hex(f.newRva ?? f.oldRva ?? 0)}`, reason: f.reason });
  }
  for (const x of d.data) {
    if (x.verdict !== 'refused') continue;
    out.push({ what: x.name !== null ? `global ${x.name}` : x.section !== null ? `data ${x.section}` : 'image', reason: x.reason });
  }
  return out;
}

/** One line per refused change: `WHAT: message [CODE]`. */
export function refusalLines(d: ImageDiff): string[] {
  return refusalsOf(d).map((r) => `${r.what}: ${r.reason.message} [${r.reason.code}]`);
}

/** How many refusals each reason code has, most first (ties by code). */
export function refusalsByCode(d: ImageDiff): Array<{ readonly code: ReasonCode; readonly count: number }> {
  const counts = new Map<ReasonCode, number>();
  for (const r of refusalsOf(d)) counts.set(r.reason.code, (counts.get(r.reason.code) ?? 0) + 1);
  return [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
}
