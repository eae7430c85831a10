/**
 * Which argument (1-4) each general register holds before each instruction of a body, on the
 * decoded paths from its entry (forward-paths.ts, back edges and jump tables included):
 * added-field.ts' argument pointers. Read in address order instead, the state above a `jmp` ran
 * on into the block after it: 7za 5.2.0's 0x43884f `cmp [rsi+0x8],r12d` follows a `jmp` after
 * which rsi held a reload of arg1, but only jumps from the entry reach it, where rsi is a copy of
 * r9 (arg4), and a false new field of arg1 refused 0x37b50 and 21 functions after it; and a
 * callee-saved copy restored before a `ret` was lost for the code after it that branches reach
 * (7za 5.1.1's 0x4b45e0 stores arg1's +0xa4 there through rbx).
 *
 * Two states are kept: on every path (a register keeps its argument where paths meet only when
 * all agree; unknown on any path is unknown), and on some path (what any path reaching the
 * instruction left: a loop's first round through a register its back edge overwrites, one side
 * of a join). An access through a register holding an argument on some path only is one the
 * body makes on that path (ArgAccess.some): the added-field rule counts it on both sides, as a
 * field the new code reads and as one the old code uses.
 *
 * Frame slots (frame-slots.ts) keep their own reading: which loads reload which store is decided
 * in address order as before (a slot written once in the whole body, its address never taken);
 * what the store put there is the path's: the argument its source register held on that path,
 * unknown on a path that never ran the store.
 *
 * Instructions no decoded path from the entry reaches (a catch block's continuation, bytes swept
 * between functions' ranges, a jump through a table not recovered) are walked from the lowest
 * one up, each from what its predecessor in address order left, as the address-order reading did,
 * without changing what the paths from the entry give.
 */
import { forwardPaths, type PathStep } from './forward-paths.ts';

/** What the argument search needs of one instruction (general registers numbered rax 0 .. r15 15). */
export interface HoldStep extends PathStep {
  /** Registers the instruction overwrites (a bit each), the copy's and the reload's destination included. */
  readonly kills: number;
  /** A 64-bit register copy `mov dst,src` (-1: none). */
  readonly copyDst: number;
  readonly copySrc: number;
  /** An 8-byte store to a frame slot a later load reloads: the register stored (-1: none). */
  readonly storeSrc: number;
  /** An 8-byte reload from a frame slot: the register loaded (-1: none) and the RVA of the store that wrote the slot. */
  readonly reloadDst: number;
  readonly reloadFrom: number;
}

/**
 * Which argument each register holds on every path: `a` has a bit per register for arg1 (bits
 * 0-15) and arg2 (16-31), `b` for arg3 and arg4; a register holds at most one. `ma`, `mb`: the
 * same on some path (a register may have several; a superset of `a`, `b`). `slots`: by the RVA
 * of the store that wrote a followed frame slot, the argument it stored on every path.
 */
export interface ArgHolds {
  readonly a: number;
  readonly b: number;
  readonly ma: number;
  readonly mb: number;
  readonly slots: ReadonlyMap<number, number>;
}

const NO_SLOTS: ReadonlyMap<number, number> = new Map();
export const NO_HOLDS: ArgHolds = { a: 0, b: 0, ma: 0, mb: 0, slots: NO_SLOTS };

const ENTRY_A = ((1 << 1) | (1 << (16 + 2))) >>> 0;
const ENTRY_B = ((1 << 8) | (1 << (16 + 9))) >>> 0;
/** The entry's state: rcx arg1, rdx arg2, r8 arg3, r9 arg4. */
export const ENTRY_HOLDS: ArgHolds = { a: ENTRY_A, b: ENTRY_B, ma: ENTRY_A, mb: ENTRY_B, slots: NO_SLOTS };

/** The argument (1-4) general register `g` holds in words `a`, `b` (the first, for the some-path words), or 0. */
function firstArg(a: number, b: number, g: number): number {
  if (g < 0 || g > 15) return 0;
  if ((a & (1 << g)) !== 0) return 1;
  if ((a & (1 << (16 + g))) !== 0) return 2;
  if ((b & (1 << g)) !== 0) return 3;
  if ((b & (1 << (16 + g))) !== 0) return 4;
  return 0;
}

/** The argument (1-4) general register `g` holds in `s` on every path, or 0. */
export function argOf(s: ArgHolds, g: number): number {
  return firstArg(s.a, s.b, g);
}

/** The arguments (a bit each, 1 << (arg - 1)) general register `g` holds in `s` on some path. */
export function argsOnSomePath(s: ArgHolds, g: number): number {
  if (g < 0 || g > 15) return 0;
  return ((s.ma >>> g) & 1) | (((s.ma >>> (16 + g)) & 1) << 1) | (((s.mb >>> g) & 1) << 2) | (((s.mb >>> (16 + g)) & 1) << 3);
}

