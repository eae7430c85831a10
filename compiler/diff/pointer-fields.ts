/**
 * Two pointer parameters reordered (`area_of(b, s)` -> `area_of(s, b)`, sample
 * entry-args-order): both registers are still dereferenced, so the roles agree
 * (argument-roles.ts), and when every new access lies inside an old one on the same register
 * no field looks added (added-field.ts). What moves is which fields each register reaches: the
 * box's fields once read through rcx are read through rdx, the scale's the other way. So for
 * entry-arguments.ts, two argument registers whose new field accesses (offset and size, through
 * the register, a 64-bit copy of it or a frame slot it was spilled to, added-field.ts `argAccessesOf`) share none with their own
 * old accesses and some with the other register's old accesses were swapped: an old caller
 * outside the module passes them in the old order. Two pointers to one type (a copy from and
 * to) keep the same fields on both registers and show nothing; a fix that touches one more
 * field keeps the old ones too.
 */
import { hex } from '../../common/types.ts';
import type { ArgAccess } from './added-field.ts';
import { ARG_NAMES } from './argument-roles.ts';

/** Two argument registers (1..4: rcx, rdx, r8, r9) whose fields moved to each other. */
export interface PointerSwap {
  readonly a: number;
  readonly b: number;
  /** The fields (`+0x0 (8 bytes)`) the old body read through a and b. */
  readonly fieldsA: readonly string[];
  readonly fieldsB: readonly string[];
}

/** A field as one number: offset * 128 + access size (at most 64 bytes, a zmm). */
const SIZES = 128;

/** Field keys each argument's accesses reach (`lea` left out). */
function fieldsOf(accesses: readonly ArgAccess[]): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  for (const x of accesses) {
    if (x.size === 0 || x.size >= SIZES) continue;
    const s = out.get(x.arg) ?? new Set<number>();
    s.add(x.disp * SIZES + x.size);
    out.set(x.arg, s);
  }
  return out;
}

const meets = (x: ReadonlySet<number>, y: ReadonlySet<number>): boolean => [...x].some((k) => y.has(k));

/** The swap of two pointer arguments the old and new bodies' field accesses show, or null. */
export function swappedPointers(oldAccesses: readonly ArgAccess[], newAccesses: readonly ArgAccess[]): PointerSwap | null {
  const f = fieldsOf(oldAccesses);
  const g = fieldsOf(newAccesses);
  for (let a = 1; a <= 4; a++) {
    for (let b = a + 1; b <= 4; b++) {
      const [fa, fb, ga, gb] = [f.get(a), f.get(b), g.get(a), g.get(b)];
      if (fa === undefined || fb === undefined || ga === undefined || gb === undefined) continue;
      if (meets(ga, fa) || meets(gb, fb) || !meets(ga, fb) || !meets(gb, fa)) continue;
      return { a, b, fieldsA: [...fa].sort((x, y) => x - y).map(fieldName), fieldsB: [...fb].sort((x, y) => x - y).map(fieldName) };
    }
  }
  return null;
}

function fieldName(k: number): string {
  return `+${hex(Math.floor(k / SIZES))} (${k % SIZES} bytes)`;
}

/** `dereferences rdx at the fields its old body read through rcx (+0x0 (4 bytes), ...) and rcx at those of rdx (...), and neither at its own old ones (two pointer parameters reordered?)`. */
export function describePointerSwap(s: PointerSwap): string {
  const [a, b] = [ARG_NAMES[s.a - 1]!, ARG_NAMES[s.b - 1]!];
  return `dereferences ${b} at the fields its old body read through ${a} (${s.fieldsA.join(', ')}) and ${a} at those it read through ${b} (${s.fieldsB.join(', ')}), and neither at its own old ones (two pointer parameters reordered?)`;
}
