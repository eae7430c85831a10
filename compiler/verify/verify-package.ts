/**
 * Verification: proves a package does what the diff says, independently of how it was
 * emitted. The package is applied on paper to OLD loaded at an arbitrary base, with its
 * blocks at an arbitrary address within ±2 GB; then every carried function is read back
 * and compared, instruction for instruction, with the NEW function: equal bytes outside
 * reference fields, and every reference reaching what the NEW reference reaches, mapped
 * through the match (same function or global in OLD, the carried body, an old read-only
 * item with the same bytes or a carried copy, the same import). Unwind data, redirects and
 * jump tables are checked the same way.
 */
import { Instruction } from 'iced-x86';
import { err, ok, type Result } from '../../common/errors.ts';
import { NO_PROGRESS, type Progress } from '../../common/progress.ts';
import { REDIRECT_PAD_LENGTH, REDIRECT_SITE_LENGTH, reliedHashMatches, type HotpatchPackage } from '../../formats/package.ts';
import { coveredByRelied } from '../../formats/validate.ts';
import { unsealPackage } from '../../formats/seal.ts';
import { openUnwinds } from '../../formats/unwind-ref.ts';
import { openRefScans } from '../../formats/ref-scan.ts';
import { sha256 } from '../../runtime/pe/sha256.ts';
import type { ImageDiff } from '../diff/types.ts';
import { leftOldDataKeys, writableDataKeys } from '../diff/left-old.ts';
import { findQuiescentCallers, redirectedOld } from '../diff/quiescent-callers.ts';
import { layoutRanges } from '../functions/layout-parts.ts';
import { checkFunctionCode, type CarriedView, type CodeCounts } from './check-function.ts';
import { TargetChecker, type CarriedFunction } from './check-target.ts';
import { checkFunctionUnwind } from './check-unwind.ts';
import { DEFAULT_VERIFY_LAYOUT, mismatch, PaperImage, type VerifyLayout } from './paper-image.ts';

export { DEFAULT_VERIFY_LAYOUT, type VerifyLayout } from './paper-image.ts';

/** What verification checked. */
export interface VerifyReport {
  readonly functions: number;
  readonly instructions: number;
  readonly references: number;
  readonly unwindEntries: number;
  readonly redirects: number;
  readonly dataBlocks: number;
}

/**
 * Verifies `pkg` against the diff it was built from (OLD, NEW and their match).
 * Returns VERIFY_* errors naming the first mismatch.
 */
