/**
 * Diff: each function unchanged / changed / added / removed, each changed piece of data,
 * and a verdict per change: hotpatchable, or refused with a precise reason.
 *
 * "Unchanged" means equal exact normalised forms (compiler/match/normalise.ts), so layout
 * shifts alone give an empty diff, and a function whose code bytes are equal but whose
 * read-only data changed is changed. Refusals (a wrong "safe" is the worst bug here):
 * - writable data: a writable section's size or normalised initial contents changed, a
 *   referenced global has no counterpart, TLS changed;
 * - exports or the entry point changed;
 * - a redirect site that cannot hold a jump: the old function is shorter than 5 bytes and
 *   the bytes after it are not int3/nop padding, and no 5-byte padding run is reachable with
 *   a 2-byte short jump (short-to-pad);
 * - the thread rule: a branch target or a call's return address inside the bytes the
 *   redirect overwrites (a thread resuming there would run half a jump);
 * - code the analysis could not follow (undecodable bytes, an unbounded indirect jump),
 *   references that cannot be re-targeted (short branches leaving the function, MSVC
 *   image-relative tables, 32-bit absolute addresses), unwind data that cannot be carried.
 */
import { NO_PROGRESS, type Progress } from '../../common/progress.ts';
import { ok, type Result } from '../../common/errors.ts';
import type { PeFile } from '../../runtime/pe/types.ts';
import { mapImage } from '../image/map-image.ts';
import type { FunctionInfo } from '../image/types.ts';
import { analyzeImage, type ImageAnalysis } from '../match/analyze-image.ts';
import { matchImages, type MatchResult } from '../match/match-images.ts';
import { diffAccessLayout } from './access-layout.ts';
import { diffImageLevel, diffOffsetsUsed, diffWritable } from './data-changes.ts';
import { ehGroups } from './eh-groups.ts';
import { diffExportedData } from './exported-data.ts';
import { changeStatus } from './function-status.ts';
import { diffOrphanCode } from './orphan-code.ts';
import type { DataChange, FunctionChange, FunctionStatus, ImageDiff } from './types.ts';
import type { Reason } from './reasons.ts';
import { reachableReason, stillReachable } from './still-reachable.ts';
import { settleVerdicts, type Verdicts } from './verdicts.ts';

export type { DataChange, FunctionChange, FunctionStatus, ImageDiff, RedirectPlan, Verdict } from './types.ts';
export { emissionProblem } from './emission-check.ts';
export { layoutRanges } from '../functions/layout-parts.ts';
export { oldRodataByKey } from './resolve-target.ts';
export { planRedirect } from './redirect-sites.ts';
export { REASON_CODES, type Reason, type ReasonCode } from './reasons.ts';

/** A parsed PE file with its bytes. */
export interface PeInput {
  readonly bytes: Uint8Array;
  readonly pe: PeFile;
}

/** Maps and analyses one image (exposed so callers can reuse it). */
export function prepareImage(input: PeInput, progress: Progress = NO_PROGRESS): Result<ImageAnalysis> {
  const img = mapImage(input.bytes, input.pe);
  if (!img.ok) return img;
  return analyzeImage(img.value, progress);
}

/** Diffs OLD against NEW; `progress` hears the functions, match and diff stages. */
export function diffImages(oldIn: PeInput, newIn: PeInput, progress: Progress = NO_PROGRESS): Result<ImageDiff> {
  if (oldIn.pe.format !== 'PE32+' || newIn.pe.format !== 'PE32+') return errOf('DIFF_NOT_X64', 'only x86-64 (PE32+) images are supported');
  if (oldIn.pe.fileHeader.machine !== 0x8664 || newIn.pe.fileHeader.machine !== 0x8664) return errOf('DIFF_NOT_X64', 'only x86-64 (machine 0x8664) images are supported');
  progress({ stage: 'functions', done: 0, total: 2, unit: 'images' });
  // Decoding the functions is the long part: counted per image (`functions 640/2210 functions of OLD`).
  const of = (side: string): Progress => (e) => progress({ ...e, ...(e.unit === undefined ? {} : { unit: `${e.unit} of ${side}` }) });
  const oa = prepareImage(oldIn, of('OLD'));
  if (!oa.ok) return oa;
  progress({ stage: 'functions', done: 1, total: 2, unit: 'images' });
  const na = prepareImage(newIn, of('NEW'));
  if (!na.ok) return na;
  const fns = (a: ImageAnalysis): number => a.fns.functions.length;
  progress({ stage: 'match', done: 0, total: fns(oa.value) + fns(na.value), unit: 'functions' });
  const m = matchImages(oa.value, na.value);
  progress({ stage: 'diff', done: 0, total: fns(na.value), unit: 'functions' });
  return ok(diffAnalyses(m));
}