/** Words `a`, `b` with register `g` holding the arguments of `args` (bits as argsOnSomePath) in place of what it held. */
function withArgs(a: number, b: number, g: number, args: number): [number, number] {
  const m = ~((1 << g) | (1 << (16 + g)));
  a = (a & m) | ((args & 1) << g) | (((args >>> 1) & 1) << (16 + g));
  b = (b & m) | (((args >>> 2) & 1) << g) | (((args >>> 3) & 1) << (16 + g));
  return [a >>> 0, b >>> 0];
}

const bitOf = (arg: number): number => (arg === 0 ? 0 : 1 << (arg - 1));

/** The state after `e`. */
export function stepHolds(s: ArgHolds, e: HoldStepAt): ArgHolds {
  if (e.kills === 0 && e.storeSrc < 0 && (s.ma | s.mb) === 0) return s;
  const kill = ~(e.kills | (e.kills << 16));
  let [a, b, ma, mb] = [(s.a & kill) >>> 0, (s.b & kill) >>> 0, (s.ma & kill) >>> 0, (s.mb & kill) >>> 0];
  if (e.copyDst >= 0) {
    [a, b] = withArgs(a, b, e.copyDst, bitOf(argOf(s, e.copySrc)));
    [ma, mb] = withArgs(ma, mb, e.copyDst, argsOnSomePath(s, e.copySrc));
  }
  let slots = s.slots;
  if (e.storeSrc >= 0) {
    const stored = firstArg(a, b, e.storeSrc);
    if (stored !== 0 && slots.get(e.rva) !== stored) slots = new Map(slots).set(e.rva, stored);
    else if (stored === 0 && slots.has(e.rva)) {
      const m = new Map(slots);
      m.delete(e.rva);
      slots = m;
    }
  }
  if (e.reloadDst >= 0) {
    // What a slot holds is followed on every path only: on some path, the same.
    const r = bitOf(slots.get(e.reloadFrom) ?? 0);
    [a, b] = withArgs(a, b, e.reloadDst, r);
    [ma, mb] = withArgs(ma, mb, e.reloadDst, r);
  }
  return a === s.a && b === s.b && ma === s.ma && mb === s.mb && slots === s.slots ? s : { a, b, ma, mb, slots };
}

/** Where two paths meet: what both hold on every path, what either holds on some; null when that is `before` (nothing new). */
function meetHolds(now: ArgHolds, before: ArgHolds): ArgHolds | null {
  const a = (now.a & before.a) >>> 0;
  const b = (now.b & before.b) >>> 0;
  const ma = (now.ma | before.ma) >>> 0;
  const mb = (now.mb | before.mb) >>> 0;
  let slots = before.slots;
  for (const [k, v] of before.slots) {
    if (now.slots.get(k) === v) continue;
    if (slots === before.slots) slots = new Map(before.slots);
    (slots as Map<number, number>).delete(k);
  }
  return a === before.a && b === before.b && ma === before.ma && mb === before.mb && slots === before.slots ? null : { a, b, ma, mb, slots };
}

/** A step with its own RVA (stepHolds keys the slots by the store's). */
export interface HoldStepAt extends HoldStep {
  readonly rva: number;
}

/**
 * The state before each instruction of `steps` (by RVA, in address order) on the paths from
 * `entry`; then, for instructions those paths never reach, from each one up in address order
 * with its predecessor's state after it (module head). `tables`: each indirect jump's targets.
 */
export function argHoldsByPath(entry: number, steps: ReadonlyMap<number, HoldStepAt>, tables: ReadonlyMap<number, readonly number[]>): Map<number, ArgHolds> {
  const before = new Map<number, ArgHolds>();
  // Which walk reached each instruction: one an earlier walk reached keeps what it gave (the paths from the entry first).
  const walkOf = new Map<number, number>();
  let walks = 0;
  const walkFrom = (start: number, state: ArgHolds): void => {
    const id = ++walks;
    forwardPaths(start, steps, tables, state, meetHolds, (rva, e, held) => {
      const w = walkOf.get(rva);
      if (w !== undefined && w !== id) return null;
      walkOf.set(rva, id);
      before.set(rva, held);
      return stepHolds(held, e);
    });
  };
  if (steps.has(entry)) walkFrom(entry, ENTRY_HOLDS);
  if (before.size === steps.size) return before;
  let prev: HoldStepAt | null = null;
  for (const e of steps.values()) {
    if (!before.has(e.rva)) {
      const p = prev === null ? undefined : before.get(prev.rva);
      walkFrom(e.rva, p === undefined || prev === null || prev.next !== e.rva ? NO_HOLDS : stepHolds(p, prev));
    }
    prev = e;
  }
  return before;
}
