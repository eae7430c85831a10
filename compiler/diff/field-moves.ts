/**
 * One field moved to a new offset (STRUCTURE_FIELD_MOVED). A field inserted, removed or
 * resized moves the fields after it; a function that uses only one of them shows one moved
 * access, which layout-shift.ts does not count (it needs two fields moved by one amount:
 * one could be a rewritten access), and which added-field.ts sees only when the pointer is an
 * argument: through a pointer loaded from memory (`in = o->in; in->flag`) nothing saw it.
 * ast-grep 0.51.2 -> 0.51.3 (a rustc update) has one: the inlined Thread::unpark flips the
 * parker byte at +0x28 of the thread object (`mov rcx,[rax+0x10]; mov al,1; xchg [rcx+0x28],al`,
 * then WakeByAddressSingle on it) and the new body does it at +0x38. Threads alive at patch
 * time were built by old code: the new body writes a byte of another field and never wakes
 * the parked thread.
 *
 * The evidence is field-swap.ts' alignment (the full form of both bodies, only the
 * displacement of a field access through one base left out, the instructions just before and
 * after the access aligned too): every aligned access at old offset d through one base is at e
 * in the new body, the old body has no aligned access at e and the new one none at d through
 * that base, and the size is kept. A base here is one value of a register (the instruction that
 * last wrote it): compilers reuse a register for several objects in one body (0x1bc120 in the
 * same pair reads another object's +0x28 through rcx before it loads the thread there). One function alone cannot tell that from a fix that reads
 * another field (twin red-deep-fix: `in->b` for `in->flag`, the same code with another
 * offset). So a move is refused when it shows in two changed functions or more (the same old
 * offset, new offset and size, through any base): every function that uses the field changes
 * the same way when the layout changed (probe red-deep: the helper that fills the object and
 * the reader both move `flag` from +0x8 to +0x10). A field that one function alone uses moves
 * unseen: that stays a known gap, like a lone read-only exchange in field-swap.ts.
 */
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { GLOBALS_BASE, type Pairing } from './field-swap.ts';
import { reason, type Reason } from './reasons.ts';

/** One field moved through one base: old offset, new offset, size in bytes. */
export type FieldMove = readonly [number, number, number];

/**
 * The single moves among one base's aligned accesses: fields whose every aligned access
 * moved to one new offset that no old access reaches, their old offset left by every new
 * access, their size and context kept. An exchange (the new offset is an old field's) is
 * field-swap.ts'.
 */
export function movesOf(list: readonly Pairing[]): FieldMove[] {
  // One register holds several objects in a body: each value it was given is a base of its own.
  const byDef = new Map<number, Pairing[]>();
  for (const p of list) byDef.set(p[6], [...(byDef.get(p[6]) ?? []), p]);
  return [...byDef.values()].flatMap(movesOfValue);
}

/** movesOf for the accesses through one value of a base register. */
function movesOfValue(list: readonly Pairing[]): FieldMove[] {
  const fwd = new Map<number, number>();
  const back = new Map<number, number>();
  const sizeAt = new Map<number, number>();
  const broken = new Set<number>();
  for (const [d, e, size, , ctx, , , sameValue] of list) {
    // An old offset reached at two new offsets, or a new one from two old ones, is code
    // rewritten around the field, not the field moved.
    if ((fwd.get(d) ?? e) !== e || (back.get(e) ?? d) !== d) return [];
    fwd.set(d, e);
    back.set(e, d);
    if (d === e) continue;
    // Context changed, another size, or a base register computed otherwise in the new body
    // (libvips 0.34.4 -> 0.34.5 0x307520: `inc [r14+0x10]` becomes `inc [r14]` where the new
    // r14 is the flag's own address a helper returns): no evidence of a field moved.
    if (!ctx || !sameValue || (sizeAt.get(d) ?? size) !== size) broken.add(d);
    sizeAt.set(d, size);
  }
  const out: FieldMove[] = [];
  for (const [d, e] of fwd) {
    if (d === e || broken.has(d) || fwd.has(e) || back.has(d)) continue;
    out.push([d, e, sizeAt.get(d)!]);
  }
  return out;
}

const signatureOf = ([d, e, n]: FieldMove): string => `${d}>${e}:${n}`;

/**
 * Refusals of changed functions with a field moved the same way as in another changed
 * function. `accesses`: field-swap.ts' changedFieldAccesses (aligned accesses per base of each
 * changed matched function).
 */
export function fieldMoveProblems(m: MatchResult, accesses: ReadonlyMap<number, ReadonlyMap<number, readonly Pairing[]>>): Map<number, Reason> {
  const found = new Map<number, FieldMove[]>();
  const bySignature = new Map<string, Set<number>>();
  for (const [index, byBase] of accesses) {
    const moves: FieldMove[] = [];
    // Globals are not objects built at run time: a global that moved changes its section's
    // layout, which the data rules refuse; a new global read is a logic change.
    for (const [base, list] of byBase) if (base !== GLOBALS_BASE) moves.push(...movesOf(list));
    if (moves.length === 0) continue;
    found.set(index, moves);
    for (const mv of moves) {
      const key = signatureOf(mv);
      const s = bySignature.get(key) ?? new Set<number>();
      s.add(index);
      bySignature.set(key, s);
    }
  }
  const out = new Map<number, Reason>();
  const nameOf = (k: number): string => {
    const g: FunctionInfo = m.new.fns.functions[k]!;
    return g.name ?? hex(g.entry);
  };
  for (const [index, moves] of found) {
    for (const mv of moves) {
      const mates = [...bySignature.get(signatureOf(mv))!];
      if (mates.length < 2) continue;
      const f = m.new.fns.functions[index]!;
      const [d, e, n] = mv;
      const others = mates.filter((k) => k !== index);
      const shown = others.slice(0, 4).map(nameOf).join(', ') + (others.length > 4 ? ` and ${others.length - 4} more` : '');
      const message = `structure layout changed: the field at +${hex(d)} (${n} byte${n === 1 ? '' : 's'}) is at +${hex(e)} in ${nameOf(index)}, every other access the same, and moved the same way in ${shown} (needs a baseline); objects built before the patch keep the old layout`;
      out.set(index, reason('STRUCTURE_FIELD_MOVED', message, f.entry));
      break;
    }
  }
  return out;
}