function errOf(code: string, message: string): Result<never> {
  return { ok: false, error: { code, message } };
}

/**
 * Diffs two matched analyses: each function's status (changed functions pull their
 * exception-handling group and the functions jumping into their bodies along), the data
 * changes a hotpatch cannot make, then a verdict per change, settled to a fixed point.
 */
export function diffAnalyses(m: MatchResult): ImageDiff {
  const eh = ehGroups(m);
  const { status, why, forcedByGroup } = changeStatus(m, eh);
  const data = [...diffWritable(m), ...diffOffsetsUsed(m), ...diffAccessLayout(m), ...diffImageLevel(m, status), ...diffExportedData(m), ...diffOrphanCode(m)];
  const verdicts = settleVerdicts(m, status, eh, data);
  // A refused group stays old as a whole: its members that changed only to travel with it
  // are unchanged again (their old code is NEW's code, with the old tables it goes with).
  for (const k of forcedByGroup) {
    if (!verdicts.reasons.has(k)) continue;
    status[k] = 'unchanged';
    verdicts.reasons.delete(k);
    why.delete(k);
  }
  // Old functions with no counterpart that the patched image still reaches (still-reachable.ts).
  const leftActive = stillReachable(m, (o) => {
    const n = m.fnOldToNew[o]!;
    return status[n] === 'unchanged' || verdicts.reasons.has(n) || (status[n] === 'changed' && !verdicts.redirects.has(n));
  });
  const functions = functionChanges(m, status, why, verdicts, leftActive);
  const refused = functions.filter((f) => f.verdict === 'refused').length + data.filter((d) => d.verdict === 'refused').length;
  const counts = {
    unchanged: functions.filter((f) => f.status === 'unchanged').length,
    changed: functions.filter((f) => f.status === 'changed').length,
    added: functions.filter((f) => f.status === 'added').length,
    removed: functions.filter((f) => f.status === 'removed').length,
    refused,
  };
  return { match: m, functions, data, hotpatchable: refused === 0, counts, newStatus: status, funcletsWithoutRedirect: eh.noRedirect, ehGroupOf: eh.groupOf };
}

/** One entry per NEW function (in NEW order), then one per removed OLD function. */
function functionChanges(m: MatchResult, status: readonly FunctionStatus[], why: ReadonlyMap<number, Reason>, verdicts: Verdicts, leftActive: ReadonlyMap<number, string>): FunctionChange[] {
  const oldFns = m.old.fns.functions;
  const functions: FunctionChange[] = [];
  for (const f of m.new.fns.functions) {
    const st = status[f.index]!;
    const o = m.fnNewToOld[f.index]!;
    const of = o >= 0 ? oldFns[o]! : null;
    const reason = verdicts.reasons.get(f.index) ?? null;
    const redirect = verdicts.redirects.get(f.index) ?? null;
    functions.push({
      name: f.name ?? of?.name ?? null,
      oldIndex: of?.index ?? null,
      newIndex: f.index,
      oldRva: of?.entry ?? null,
      newRva: f.entry,
      oldSize: of === null ? 0 : sizeOf(of),
      newSize: sizeOf(f),
      status: st,
      verdict: st === 'unchanged' ? null : reason === null ? 'hotpatchable' : 'refused',
      reason: reason ?? (st === 'changed' ? (why.get(f.index) ?? null) : null),
      matchedBy: m.fnHow.get(f.index) ?? null,
      dataOnly: st === 'changed' && of !== null && m.oldNorm.functionForm(of, 'code') === m.newNorm.functionForm(f, 'code'),
      redirect,
    });
  }
  for (const of of oldFns) {
    if (m.fnOldToNew[of.index] !== -1) continue;
    functions.push({
      name: of.name,
      oldIndex: of.index,
      newIndex: null,
      oldRva: of.entry,
      newRva: null,
      oldSize: sizeOf(of),
      newSize: 0,
      status: 'removed',
      verdict: leftActive.has(of.index) ? 'refused' : 'hotpatchable',
      reason: leftActive.has(of.index) ? reachableReason(leftActive.get(of.index)!, of.entry) : null,
      matchedBy: null,
      dataOnly: false,
      redirect: null,
    });
  }
  return functions;
}

/** Total bytes of a function's ranges. */
export function sizeOf(f: FunctionInfo): number {
  return f.ranges.reduce((s, r) => s + (r.end - r.start), 0);
}