export function verifyPackage(diff: ImageDiff, given: HotpatchPackage, layout: VerifyLayout = DEFAULT_VERIFY_LAYOUT, progress: Progress = NO_PROGRESS): Result<VerifyReport> {
  const m = diff.match;
  const oldImg = m.old.img;
  const oldPe = oldImg.pe;
  if (given.target.timeDateStamp !== oldPe.fileHeader.timeDateStamp || given.target.sizeOfImage !== oldPe.optionalHeader.sizeOfImage) {
    return err('VERIFY_TARGET', 'package targets another image (TimeDateStamp/SizeOfImage differ from OLD)');
  }
  const relied: number[] = [];
  for (const r of given.target.reliedRanges) for (let k = 0; k < r.length; k++) relied.push(oldImg.image[r.rva + k] ?? 0);
  // Since format 1.3 a package relying on no bytes carries no hash.
  const noRelied = given.target.reliedRanges.length === 0 && given.target.reliedSha256.length === 0;
  const reliedHash = sha256(Uint8Array.from(relied));
  if (!noRelied && !reliedHashMatches(reliedHash, given.target.reliedSha256)) return err('VERIFY_TARGET', 'relied-on bytes hash does not match OLD');
  // Opened now that the relied bytes (which cover the dictionary) are known to be OLD's.
  const opened = openPackage(given, oldImg.image);
  if (!opened.ok) return opened;
  const pkg = opened.value;

  // 1. The blocks at their paper addresses, fixups written.
  const paper = PaperImage.build(oldImg, pkg, layout);
  if (!paper.ok) return paper;
  // 2. The map from NEW addresses to patched-OLD addresses the package must realise.
  const carried = new Map<number, CarriedFunction>();
  for (const rec of pkg.functions) {
    const fn = m.new.fns.byEntry.get(rec.newRva);
    const b = paper.value.blocks.get(rec.blockId);
    if (fn === undefined || b === undefined) return mismatch(`function record ${rec.name ?? rec.newRva}: no such new function or block`);
    carried.set(fn.index, { fn, addr: b.addr + BigInt(rec.blockOffset), offsets: layoutRanges(fn) });
  }
  const checker = new TargetChecker(diff, pkg, paper.value, carried, leftOutOf(pkg));
  // 3. Every carried function, instruction for instruction, and its unwind data.
  const counts: CodeCounts = { instructions: 0, references: 0 };
  let unwindEntries = 0;
  const insn = new Instruction();
  try {
    let done = 0;
    for (const c of carried.values()) {
      progress({ stage: 'verify', done: done++, total: carried.size, unit: 'functions' });
      const blockId = pkg.functions.find((r) => r.newRva === c.fn.entry)!.blockId;
      const cb = pkg.codeBlocks.find((x) => x.id === blockId);
      if (cb === undefined) return mismatch(`function record ${nameOf(c)}: block ${blockId} is not a code block`);
      const view = carriedView(c, paper.value.blocks.get(cb.id)!);
      const code = checkFunctionCode(m, paper.value, checker, view, insn, counts);
      if (!code.ok) return code;
      const unwind = checkFunctionUnwind(diff, paper.value, checker, carried, view, cb);
      if (!unwind.ok) return unwind;
      unwindEntries += unwind.value;
    }
  } finally {
    insn.free();
  }
  // 4. Redirects, and every hotpatchable change present.
  const redirects = checkRedirects(diff, pkg, leftOutOf(pkg));
  if (!redirects.ok) return redirects;
  // 5. No carried function next to a changed function the package leaves old.
  const boundary = checkLeftOldBoundary(diff, carried);
  if (!boundary.ok) return boundary;
  // 6. Quiescent ranges (format 2.4): every old caller that would call a redirected callee the old way is listed.
  const quiet = checkQuiescent(diff, pkg);
  if (!quiet.ok) return quiet;
  return ok({ functions: carried.size, instructions: counts.instructions, references: counts.references, unwindEntries, redirects: redirects.value, dataBlocks: pkg.dataBlocks.length });
}

/**
 * `given` as the paper image takes it, opened against OLD's image by the runtime's own
 * functions, in this order: sealed blocks (format 2.2), unwind blobs stored by reference
 * (2.3, the unwind check then compares the bytes they give with NEW's) and reference fields
 * left to the scan (2.6). PaperImage.build refuses a block left unopened; tests that lay a
 * package on paper themselves open it here too (test/support/paper-package.ts).
 * VERIFY_MISMATCH names the stage that failed.
 */
export function openPackage(given: HotpatchPackage, oldImage: Uint8Array): Result<HotpatchPackage> {
  const opened = unsealPackage(given, oldImage);
  if (!opened.ok) return mismatch(`sealed bytes: ${opened.error.message}`);
  const unwound = openUnwinds(opened.value, oldImage);
  if (!unwound.ok) return mismatch(`unwind by reference: ${unwound.error.message}`);
  const scanned = openRefScans(unwound.value, oldImage);
  if (!scanned.ok) return mismatch(`scanned references: ${scanned.error.message}`);
  return scanned;
}

/**
 * The package's quiescent ranges (format 2.4) against what the diff requires: each lies inside
 * an OLD function's code, and together they cover the old body of every redirected caller
 * whose redirected callee's new entry reads arguments the old one did not
 * (diff/quiescent-callers.ts). A range dropped or moved leaves such a caller uncovered:
 * VERIFY_QUIESCENT, naming it. (Validation already checked them sorted and disjoint.)
 */
