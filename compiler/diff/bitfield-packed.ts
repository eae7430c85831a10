/**
 * Whole-word packing stores: the other writers of a bit-field word. bitfield-layout.ts takes as
 * evidence only read-modify-write stores (the word's old value masked and merged); a store
 * that packs fields into the word from scratch (`w->a = a; w->b = b`, the rest 0: `and edx,
 * 0xf; shl r8d,4; or edx,r8d; mov [rcx],edx`, no read of the word) is none, so two fields it
 * alone writes can swap unseen. When an unrelated read-modify-write writer of the same word
 * changed higher up (bitfield-layout.ts `from` = 8), the readers of the swapped low fields
 * decode bits below `from` and passed (probe bitfield-low-swap: get_ab; issue #14's residual
 * gap of the readers rule). Here a packing store is a plain store of a register whose value
 * (the backward slice over the instructions that compute it, as bitfield-layout.ts walks it)
 * places something with a shift and never reads the word; what it packs is, per input of the
 * slice, the masks and shifts applied to it. When old and new bodies both pack the word at one
 * displacement otherwise, bitfield-readers.ts refuses that writer, and lowers the word's `from` to 0, but
 * only for a word some read-modify-write writer already changed: a packing store alone is
 * also how a hash or an encoded value is computed, and its constants change with any fix.
 * Not seen: a packed word stored as an immediate (`mov dword [rcx],0x35`, init's arguments
 * folded), and packing stores of a global's word (through RIP).
 */
import type { FunctionInfo } from '../image/types.ts';
import { type Step, stepOf } from './bitfield-layout.ts';
import { decodeEach } from './register-effects.ts';

/** How far back a packing store's slice is followed (bitfield-layout.ts' SLICE_STEPS). */
const PACK_STEPS = 40;

/** Longest path (characters) a packing store's input carries. */
const MAX_PATH = 160;

/**
 * What the value `steps[at]` stores packs, when it packs the word from scratch (a shift, no
 * read of the word); else null. Each input of the slice (a register live where the slice
 * starts, or a load) is one entry, `input:path`, the path being the constants applied to it
 * on its way to the store: two fields swapped apply the same constants as a set, but to the
 * other input (`shl r8d,4` for b, then `shl edx,4` for a).
 */
function packedSlice(steps: readonly Step[], at: number): Set<string> | null {
  const st = steps[at]!.store!;
  const paths = new Map<number, string>([[st.src, '']]);
  const inputs = new Set<string>();
  let shifted = false;
  for (let k = at - 1; k >= 0 && k >= at - PACK_STEPS && paths.size > 0; k--) {
    const s = steps[k]!;
    if (s.barrier || s.store?.key === st.key) break;
    const p = s.writes < 0 ? undefined : paths.get(s.writes);
    if (p === undefined) continue;
    // The word's old value in the slice: a read-modify-write, bitfield-layout.ts' evidence.
    if (s.load === st.key) return null;
    paths.delete(s.writes);
    shifted ||= s.constant?.startsWith('shift ') === true;
    const q = s.constant === null ? p : p === '' ? s.constant : `${s.constant}>${p}`;
    if (q.length > MAX_PATH) return null;
    if (s.load !== null) inputs.add(`[${s.loadDisp ?? 'other'}]:${q}`);
    for (const r of s.reads) {
      const e = paths.get(r);
      paths.set(r, e === undefined || e === q ? q : [e, q].sort().join('|'));
    }
  }
  for (const [r, p] of paths) inputs.add(`${r}:${p}`);
  return shifted ? inputs : null;
}

/** Per displacement (register base, non-negative), the constants of a body's packing stores. */
function packedStores(image: Uint8Array, f: FunctionInfo): Map<number, Set<string>> {
  const steps: Step[] = [];
  decodeEach(image, f.decoded.insns, (insn) => {
    steps.push(stepOf(insn));
  });
  const out = new Map<number, Set<string>>();
  for (let k = 0; k < steps.length; k++) {
    const st = steps[k]!.store;
    if (st === null || st.inPlace || st.src < 0 || st.disp < 0) continue;
    const c = packedSlice(steps, k);
    if (c === null) continue;
    const set = out.get(st.disp) ?? new Set<string>();
    for (const x of c) set.add(x);
    out.set(st.disp, set);
  }
  return out;
}

/** The displacements both bodies pack from scratch with other constants, in order. */
export function detectPackedChanges(oldImage: Uint8Array, of: FunctionInfo, newImage: Uint8Array, nf: FunctionInfo): number[] {
  const o = packedStores(oldImage, of);
  if (o.size === 0) return [];
  const n = packedStores(newImage, nf);
  const out: number[] = [];
  for (const [disp, oc] of o) {
    const nc = n.get(disp);
    if (nc === undefined) continue;
    if (oc.size !== nc.size || [...oc].some((c) => !nc.has(c))) out.push(disp);
  }
  return out.sort((a, b) => a - b);
}
