/**
 * The retyped-field half of the layout verdict. layout-shift.ts sees fields that moved,
 * added-field.ts fields at offsets the old body never reached; a field that keeps its offset
 * but changes type shows in neither: every new access lies at an old offset. Objects built by
 * old code still hold the old type's bytes there (test/probes/red-*.c, test/probe-red-live.test.ts,
 * each carried live under Wine and printing neither version):
 * - `int v` -> `float v` (red-float), or a union read through another member (red-union): the
 *   old body loads or stores the field as an integer, the new one as a float (or the reverse),
 *   at the same offset and size: new code reads the integer's bits as a float.
 * - `int x` -> `short x; short w` (red-split), `int kind` -> `unsigned char kind, tag`
 *   (red-narrow): the new body loads or stores a new field inside the bytes of an old scalar
 *   field, at an offset no old access reaches; old objects hold the old integer's upper bytes
 *   where the new field is read.
 * - an array at a struct's end grown (red-tail): the new body moves more bytes at an old
 *   offset, past every old access on that pointer (objects old code allocated are smaller).
 *
 * Same evidence as added-field.ts: accesses through a pointer the function received
 * (`argAccessesOf`), on an argument the old body dereferences too. The new access must be a
 * plain load or store (mov, movzx, movsx, movss, movsd) for the inside rule, and the old ones
 * plain moves for the past rule: compilers narrow tests and arithmetic on memory (couchbase
 * 4.6.0 `test byte [rcx+0x14], 2` where 4.7.0 loads the whole int: refused by a width rule
 * tried first, 17 functions, so there is none). Kinds count only when every old access at that
 * offset and size is of the one kind and every new one of the other. A fix that keeps each
 * field's type keeps each offset's kind and reaches no byte inside an old field anew.
 * - a field widened over the padding after it (red-widen: int -> long long before an 8-byte
 *   field): the new body moves more bytes at an old offset than every old move there, and no
 *   old access touches the extra bytes, though old accesses lie beyond them.
 * - a pointer becoming an int64 (red-ptr): same offset, size and integer kind; the old body
 *   dereferences the loaded field (or stores an address in it), the new one adds it into a
 *   number it returns (or the reverse): pointer-uses.ts, counted only when every access that
 *   says anything on one side says the one use and on the other side the other.
 * -O0 bodies, which spill the argument and reload it before every access, are read through
 * their frame slots (frame-slots.ts). Not seen: two fields of one type exchanging offsets
 * (red-swap).
 */
import { hex } from '../../common/types.ts';
import type { ArgAccess } from './added-field.ts';
import type { PointerUse } from './pointer-uses.ts';

/** A field the new body accesses as another type than the old body at the same place. */
export interface RetypedField {
  readonly arg: number;
  readonly disp: number;
  readonly size: number;
  /**
   * How: `kind` (integer <-> float), `pointer` (an address <-> a number), `inside` (a move
   * inside an old scalar field), `past` (a move at an old offset that reaches past every old
   * access), `wider` (a move at an old offset over bytes no old access reaches, before others).
   */
  readonly how: 'kind' | 'pointer' | 'inside' | 'past' | 'wider';
  /** The old accesses it is measured against (at that offset, or the field it lies inside). */
  readonly old: readonly ArgAccess[];
  readonly kind: 0 | 1 | 2;
  /** For `pointer`: what the new body uses the field as. */
  readonly use?: PointerUse;
}

/** What the accesses of `xs` that say anything use the field as, when they agree (pointer-uses.ts), else null. */
function soleUse(xs: readonly ArgAccess[]): PointerUse | null {
  const seen = new Set(xs.flatMap((x) => (x.use === undefined ? [] : [x.use])));
  return seen.size === 1 ? [...seen][0]! : null;
}

const scalar = (x: ArgAccess): boolean => x.size >= 1 && x.size <= 8 && x.kind !== 0 && x.kind !== undefined;
const KIND = ['bits', 'an integer', 'a float'] as const;

/** Old accesses per argument, on the arguments the old body dereferences. */
function byArgument(oa: readonly ArgAccess[]): Map<number, ArgAccess[]> {
  const out = new Map<number, ArgAccess[]>();
  for (const x of oa) {
    if (x.size === 0) continue;
    const l = out.get(x.arg) ?? [];
    l.push(x);
    out.set(x.arg, l);
  }
  return out;
}

/** Whether no access of `xs` touches a byte of [from, to). */
const untouched = (xs: readonly ArgAccess[], from: number, to: number): boolean => xs.every((x) => x.disp + Math.max(x.size, 1) <= from || x.disp >= to);

/** The kind every access of `xs` has, or 0 when they disagree or say nothing. */
function soleKind(xs: readonly ArgAccess[]): 0 | 1 | 2 {
  const k = xs[0]?.kind ?? 0;
  return xs.every((x) => (x.kind ?? 0) === k) ? k : 0;
}