function checkQuiescent(diff: ImageDiff, pkg: HotpatchPackage): Result<void> {
  const m = diff.match;
  const given = pkg.quiescent ?? [];
  for (const r of given) {
    // Adjoining bodies are merged into one range: walk it function by function.
    for (let at: number = r.rva; at < r.rva + r.length; ) {
      const x = m.old.fns.containing(at)?.ranges.find((y) => at >= y.start && at < y.end);
      if (x === undefined) return err('VERIFY_QUIESCENT', `quiescent range [0x${r.rva.toString(16)}, 0x${(r.rva + r.length).toString(16)}) holds 0x${at.toString(16)}, outside every OLD function's code`);
      at = x.end;
    }
  }
  const covered = (start: number, end: number): boolean => given.some((r) => start >= r.rva && end <= r.rva + r.length);
  for (const q of findQuiescentCallers(m, redirectedOld(m, pkg))) {
    for (const x of q.caller.ranges) {
      if (covered(x.start, x.end)) continue;
      const name = (f: { name: string | null; entry: number }): string => f.name ?? `0x${f.entry.toString(16)}`;
      return err('VERIFY_QUIESCENT', `old ${name(q.caller)} [0x${x.start.toString(16)}, 0x${x.end.toString(16)}) is not a quiescent range, and it calls ${name(q.callee)} the old way while the new ${name(q.callee)} ${q.meaning ?? 'reads more arguments'}`);
    }
  }
  return ok(undefined);
}

/** Changes the package declares it left out (--skip-refused, needing something refused): NEW entries. */
function leftOutOf(pkg: HotpatchPackage): Set<number> {
  return new Set(
    (pkg.producer.parameters.find((p) => p.key === 'left-out-new-rvas')?.value ?? '')
      .split(',')
      .filter((x) => x !== '')
      .map((x) => Number(x)),
  );
}

/** For messages: a carried function's name or entry. */
function nameOf(c: CarriedFunction): string {
  return c.fn.name ?? `0x${c.fn.entry.toString(16)}`;
}

/** Carried function `c` seen through its block. */
function carriedView(c: CarriedFunction, block: CarriedView['block']): CarriedView {
  const { fn, offsets } = c;
  const base = Number(c.addr - block.addr);
  return {
    ...c,
    name: nameOf(c),
    block,
    base,
    offsetOf(rva) {
      for (let i = 0; i < fn.ranges.length; i++) {
        const r = fn.ranges[i]!;
        if (rva >= r.start && rva < r.end) return base + offsets[i]! + (rva - r.start);
      }
      return -1;
    },
  };
}

/**
 * Every changed function's old entry jumps to its carried body, over bytes OLD has; every
 * hotpatchable change of the diff is in the package (skipped refusals, and changes the
 * package declares it left out, aside). Returns the number of redirects.
 */
function checkRedirects(diff: ImageDiff, pkg: HotpatchPackage, leftOut: ReadonlySet<number>): Result<number> {
  const oldImage = diff.match.old.img.image;
  let redirects = 0;
  for (const rec of pkg.functions) {
    if (rec.status !== 'changed') continue;
    const rd = pkg.redirects.find((r) => r.oldRva === rec.oldRva);
    if (rd === undefined) return mismatch(`${rec.name ?? ''}: changed function without a redirect`);
    if (rd.target.blockId !== rec.blockId || rd.target.offset !== rec.blockOffset) return mismatch(`${rec.name ?? ''}: redirect goes elsewhere than its body`);
    const o = rd.oldRva;
    if (!rd.expected.every((b, i) => b === oldImage[o + i])) return mismatch(`${rec.name ?? ''}: redirect expects bytes OLD does not have`);
    if (rd.pad !== null && !rd.pad.expected.every((b, i) => b === oldImage[rd.pad!.rva + i])) return mismatch(`${rec.name ?? ''}: pad expects bytes OLD does not have`);
    // Since format 2.1 expected bytes the relied ranges cover are left out (their hash was checked against OLD above).
    if (rd.expected.length === 0 && !coveredByRelied(pkg.target.reliedRanges, o, REDIRECT_SITE_LENGTH[rd.kind])) return mismatch(`${rec.name ?? ''}: redirect without expected bytes outside the relied ranges`);
    if (rd.pad !== null && rd.pad.expected.length === 0 && !coveredByRelied(pkg.target.reliedRanges, rd.pad.rva, REDIRECT_PAD_LENGTH)) return mismatch(`${rec.name ?? ''}: pad without expected bytes outside the relied ranges`);
    redirects++;
  }
  for (const c of diff.functions) {
    if (c.status === 'changed' && c.verdict === 'hotpatchable' && !leftOut.has(c.newRva ?? -1) && !pkg.functions.some((r) => r.newRva === c.newRva)) {
      return mismatch(`changed function ${c.name ?? `0x${(c.newRva ?? 0).toString(16)}`} is missing from the package`);
    }
  }
  return ok(redirects);
}

