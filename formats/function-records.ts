/**
 * Function records and their redirects under the 2.1 rules (FORMAT.md, "Function records
 * since 2.1"). A package whose first function record is the marker (status CHANGED and
 * nothing else) leaves out what the rest of the package already says:
 * - a changed function's new RVA is written as the change of its shift (new - old RVA) from
 *   the changed record before it (`shift_change`; absent: the same shift), not as an RVA;
 * - a record's block is written as its step from the previous record's (`block_step`; absent:
 *   the next block, as the compiler writes one function per block), not as an id;
 * - a new size that runs to the end of the function's block is left out;
 * - a changed function's old size equal to its delta block's base (a base that starts at the
 *   old entry) is left out;
 * - the redirect of a changed function that is a plain `E9 rel32` to its body with no expected
 *   bytes (the relied ranges cover the site) is left out; the redirects are then in the order of
 *   their records (the compiler's order), then those of no changed record;
 * - since 2.7, a code block's delta base that is its one changed record's old body
 *   (`old_rva`, `old_size`) is left out, and that record's old size is written instead.
 * The marker is a record a 2.0 reader refuses at validation (a changed function at RVA 0 with
 * new RVA 0), so a 2.0 reader never reads the derived fields as 2.0 defaults.
 */
import type { Rva } from '../common/types.ts';
import type { hotpatch } from './generated/hotpatch.js';
import type { CodeBlock, FunctionRecord, Redirect } from './package.ts';

/** FUNCTION_STATUS_CHANGED on the wire. */
const CHANGED = 1;

/** The marker record: status CHANGED, every other field absent. */
export const MARKER: hotpatch.FunctionRecord.$Properties = { status: CHANGED };

const n = (v: number | null | undefined): number => (v ?? 0) >>> 0;
const isInt32 = (v: number): boolean => v >= -0x8000_0000 && v <= 0x7fff_ffff;

/** What the record before says: the shift of the changed record before, the block of the record before. */
export interface RecordState {
  readonly shift: number;
  readonly block: number;
}

export const FIRST_STATE: RecordState = { shift: 0, block: -1 };

/** Whether a decoded record is the 2.1 marker. */
export function isMarker(m: hotpatch.FunctionRecord.$Shape | undefined): boolean {
  return (
    m !== undefined &&
    m.status === CHANGED &&
    (m.name ?? '') === '' &&
    n(m.oldRva) === 0 &&
    n(m.newRva) === 0 &&
    n(m.oldSize) === 0 &&
    n(m.newSize) === 0 &&
    n(m.blockId) === 0 &&
    n(m.blockOffset) === 0 &&
    (m.shiftChange ?? 0) === 0 &&
    (m.blockStep ?? 0) === 0
  );
}

/** What a record's derived fields come from: each code block's size and delta base. */
interface BlockFacts {
  readonly size: number;
  readonly baseRva: number | null;
  readonly baseLength: number;
}

/** The facts of each block; a block whose base is implied (2.7, `implied`) gives no base. */
export function blockFactsOf(blocks: readonly CodeBlock[], implied: ReadonlySet<number> = new Set()): Map<number, BlockFacts> {
  const out = new Map<number, BlockFacts>();
  for (const b of blocks) {
    const d = b.bytes.kind === 'delta' ? b.bytes : null;
    const base = d === null || implied.has(b.id) ? null : d.base;
    out.set(b.id, { size: d === null ? b.bytes.kind === 'literal' ? b.bytes.bytes.length : 0 : d.size, baseRva: base?.rva ?? null, baseLength: base?.length ?? 0 });
  }
  return out;
}

function derivedNewSize(f: Pick<FunctionRecord, 'blockId' | 'blockOffset'>, facts: ReadonlyMap<number, BlockFacts>): number {
  const b = facts.get(f.blockId);
  return b === undefined || f.blockOffset >= b.size ? 0 : b.size - f.blockOffset;
}

function derivedOldSize(oldRva: number | null, blockId: number, facts: ReadonlyMap<number, BlockFacts>): number {
  const b = facts.get(blockId);
  return oldRva !== null && b !== undefined && b.baseRva === oldRva ? b.baseLength : 0;
}

/**
 * Since 2.7 (FORMAT.md, "Implied delta bases"): the one changed record of each code block, by
 * block id; a block that two changed records name has none (its base cannot be implied).
 */