/** The first field `na` (the new body's argument accesses) accesses as another type than `oa` (the old body's), or null. */
export function findRetypedField(oa: readonly ArgAccess[], na: readonly ArgAccess[]): RetypedField | null {
  const old = byArgument(oa);
  const neu = byArgument(na);
  for (const [arg, ys] of neu) {
    const xs = old.get(arg);
    if (xs === undefined) continue;
    const oldEnd = Math.max(...xs.map((x) => x.disp + x.size));
    for (const y of ys) {
      const at = xs.filter((x) => x.disp === y.disp);
      // Wider than every old access at its offset, and past every old access on the pointer:
      // bytes old code never touched there (a vector store as well as a scalar one).
      // Old moves only: old tests and arithmetic are often narrowed (`test byte [rcx+0x14], 2`
      // where new code loads the whole int; couchbase 4.6.0 -> 4.7.0).
      if (at.length > 0 && y.disp + y.size > oldEnd && at.every((x) => x.move === true && x.size < y.size)) return { arg, disp: y.disp, size: y.size, how: 'past', old: at, kind: y.kind ?? 0 };
      // Wider than every old move at its offset, over bytes no old access reaches though the
      // old body reaches past them: a field widened over the padding after it (red-widen:
      // int -> long long; swc-html 1.16.1's 0x370af0 and 0x262c30 load a pointer at +0x50,
      // where 1.15.41 loads a u32 and reads +0x58 on). A scalar at an offset its size divides,
      // as a field of that size lies: MSVC stores two int fields at once as one qword at
      // +0xb4 (couchbase 4.7.0's 0x97320). Costs: a narrowed old load of a wider field reads
      // as that field's old width (couchbase 4.6.0's 0x2ac630 `movzx ecx, byte [rdi+0x8]`
      // takes a size_t's low byte as a shift count, 4.7.0 loads the qword): refused.
      if (at.length > 0 && scalar(y) && y.disp % y.size === 0 && at.every((x) => x.move === true && x.size < y.size) && untouched(xs, y.disp + Math.max(...at.map((x) => x.size)), y.disp + y.size)) {
        return { arg, disp: y.disp, size: y.size, how: 'wider', old: at, kind: y.kind ?? 0 };
      }
      if (!scalar(y)) continue;
      const same = at.filter((x) => x.size === y.size);
      const was = soleKind(same);
      const now = soleKind(ys.filter((z) => z.disp === y.disp && z.size === y.size));
      if (was !== 0 && now !== 0 && was !== now) return { arg, disp: y.disp, size: y.size, how: 'kind', old: same, kind: now };
      const wasUse = soleUse(same);
      const nowUse = soleUse(ys.filter((z) => z.disp === y.disp && z.size === y.size));
      if (wasUse !== null && nowUse !== null && wasUse !== nowUse) return { arg, disp: y.disp, size: y.size, how: 'pointer', old: same.filter((x) => x.use === wasUse), kind: now, use: nowUse };
      if (y.move !== true) continue;
      if (at.length > 0) continue;
      const host = xs.filter((x) => scalar(x) && x.disp < y.disp && y.disp + y.size <= x.disp + x.size);
      if (host.length > 0) return { arg, disp: y.disp, size: y.size, how: 'inside', old: host, kind: y.kind ?? 0 };
    }
  }
  return null;
}

const shape = (x: ArgAccess): string => `+${hex(x.disp)} (${x.size} bytes, as ${KIND[x.kind ?? 0]})`;

/** The reason text of a retyped field (the STRUCTURE_FIELD_RETYPED message's head). */
export function describeRetypedField(r: RetypedField): string {
  const at = `[arg${r.arg}+${hex(r.disp)}]`;
  const olds = [...new Set(r.old.map(shape))].join(', ');
  const what = {
    pointer: r.use === 'value' ? `as an integer (a number added or returned), where the old function uses it as a pointer (${olds}, dereferenced or stored from an address): a pointer field became an integer` : `as a pointer (dereferenced or stored from an address), where the old function uses it as an integer (${olds}, a number added or returned): an integer field became a pointer`,
    kind: `as ${KIND[r.kind]}, where the old function accesses ${olds} (a field's type changed, int <-> float, or a union read through another member)`,
    inside: `inside the old function's field ${olds} (a field split, or narrowed with a new one after it)`,
    past: `where the old function accesses only ${olds}, and past every old access on that pointer (a trailing array or field grown)`,
    wider: `where the old function accesses only ${olds}, over bytes after it that no old access reaches (a field widened over padding)`,
  }[r.how];
  return `structure layout changed: accesses ${at} (${r.size} bytes) ${what}; needs a baseline`;
}