/**
 * Re-derived from the diff and the package alone (compiler/diff/left-old.ts is the rule the
 * emitter follows): a changed function the package does not carry keeps its OLD body, so no
 * carried function may reference it or be referenced by it, nor may an unchanged function
 * reference both (it may pass one's result to the other). rollup 4.64.7 -> 4.64.8 died in
 * node.exe when the package broke this.
 */
function checkLeftOldBoundary(diff: ImageDiff, carried: ReadonlyMap<number, CarriedFunction>): Result<void> {
  const m = diff.match;
  const leftOld = new Set<number>();
  const unchanged = new Set<number>();
  for (const c of diff.functions) {
    if (c.newIndex === null) continue;
    if (c.status === 'changed' && !carried.has(c.newIndex)) leftOld.add(c.newIndex);
    if (c.status === 'unchanged') unchanged.add(c.newIndex);
  }
  if (leftOld.size === 0) return ok(undefined);
  const hex = (x: number): string => `0x${x.toString(16)}`;
  const nameOf = (f: { name: string | null; entry: number }): string => f.name ?? hex(f.entry);
  for (const f of m.new.fns.functions) {
    const fromCarried = carried.has(f.index);
    const fromUnchanged = unchanged.has(f.index);
    if (!fromCarried && !fromUnchanged && !leftOld.has(f.index)) continue;
    let seenCarried: { name: string | null; entry: number } | null = null;
    let seenOld: { name: string | null; entry: number } | null = null;
    for (const r of f.decoded.refs) {
      const g = m.new.fns.containing(r.target);
      if (g === undefined || g === f) continue;
      if (fromUnchanged) {
        if (carried.has(g.index)) seenCarried = g;
        if (leftOld.has(g.index)) seenOld = g;
        if (seenCarried !== null && seenOld !== null) {
          return mismatch(`unchanged ${nameOf(f)} references carried function ${nameOf(seenCarried)} and changed function ${nameOf(seenOld)}, which the package leaves old: it may pass values from old code to new code`);
        }
      } else if (fromCarried ? leftOld.has(g.index) : carried.has(g.index)) {
        const [c, o] = fromCarried ? [f, g] : [g, f];
        return mismatch(`carried function ${nameOf(c)} and changed function ${nameOf(o)}, which the package leaves old, reference each other (${hex(r.insnRva)}): new code would run next to old code it was not compiled with`);
      }
    }
  }
  // Nor may they share writable data (old code may store values in the form new code does not expect).
  const oldUsers = new Map<string, number>();
  for (const k of leftOld) for (const key of leftOldDataKeys(m, k).keys()) if (!oldUsers.has(key)) oldUsers.set(key, k);
  for (const k of carried.keys()) {
    for (const [key, what] of writableDataKeys(m.new, m.new.fns.functions[k]!)) {
      const o = oldUsers.get(key);
      if (o !== undefined) return mismatch(`carried function ${nameOf(m.new.fns.functions[k]!)} and changed function ${nameOf(m.new.fns.functions[o]!)}, which the package leaves old, both use writable ${what}: values would pass between old and new code`);
    }
  }
  return ok(undefined);
}
