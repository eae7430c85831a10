/**
 * What argument-uses.ts' use sets of an old and a new body show about their parameters.
 * For entry-arguments.ts, the body alone then shows parameters whose meaning moved while the
 * registers and their pointer/integer roles stayed (issue #14, probe entry-args-params):
 * - two slots whose distinguishing uses changed places: `moveto(to, from)` ->
 *   `moveto(from, to)` stores through rdx at the offsets it loaded through, and loads through
 *   rcx at those it stored to (the same fields: pointer-fields.ts sees nothing);
 * - the last slot the old body used now unused, and the slots below it taking the uses of the
 *   next one up: a middle parameter removed (`mix(a, b, c)` -> `mix(a, c)`: c's `add` moves
 *   from r8 to rdx; `fmix3(x, y, z)` -> `fmix3(x, z)`: z from xmm2 to xmm1), which no module
 *   caller shows when the function is only exported.
 * - two slots used alike but for the calls they are handed to, whose first calls in one argument
 *   position changed order (`order2(a, b) { stamp(a); stamp(b); }` -> `order2(b, a)`).
 * - two slots whose uses cannot be told apart at all, first used in the other order
 *   (`put(a, b) { *a = 1; *b = 2; }` -> `put(b, a)`, probe entry-args-same); slots told apart
 *   only by the globals they reach are ordered too unless each keeps its own globals in the new
 *   body (two independent stores reordered mean the same; `placed`).
 * - two slots whose values reach each other's globals, whatever else changed around them (a
 *   swap with a rewrite: `g_first = -(*b >> 2); g_second = *a - 100`), or values computed from
 *   them each other's operand roles (`a*a - b*b`, `pair(a*8, b*8)`; probe entry-args-computed).
 * A use both slots had in the old body (a null test on two pointers) distinguishes nothing and
 * is left out. The code alone cannot tell a fix that swaps two operands, or one that stops
 * using the last parameter and uses the one before it the way the last was, from a
 * signature change: both are refused (a wrong "safe" is the worst outcome).
 */
import { namesGlobal } from './argument-use-insns.ts';

/** The argument registers of each slot: general and float. */
const SLOT_GPR_NAMES = ['rcx', 'rdx', 'r8', 'r9'] as const;

/** Two slots whose distinguishing uses changed places, or slots from..last-1 that took the uses of the next slot up while `last` fell unused; `names`: each slot's register as its uses show (`rcx`, `xmm1`, `r8/xmm2`). */
export type UseMove = { readonly names: readonly string[] } & ({ readonly kind: 'swap'; readonly a: number; readonly b: number; readonly usesA: readonly string[]; readonly usesB: readonly string[] } | { readonly kind: 'shift'; readonly from: number; readonly last: number; readonly uses: readonly string[] } | { readonly kind: 'order'; readonly a: number; readonly b: number; readonly k: number } | { readonly kind: 'first'; readonly a: number; readonly b: number; readonly oldFirst: number } | { readonly kind: 'escape'; readonly a: number; readonly old: boolean });

/** ArgumentUses.passedAt of the old and new bodies: per slot, the first address it is handed on from in each argument register (`gpass@k`, `xpass@k`) and of its first use of any kind (`use`). */
export interface PassOrder {
  readonly old: ReadonlyArray<ReadonlyMap<string, number>>;
  readonly new: ReadonlyArray<ReadonlyMap<string, number>>;
}

const handedOn = (t: string): boolean => t.startsWith('call@') || t.startsWith('jmp@');
/** Whether two slots' uses other than being handed on are the same (none counts). */
const alikeBesidesCalls = (x: ReadonlySet<string>, y: ReadonlySet<string>): boolean => {
  const [a, b] = [[...x].filter((t) => !handedOn(t)), [...y].filter((t) => !handedOn(t))];
  return a.length === b.length && a.every((t) => y.has(t));
};

/**
 * Two slots a < b used alike but for the calls they are handed to, both handed on in argument
 * position k in each body, whose first such calls changed order: `order2(a, b) { stamp(a);
 * stamp(b); }` -> `order2(b, a) { ... }` (probe entry-args-alike); the position, or -1.
 */
