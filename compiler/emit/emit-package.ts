/**
 * Emission: turns a diff into a package. Each changed function (and each added function the
 * patch reaches) is copied from NEW into its own code block, and every reference is
 * re-targeted at the OLD image through fixups: unchanged callees and data at their old
 * RVAs, changed or added callees at their blocks, new read-only data carried as data blocks,
 * new imports resolved at apply time. Jump tables are re-emitted after the code (entries
 * relative to the table, so constants); x64 unwind data (UNWIND_INFO + RUNTIME_FUNCTION
 * relative to the block, handler RVAs and GCC LSDA type entries as fixups) comes along so
 * exceptions unwind through the new code.
 */
import { ok, type Result } from '../../common/errors.ts';
import type { FunctionChange, ImageDiff } from '../diff/types.ts';
import { describeNew } from '../diff/resolve-target.ts';
import { leftOldNeighbours } from '../diff/left-old.ts';
import { withDeltas } from './deltas.ts';
import { withUnwindRefs } from './unwind-refs.ts';
import { withRefScans } from './ref-scans.ts';
import { withCoveredRedirects } from './covered-redirects.ts';
import { withQuiescentRanges } from './quiescent-ranges.ts';
import { EmitPass, failPass, type PassResult } from './emit-pass.ts';
import { closeGlue } from './glue.ts';
import { carriedFunctions } from './reachability.ts';
import type { EmitOptions, EmittedPackage, Omission } from './types.ts';

export type { EmitOptions, EmittedPackage, Omission } from './types.ts';
export { defaultBaselineId } from './identity.ts';
export { blockBytesFor } from './deltas.ts';
export { emitFunction } from './emit-function.ts';

/** Builds the package for `diff`. Refused changes fail the build unless `skipRefused`. */
export function emitPackage(diff: ImageDiff, opts: EmitOptions): Result<EmittedPackage> {
  // Read-only items that must stay adjacent (an item start that is also the previous item's
  // end pointer) are found while resolving; emit again until no new pair turns up (bounded:
  // the set only grows).
  const glue = new Set<number>();
  // With --skip-refused, a function whose package needs something refused (found only while
  // emitting: data glued to data that points at a refused function) is left out too, and
  // emission runs again (bounded: each round drops one more function).
  const dropped = new Map<number, string>();
  // Nor does it carry new code next to a changed function it leaves old (diff/left-old.ts).
  const leftOld = opts.skipRefused && opts.estimateOnly !== true;
  if (leftOld) closeLeftOld(diff, dropped);
  for (let passes = 1; ; passes++) {
    const before = glue.size;
    const starts = new Set<number>();
    const r = emitWithGlue(diff, opts, glue, dropped, passes, starts);
    // What the next passes would find one pair at a time (a run grows by one item per pass
    // when the start of its first item is referenced too: 543 passes on esbuild), found now:
    // a referenced start inside or next to a glued run must be glued to its predecessor.
    // Only after a pass that dropped nothing, so the next pass resolves those starts again.
    if (glue.size !== before && r.ok) closeGlue(glue, starts);
    if (!r.ok && opts.skipRefused && r.carriers.some((c) => !dropped.has(c))) {
      for (const c of r.carriers) {
        if (dropped.has(c)) continue;
        const why = r.why?.get(c) ?? r.error.message;
        dropped.set(c, why);
        // A parent and its funclets are left out together (never new tables with old
        // funclets, or the reverse).
        for (const k of diff.ehGroupOf.get(c) ?? []) if (!dropped.has(k)) dropped.set(k, `its exception-handling group member ${describeNew(diff.match, diff.match.new.fns.functions[c]!.entry)} is left out: ${why}`);
      }
      if (leftOld) closeLeftOld(diff, dropped);
      continue;
    }
    if (!r.ok) return { ok: false, error: r.error };
    // A pass that grew the glue is redone even when it failed: the failure may be a function
    // only the new glue makes the package carry.
    if (glue.size === before) {
      const deltas = withDeltas(diff.match.old.img, opts.moduleName, r);
      const unwound = opts.literalUnwind === true ? deltas : withUnwindRefs(diff, opts.moduleName, deltas);
      // Scanned calls last: they read the finished package's moves (its changed functions).
      return ok(withRefScans(diff.match.old.img, withQuiescentRanges(diff.match, withCoveredRedirects(unwound))));
    }
  }
}

/** Adds to `dropped` every function that would run next to a changed function left old, with its EH group. */
function closeLeftOld(diff: ImageDiff, dropped: Map<number, string>): void {
  const verdictOf = new Map<number, FunctionChange>(diff.functions.filter((f) => f.newIndex !== null).map((f) => [f.newIndex!, f] as const));
  const removedActive = diff.functions.filter((f) => f.status === 'removed' && f.verdict === 'refused' && f.oldIndex !== null).map((f) => f.oldIndex!);
  for (;;) {
    const more = leftOldNeighbours(diff.match, verdictOf, removedActive, dropped);
    let grew = false;
    for (const [k, why] of more) {
      for (const g of [k, ...(diff.ehGroupOf.get(k) ?? [])]) {
        if (dropped.has(g)) continue;
        dropped.set(g, g === k ? why : `its exception-handling group member ${describeNew(diff.match, diff.match.new.fns.functions[k]!.entry)} is left out: ${why}`);
        grew = true;
      }
    }
    if (!grew) return;
  }
}

/**
 * One emission pass: what is left out and why, the functions to carry, their code blocks,
 * then the read-only data they need. `glue` and `starts` grow (see EmitPass).
 */
function emitWithGlue(diff: ImageDiff, opts: EmitOptions, glue: Set<number>, dropped: ReadonlyMap<number, string>, passes: number, starts: Set<number>): PassResult {
  const m = diff.match;
  const omitted: Omission[] = [];
  const refusedFns = diff.functions.filter((f) => f.verdict === 'refused');
  const refusedData = diff.data.filter((d) => d.verdict === 'refused');
  if ((refusedFns.length > 0 || refusedData.length > 0) && !opts.skipRefused) {
    const first = refusedFns[0]?.reason?.message ?? refusedData[0]?.reason.message ?? '';
    return failPass(null, 'BUILD_REFUSED', `${refusedFns.length + refusedData.length} change(s) cannot be hotpatched; first: ${first}`);
  }
  for (const f of refusedFns) omitted.push({ what: `function ${f.name ?? `0x${(f.newRva ?? f.oldRva ?? 0).toString(16)}`}`, reason: f.reason?.message ?? 'refused' });
  for (const [n, why] of dropped) {
    const f = m.new.fns.functions[n]!;
    omitted.push({ what: `function ${f.name ?? `0x${f.entry.toString(16)}`}`, reason: `needs something left out: ${why}` });
  }
  for (const d of refusedData) omitted.push({ what: d.name !== null ? `global ${d.name}` : `data ${d.section ?? ''}`, reason: d.reason.message });

  const verdictOf = new Map<number, FunctionChange>(diff.functions.filter((f) => f.newIndex !== null).map((f) => [f.newIndex!, f] as const));
  const pass = new EmitPass(diff, verdictOf, carriedFunctions(diff, verdictOf, glue, dropped), glue, starts);
  const failed = pass.emitCode();
  if (failed !== null) return failed;
  pass.emitData();
  return pass.result(opts, omitted, dropped, passes);
}
