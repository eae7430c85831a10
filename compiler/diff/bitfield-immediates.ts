/**
 * A bit-field word stored as one immediate (issue #14): `*f = (struct flags){.kind = 3, .level
 * = 11, .on = 1}` folds every field into `mov dword [rcx],0x15b` (gcc -O1, clang -O1/-O2/-Os).
 * No shift, no mask, no read of the word: bitfield-layout.ts (read-modify-write stores) and
 * bitfield-packed.ts (stores of a register computed by shifts) see no field, so the fields
 * swapping places (probe bitfield-immediate-reorder: v1 kind bits 0-2, level 3-7; v2 level
 * 0-4, kind 5-7, the immediate 0x15b -> 0x16b) was called hotpatchable, and patched live new
 * unpack decoded old init's word with the new layout (neither version's line).
 * The immediate alone does not tell a move from a new value (a fix that stores another level),
 * so the link is a reader, as bitfield-packed-moves.ts links a packer: a changed function whose
 * old body stores at a displacement only immediates its new body does not, and whose new body
 * stores others there (a value replaced), is a writer of the word; a changed reader of that
 * displacement whose decoded bit groups (bitfield-readers.ts `fields`) moved, some group only
 * its old body decodes and some only its new body decodes, both touching the bits the
 * immediates differ in, reads the word in another layout. Twin bitfield-immediate-fix (a flag
 * set in a new bit, unpack decoding the same groups with another formula) stays hotpatchable.
 */
import { Mnemonic, OpKind } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { memoryBits } from './bitfield-bits.ts';
import { stepOf, type WordOf } from './bitfield-layout.ts';
import type { ReadScan } from './bitfield-readers.ts';
import { decodeEach } from './register-effects.ts';

const IMMEDIATES = new Set<number>([OpKind.Immediate8, OpKind.Immediate16, OpKind.Immediate32, OpKind.Immediate8to32, OpKind.Immediate32to64]);

/** Per displacement (words keyed by `word`: register base by default), the immediates a body's `mov [m],imm` stores, as the store's width sees them. */
function immediateStores(image: Uint8Array, f: FunctionInfo, word?: WordOf): Map<number, Set<bigint>> {
  const out = new Map<number, Set<bigint>>();
  decodeEach(image, f.decoded.insns, (insn) => {
    if (insn.mnemonic !== Mnemonic.Mov || insn.opCount !== 2 || !IMMEDIATES.has(insn.opKind(1))) return;
    const st = stepOf(insn, word).store;
    const bits = memoryBits(insn);
    if (st === null || st.disp < 0 || bits === 0) return;
    out.set(st.disp, (out.get(st.disp) ?? new Set<bigint>()).add(BigInt.asUintN(bits, insn.immediate(1))));
  });
  return out;
}

/** A word both bodies store as immediates, with some value replaced: the values only each body stores, and the bits they differ in. */
export interface ImmediateMove {
  readonly disp: number;
  readonly onlyOld: readonly bigint[];
  readonly onlyNew: readonly bigint[];
  readonly changed: bigint;
}

/** The words old body `of` and new body `nf` both store as immediates, where some old value is gone and some new one appears, by displacement. */
export function detectImmediateMoves(oldImage: Uint8Array, of: FunctionInfo, newImage: Uint8Array, nf: FunctionInfo, words?: { readonly old: WordOf; readonly new: WordOf }): ImmediateMove[] {
  const o = immediateStores(oldImage, of, words?.old);
  if (o.size === 0) return [];
  const n = immediateStores(newImage, nf, words?.new);
  const out: ImmediateMove[] = [];
  for (const [disp, ov] of [...o].sort((a, b) => a[0] - b[0])) {
    const nv = n.get(disp);
    if (nv === undefined) continue;
    const onlyOld = [...ov].filter((x) => !nv.has(x));
    const onlyNew = [...nv].filter((x) => !ov.has(x));
    if (onlyOld.length === 0 || onlyNew.length === 0) continue;
    // One value replaced: the bits it changed; several: every bit either side's replaced values set.
    const changed = onlyOld.length === 1 && onlyNew.length === 1 ? onlyOld[0]! ^ onlyNew[0]! : [...onlyOld, ...onlyNew].reduce((a, x) => a | x, 0n);
    if (changed !== 0n) out.push({ disp, onlyOld, onlyNew, changed });
  }
  return out;
}

/** The bit groups a reader decodes at `disp` only in its old body and only in its new body, when both exist and both touch `changed`; else null. */
export function movedGroups(o: ReadScan, n: ReadScan, mv: ImmediateMove): { was: bigint[]; now: bigint[] } | null {
  const og = o.fields.get(mv.disp);
  const ng = n.fields.get(mv.disp);
  if (og === undefined || ng === undefined) return null;
  const was = [...og].filter((g) => !ng.has(g));
  const now = [...ng].filter((g) => !og.has(g));
  const touches = (gs: readonly bigint[]): boolean => gs.some((g) => (g & mv.changed) !== 0n);
  return touches(was) && touches(now) ? { was, now } : null;
}