export function changedRecordOfBlock(functions: readonly FunctionRecord[]): Map<number, FunctionRecord | null> {
  const out = new Map<number, FunctionRecord | null>();
  for (const f of functions) if (f.status === 'changed' && f.oldRva !== null) out.set(f.blockId, out.has(f.blockId) ? null : f);
  return out;
}

/**
 * The code blocks whose delta base the 2.7 rules leave out: a delta (of any storage) whose base
 * is exactly the old body (`old_rva`, `old_size`, not empty) of the one changed record naming
 * the block. The reader rebuilds the base from that record (`impliedBaseOf`).
 */
export function impliedBaseBlocks(p: { readonly functions: readonly FunctionRecord[]; readonly codeBlocks: readonly CodeBlock[] }): Set<number> {
  const byBlock = changedRecordOfBlock(p.functions);
  const out = new Set<number>();
  for (const b of p.codeBlocks) {
    const f = byBlock.get(b.id);
    if (b.bytes.kind !== 'delta' || f === undefined || f === null) continue;
    if (f.oldSize !== 0 && b.bytes.base.rva === f.oldRva && b.bytes.base.length === f.oldSize) out.add(b.id);
  }
  return out;
}

/**
 * The base a 2.7 reader gives a code block written without one: its one changed record's old
 * body; a reason when there is no such record or its old size is 0.
 */
export function impliedBaseOf(blockId: number, byBlock: ReadonlyMap<number, FunctionRecord | null>): { rva: Rva; length: number } | string {
  const f = byBlock.get(blockId);
  if (f === undefined) return `no changed function record names block ${blockId}`;
  if (f === null) return `two or more changed function records name block ${blockId}`;
  if (f.oldSize === 0) return `its function record's old size is 0`;
  return { rva: f.oldRva!, length: f.oldSize };
}

/**
 * The records under the 2.1 rules, marker first; null when a record cannot be written so
 * (a value 0 where the derived one is not, or a shift past 32 bits): the 2.0 forms apply then.
 * A record whose block's base is implied (`implied`, 2.7) writes its old size.
 */
export function recordMsgs21(p: { readonly functions: readonly FunctionRecord[]; readonly codeBlocks: readonly CodeBlock[] }, statusMsg: (f: FunctionRecord) => number, implied: ReadonlySet<number> = new Set()): hotpatch.FunctionRecord.$Properties[] | null {
  if (p.functions.length === 0) return null;
  const facts = blockFactsOf(p.codeBlocks, implied);
  const out: hotpatch.FunctionRecord.$Properties[] = [MARKER];
  let prevShift = 0;
  let prevBlock = -1;
  for (const f of p.functions) {
    const changed = f.status === 'changed' && f.oldRva !== null;
    const newSize = derivedNewSize(f, facts);
    const oldSize = derivedOldSize(changed ? f.oldRva : null, f.blockId, facts);
    if ((f.newSize === 0 && newSize !== 0) || (f.oldSize === 0 && oldSize !== 0)) return null;
    const msg: hotpatch.FunctionRecord.$Properties = {
      name: f.name ?? '',
      oldRva: f.oldRva ?? 0,
      status: statusMsg(f),
      oldSize: f.oldSize === oldSize ? 0 : f.oldSize,
      newSize: f.newSize === newSize ? 0 : f.newSize,
      blockStep: f.blockId - prevBlock - 1,
      blockOffset: f.blockOffset,
    };
    prevBlock = f.blockId;
    if (!isInt32(msg.blockStep!)) return null;
    if (changed) {
      const shift = f.newRva - f.oldRva!;
      msg.shiftChange = shift - prevShift;
      if (!isInt32(msg.shiftChange)) return null;
      prevShift = shift;
    } else msg.newRva = f.newRva;
    out.push(msg);
  }
  return out;
}

/**
 * One record read under the 2.1 rules, after the record whose state is `prev`; returns the
 * record and its own state.
 */