function reorderedPass(o: ReadonlyArray<ReadonlySet<string>>, n: ReadonlyArray<ReadonlySet<string>>, order: PassOrder, a: number, b: number): number {
  if (o[a]!.size === 0 || o[b]!.size === 0 || !alikeBesidesCalls(o[a]!, o[b]!) || !alikeBesidesCalls(n[a]!, n[b]!)) return -1;
  for (let k = 0; k < 8; k++) {
    const key = `${k < 4 ? 'g' : 'x'}pass@${k % 4}`;
    const [oa, ob, na, nb] = [order.old[a]!.get(key), order.old[b]!.get(key), order.new[a]!.get(key), order.new[b]!.get(key)];
    if (oa === undefined || ob === undefined || na === undefined || nb === undefined || oa === ob || na === nb) continue;
    if (oa < ob !== na < nb) return k % 4;
  }
  return -1;
}

const besidesCallsAndReturn = (x: ReadonlySet<string>): string[] => [...x].filter((t) => !handedOn(t) && t !== 'ret').sort();
/** A use of a value loaded through the slot (`gvm<sub>@1`), not of the slot's own value. */
const ofLoaded = (t: string): boolean => /^[gx]v/.test(t);
/** Whether two slots' uses other than being handed on or returned (and, `own`, other than those of values loaded through them) are the same, and some. */
const sameUses = (x: ReadonlySet<string>, y: ReadonlySet<string>, own = false): boolean => {
  const [a, b] = [besidesCallsAndReturn(x), besidesCallsAndReturn(y)].map((u) => (own ? u.filter((t) => !ofLoaded(t)) : u)) as [string[], string[]];
  return a.length > 0 && a.length === b.length && a.every((t, i) => t === b[i]);
};
/** A slot's uses but those naming a global by identity. */
const unnamed = (x: ReadonlySet<string>): Set<string> => new Set([...x].filter((t) => !namesGlobal(t)));
/**
 * Whether the globals that told slots a and b apart in the old body (`oa`, `ob`) tell the same
 * slots apart in the new one: each new slot meets its own old slot's and none of the other's.
 * `swapped`: the new slots given in the other order, which asks whether they were exchanged.
 * `which`: the uses that tell them apart (globals by identity; or the roles values computed from
 * them play, computedRole).
 */
function placed(oa: ReadonlySet<string>, ob: ReadonlySet<string>, na: ReadonlySet<string>, nb: ReadonlySet<string>, which: (t: string) => boolean = namesGlobal): boolean {
  const [ga, gb] = [[...minus(oa, ob)].filter(which), [...minus(ob, oa)].filter(which)].map((l) => new Set(l)) as [Set<string>, Set<string>];
  return ga.size > 0 && gb.size > 0 && meets(na, ga) && !meets(na, gb) && meets(nb, gb) && !meets(nb, ga);
}
/**
 * A role a value computed from the slot plays (argument-uses.ts `e` tokens: `em<sub>@1`, the
 * subtrahend; `ecall@1`, handed to a call as its second argument): `pair(a*8, b*8)` ->
 * `pair(b*8, a*8)` exchanges only those, beside the slots' own uses, which a compiler may
 * write another way in each build (clang `shl ecx,3` in one, `lea eax,[rdx*8]` in the other).
 */
const computedRole = (t: string): boolean => t.startsWith('e') || t.startsWith('addr@');
/** Whether the slot's value was spilled to a frame slot whose address the body hands out (argument-uses.ts `addr`): what it reloads from there is unknown. */
const escapes = (x: ReadonlySet<string>): boolean => [...x].some((t) => t.startsWith('addr'));
/** A slot's uses but being handed on (`call@k`: an integer's xmm register is handed to every call) or its address handed out. */
const known = (x: ReadonlySet<string>): string[] => [...x].filter((t) => !handedOn(t) && !t.startsWith('addr'));

/**
 * A slot a whose frame slot's address one body hands out (`xchg(&a, &b)`) with another slot
 * b's, where the other body hands out neither and uses both otherwise, or null: the body that
 * hands them out may have them changed by the callee (a reload of a's slot after `xchg` is b),
 * so its uses cannot be compared with the other body's, and `xchg(&a, &b); return a - b;` ->
 * `esc_sub(b, a) { return b - a; }` (the other order, for old callers) would show no exchange
 * (probe entry-args-escape). One slot handed out alone is not two exchanged through the callee.
 * When both bodies hand them out, where the addresses go is compared (`addr@k`, computedRole).
 */
function escapedOnOneSide(o: ReadonlyArray<ReadonlySet<string>>, n: ReadonlyArray<ReadonlySet<string>>): { a: number; old: boolean } | null {
  for (const [side, other] of [[o, n], [n, o]] as const) {
    const out = [0, 1, 2, 3].filter((k) => escapes(side[k]!) && !escapes(other[k]!) && known(other[k]!).length > 0);
    if (out.length >= 2) return { a: out[0]!, old: side === o };
  }
  return null;
}
/** Whether each of two slots has a use the other lacks: a swap of them would exchange those (kind 'swap' decides). */
const apart = (x: ReadonlySet<string>, y: ReadonlySet<string>): boolean => minus(x, y).size > 0 && minus(y, x).size > 0;

/**
 * Two slots a < b whose uses cannot be told apart (the same, but for calls they are handed to
 * and a -O0 pointer left in rax at the return, in each body), first used in the other order:
 * `put(a, b) { *a = 1; *b = 2; }` -> `put(b, a)` stores through rdx first where it stored
 * through rcx first (probe entry-args-same). Which register's value goes where is what the
 * tokens leave out, and the order of two stores through pointers that may alias is the source
 * order; a fix that only reorders two such uses is refused with them. Two slots whose uses are
 * loads whose values meet only commutative operations (`*a + *b` -> `*b + *a`, probe
 * entry-args-loads sum_fix) are not ordered: reading the other first means the same. Loaded
 * values that meet an operation in a role (`*a - *b`, `*a < *b`, `*a / *b`) have tokens that
 * name it (`gvm<sub>@0`), so a swap of those is an exchange of uses, found as kind 'swap'.
 * The slots' own uses decide whether they are alike; their loaded values' uses free them from
 * the order only when each body tells the two apart both ways (each slot has a use the other
 * lacks: an exchange would show), not when one slot's loaded value merely meets one more
 * operation (clang strcmp's `test al,al` on the first string's byte only).
 */
function reorderedUse(o: ReadonlyArray<ReadonlySet<string>>, n: ReadonlyArray<ReadonlySet<string>>, order: PassOrder, a: number, b: number): number | null {
  // The slots' own uses alike: what their loaded values meet may still tell them apart.
  if (!sameUses(o[a]!, o[b]!, true) || !sameUses(n[a]!, n[b]!, true)) return null;
  const combined = sameUses(o[a]!, o[b]!) && sameUses(n[a]!, n[b]!) && [o[a]!, o[b]!, n[a]!, n[b]!].every(onlyCombined);
  const [oa0, ob0, na0, nb0] = [o[a]!, o[b]!, n[a]!, n[b]!].map(unnamed) as [Set<string>, Set<string>, Set<string>, Set<string>];
  // Globals written or read by identity free them only where each slot keeps its own (store2_order); where they are lost, the order still decides.
  if (combined || (apart(oa0, ob0) && apart(na0, nb0)) || placed(o[a]!, o[b]!, n[a]!, n[b]!)) return null;
  const [oa, ob, na, nb] = [order.old[a]!.get('use'), order.old[b]!.get('use'), order.new[a]!.get('use'), order.new[b]!.get('use')];
  if (oa === undefined || ob === undefined || na === undefined || nb === undefined || oa === ob || na === nb) return null;
  // The slot the old body used first, when the new body uses the other one first.
  return oa < ob !== na < nb ? (oa < ob ? a : b) : null;
}

/** A load through a slot (`gld+0x0:4`, `gix4:ld:4`), or its loaded value met by a commutative operation (`gvm<add>`), first or as its running value. */
const ORDER_FREE = /^[gx](ld[+-]0x|ix\d+:ld:|vx?m\d+(?![\d@<]))/;
/**
 * Whether a slot's uses (besides calls and the return) are loads whose values only meet
 * commutative operations, some of them: `*a + *b` -> `*b + *a` reads the other pointer first,
 * and means the same. Stores are ordered (the pointers may alias), and so is a loaded value
 * stored, compared, or on one side of `sub`: those tokens are not order-free.
 */
const onlyCombined = (x: ReadonlySet<string>): boolean => {
  const u = besidesCallsAndReturn(x);
  return u.every((t) => ORDER_FREE.test(t)) && u.some((t) => /^[gx]vx?m/.test(t));
};