export function recordOf21(
  m: hotpatch.FunctionRecord.$Shape,
  base: Omit<FunctionRecord, 'newRva' | 'oldSize' | 'newSize' | 'blockId'>,
  prev: RecordState,
  facts: ReadonlyMap<number, BlockFacts>,
  fail: (why: string) => never,
): { readonly record: FunctionRecord; readonly state: RecordState } {
  if (n(m.blockId) !== 0) fail('block_id is written; since 2.1 a record has block_step instead');
  const blockId = prev.block + 1 + (m.blockStep ?? 0);
  if (blockId < 0 || blockId > 0xffff_ffff) fail(`block_step ${m.blockStep ?? 0} puts the block id outside 0..2^32-1`);
  const change = m.shiftChange ?? 0;
  let newRva: number;
  let shift = prev.shift;
  if (base.status === 'changed' && base.oldRva !== null) {
    if (n(m.newRva) !== 0) fail('new_rva is written; since 2.1 a changed function has shift_change instead');
    shift = prev.shift + change;
    newRva = base.oldRva + shift;
    if (newRva < 0 || newRva > 0xffff_ffff) fail(`shift_change ${change} puts the new RVA outside 0..2^32-1`);
  } else {
    if (change !== 0) fail('shift_change on an added function');
    newRva = n(m.newRva);
  }
  const at = { blockId, blockOffset: base.blockOffset };
  const newSize = n(m.newSize) !== 0 ? n(m.newSize) : derivedNewSize(at, facts);
  const oldSize = n(m.oldSize) !== 0 ? n(m.oldSize) : derivedOldSize(base.status === 'changed' ? base.oldRva : null, blockId, facts);
  return { record: { ...base, blockId, newRva: newRva as Rva, oldSize, newSize }, state: { shift, block: blockId } };
}

/** The redirect a changed record implies under the 2.1 rules. */
function impliedRedirect(f: FunctionRecord): Redirect {
  return { oldRva: f.oldRva!, target: { blockId: f.blockId, offset: f.blockOffset }, kind: 'jmp-rel32', expected: new Uint8Array(0), pad: null };
}

/**
 * The redirects under the 2.1 rules: those of the changed records in record order (the written
 * one, else the implied one), then the written ones of no changed record, in written order.
 */
export function withImpliedRedirects(written: readonly Redirect[], functions: readonly FunctionRecord[]): Redirect[] {
  const firstAt = new Map<number, number>();
  written.forEach((r, i) => {
    if (!firstAt.has(r.oldRva)) firstAt.set(r.oldRva, i);
  });
  const taken = new Set<number>();
  const done = new Set<number>();
  const out: Redirect[] = [];
  for (const f of functions) {
    if (f.status !== 'changed' || f.oldRva === null || done.has(f.oldRva)) continue;
    done.add(f.oldRva);
    const i = firstAt.get(f.oldRva);
    if (i !== undefined) taken.add(i);
    out.push(i === undefined ? impliedRedirect(f) : written[i]!);
  }
  written.forEach((r, i) => {
    if (!taken.has(i)) out.push(r);
  });
  return out;
}

function sameRedirect(a: Redirect, b: Redirect): boolean {
  return (
    a.oldRva === b.oldRva &&
    a.target.blockId === b.target.blockId &&
    a.target.offset === b.target.offset &&
    a.kind === b.kind &&
    a.expected.length === b.expected.length &&
    a.expected.every((x, i) => x === b.expected[i]) &&
    (a.pad === null) === (b.pad === null) &&
    (a.pad === null || (a.pad.rva === b.pad!.rva && a.pad.expected.length === b.pad!.expected.length && a.pad.expected.every((x, i) => x === b.pad!.expected[i])))
  );
}

/**
 * The redirects to write under the 2.1 rules: the package's, less those the records imply,
 * when reading them back gives exactly the package's list (same order); else null (a changed
 * record without a redirect, which the 2.1 rules would give one: the 2.0 forms apply then).
 */
export function writtenRedirects(redirects: readonly Redirect[], functions: readonly FunctionRecord[]): readonly Redirect[] | null {
  const implied = new Map<number, Redirect>();
  const seen = new Map<number, number>();
  for (const f of functions) if (f.status === 'changed' && f.oldRva !== null) seen.set(f.oldRva, (seen.get(f.oldRva) ?? 0) + 1);
  for (const f of functions) if (f.status === 'changed' && f.oldRva !== null && seen.get(f.oldRva) === 1) implied.set(f.oldRva, impliedRedirect(f));
  const kept = redirects.filter((r) => {
    const i = implied.get(r.oldRva);
    return i === undefined || !sameRedirect(i, r);
  });
  const back = withImpliedRedirects(kept, functions);
  const same = back.length === redirects.length && back.every((r, i) => sameRedirect(r, redirects[i]!));
  return same ? kept : null;
}