/** Slot k's register as the uses of old and new bodies show it: only general-register uses, only xmm ones, or both. */
function slotNames(o: ReadonlyArray<ReadonlySet<string>>, n: ReadonlyArray<ReadonlySet<string>>): string[] {
  return [0, 1, 2, 3].map((k) => {
    const all = [...o[k]!, ...n[k]!];
    const [g, x] = [all.some((t) => t.startsWith('g')), all.some((t) => t.startsWith('x'))];
    return g === x ? `${SLOT_GPR_NAMES[k]!}/xmm${k}` : g ? SLOT_GPR_NAMES[k]! : `xmm${k}`;
  });
}

/** A slot's uses but being returned (`ret`, `dret`). */
const besidesReturn = (x: ReadonlySet<string>): Set<string> => new Set([...x].filter((t) => t !== 'ret' && t !== 'dret'));
const minus = (x: ReadonlySet<string>, y: ReadonlySet<string>): Set<string> => new Set([...x].filter((t) => !y.has(t)));
const meets = (x: ReadonlySet<string>, y: ReadonlySet<string>): boolean => [...x].some((t) => y.has(t));
/** Whether at least half of the uses `now` makes of a slot are uses `was` made of another: the slot took over that one's meaning, not one incidental use of it. */
const takesOver = (now: ReadonlySet<string>, was: ReadonlySet<string>): boolean => 2 * [...now].filter((t) => was.has(t)).length >= now.size;

/**
 * The move of argument meaning that old and new uses show (argumentUses of the old and new
 * bodies), or null. `stillRead(slot)`: whether the new body still reads that slot through
 * paths this search does not follow (entry-arguments.ts' liveness), which rules out a shift.
 */
export function movedUses(o: ReadonlyArray<ReadonlySet<string>>, n: ReadonlyArray<ReadonlySet<string>>, stillRead: (slot: number) => boolean = () => false, order?: PassOrder): UseMove | null {
  for (let a = 0; a < 4; a++) {
    for (let b = a + 1; b < 4; b++) {
      const [ta, tb] = [minus(o[a]!, o[b]!), minus(o[b]!, o[a]!)];
      const k = order === undefined ? -1 : reorderedPass(o, n, order, a, b);
      if (k >= 0) return { names: slotNames(o, n), kind: 'order', a, b, k };
      const oldFirst = order === undefined ? null : reorderedUse(o, n, order, a, b);
      if (oldFirst !== null) return { names: slotNames(o, n), kind: 'first', a, b, oldFirst };
      if (ta.size === 0 || tb.size === 0) continue;
      // Two slots whose values now reach each other's globals exchanged them, whatever else the body does with them (a swap with a rewrite).
      // A pointer left in rax at the return of a void function (-O0: the last one reloaded, `ret`/`dret`) stays with the slot reloaded last and is no use to exchange.
      const took = takesOver(n[a]!, o[b]!) && takesOver(n[b]!, o[a]!);
      const [xa, xb] = [ta, tb].map(besidesReturn) as [Set<string>, Set<string>];
      const exchanged = took && meets(n[a]!, xb) && !meets(n[a]!, xa) && meets(n[b]!, xa) && !meets(n[b]!, xb);
      if (exchanged || placed(o[a]!, o[b]!, n[b]!, n[a]!) || placed(o[a]!, o[b]!, n[b]!, n[a]!, computedRole)) return { names: slotNames(o, n), kind: 'swap', a, b, usesA: [...ta].sort(), usesB: [...tb].sort() };
    }
  }
  const esc = escapedOnOneSide(o, n);
  if (esc !== null) return { names: slotNames(o, n), kind: 'escape', a: esc.a, old: esc.old };
  let last = 3;
  while (last > 0 && o[last]!.size === 0 && n[last]!.size === 0) last--;
  if (last === 0 || o[last]!.size === 0 || n[last]!.size !== 0 || stillRead(last)) return null;
  let from = last;
  while (from > 0) {
    const [own, up] = [minus(o[from - 1]!, o[from]!), minus(o[from]!, o[from - 1]!)];
    if (!meets(n[from - 1]!, up) || meets(n[from - 1]!, own) || !takesOver(n[from - 1]!, o[from]!)) break;
    from--;
  }
  return from === last ? null : { names: slotNames(o, n), kind: 'shift', from, last, uses: [...minus(o[last]!, o[last - 1]!)].sort() };
}
