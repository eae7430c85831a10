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
 * A read-modify-write store that merges shifted inputs into the word (clang: `and eax,[rcx]`
 * with the keep mask, then `or`/`add`) is followed the same way for detectPackedMoves' swaps:
 * the word's own kept bits land no input, and an addition merges (the fields do not overlap).
 * At -O0 each field is its own read-modify-write, the argument reloaded from its stack slot
 * before it: a slot written once names the input alike in both bodies (loadedSlots), and a
 * word counts when any of its read-modify-write stores shifts a field in (probes
 * bitfield-rotate and bitfield-swap-whole at gcc/clang -O0 were hotpatchable; carried, the
 * patched process misread the old words; twin bitfield-swap-fix stays hotpatchable at -O0).
 * Not seen: a packed word stored as an immediate (`mov dword [rcx],0x35`, init's arguments
 * folded). A global's word (through RIP) is followed with bitfield-globals.ts' keys.
 */
import { type Instruction, Mnemonic, OpKind } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { type BitOp, bitOpOf, lowBits, registerBits } from './bitfield-bits.ts';
import { bodySteps, type Step, type StepMemo, type WordKeys, type WordOf } from './bitfield-layout.ts';
import type { BodyMemo } from './body-memo.ts';
import { mapFrame } from './frame-slots.ts';
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
function packedStores(image: Uint8Array, f: FunctionInfo, memo: StepMemo | undefined): Map<number, Set<string>> {
  const steps = bodySteps(image, f, undefined, memo);
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
export function detectPackedChanges(oldImage: Uint8Array, of: FunctionInfo, newImage: Uint8Array, nf: FunctionInfo, memo?: StepMemo): number[] {
  const o = packedStores(oldImage, of, memo);
  if (o.size === 0) return [];
  const n = packedStores(newImage, nf, memo);
  const out: number[] = [];
  for (const [disp, oc] of o) {
    const nc = n.get(disp);
    if (nc === undefined) continue;
    if (oc.size !== nc.size || [...oc].some((c) => !nc.has(c))) out.push(disp);
  }
  return out.sort((a, b) => a - b);
}

/** Where a value's bits land in the stored word: value bit i at word bit i + `s`, only word bits in `w`. */
interface Placement {
  readonly s: number;
  readonly w: bigint;
}

/** Word bits `m` (a mask over a value placed at `s`) cover. */
function placed(m: bigint, s: number): bigint {
  return s >= 0 ? m << BigInt(s) : m >> BigInt(-s);
}

/** Most placements one register carries back (two paths joining keep both). */
const MAX_PLACEMENTS = 8;

/**
 * The placement of the value before `op` (on a register of `bits` bits) from the placement of
 * its result; null when the op is no shift, mask, copy or merge (the value is an input there).
 */
function placementBefore(op: BitOp, bits: number, p: Placement): Placement | null {
  const keepHigh = bits < 32 ? ~lowBits(bits) : 0n;
  switch (op.k) {
    case 'shl':
      return { s: p.s + op.n, w: p.w };
    case 'shr':
      return { s: p.s - op.n, w: p.w };
    case 'and':
      return { s: p.s, w: p.w & placed(op.m | keepHigh, p.s) };
    case 'copy':
      return { s: p.s, w: p.w & placed(lowBits(op.bits), p.s) };
    case 'merge':
      return p;
    default:
      return null;
  }
}

/**
 * The fields the value `steps[at]` stores packs, when it packs the word from scratch: per
 * input of the backward slice (a register live where the slice starts, a load, or a value
 * computed otherwise than by shift, mask, copy and merge), the word bits it lands in (`kind`
 * masked by 7, `level` shifted by 3, stored as a byte: 0x7 and 0xf8). Null when the value
 * reads the word (a read-modify-write) or no input lands anywhere.
 */
function packedFields(steps: readonly Step[], ops: readonly BitOp[], widths: readonly number[], slots: readonly (string | null)[], at: number, rmw = false): { fields: Map<string, bigint>; shifted: boolean } | null {
  const st = steps[at]!.store!;
  let keeps = false;
  let shifted = false;
  const live = new Map<number, Placement[]>([[st.src, [{ s: 0, w: lowBits(steps[at]!.opBits) }]]]);
  const fields = new Map<string, bigint>();
  const land = (p: Placement, input: string): void => {
    const f = p.w & (p.s > 0 ? ~lowBits(p.s) : lowBits(64));
    if (f !== 0n) fields.set(input, (fields.get(input) ?? 0n) | f);
  };
  for (let k = at - 1; k >= 0 && k >= at - PACK_STEPS && live.size > 0; k--) {
    const s = steps[k]!;
    if (s.barrier || s.store?.key === st.key) break;
    const ps = s.writes < 0 ? undefined : live.get(s.writes);
    if (ps === undefined) continue;
    live.delete(s.writes);
    // The word's old value: a read-modify-write keeps its other bits (`and eax,[rcx]` with the
    // keep mask), no input lands there.
    if (s.load === st.key) {
      if (!rmw) return null;
      keeps = true;
      continue;
    }
    shifted ||= ops[k]!.k === 'shl' || ops[k]!.k === 'shr';
    for (const p of ps) {
      const before = placementBefore(ops[k]!, widths[k]!, p);
      // A constant (`mov r,imm`, `xor r,r`) lands no input; arithmetic or a load is one.
      if (before === null) {
        if (s.reads.length > 0 || s.load !== null) land(p, slots[k] ?? (s.loadDisp !== null ? `[${s.loadDisp}]` : `=${s.writes}`));
        continue;
      }
      for (const r of s.reads) {
        const q = live.get(r) ?? [];
        if (q.length < MAX_PLACEMENTS) live.set(r, [...q, before]);
      }
    }
  }
  for (const [r, ps] of live) for (const p of ps) land(p, `${r}`);
  if (rmw && !keeps) return null;
  return fields.size > 0 ? { fields, shifted } : null;
}

/**
 * An addition as the merge of its operands (clang merges fields by `add`, `lea r,[a+b]`:
 * their bits do not overlap, so nothing carries); else `bitOpOf`'s.
 */
function packOpOf(insn: Instruction): BitOp {
  const two = insn.opCount === 2 && insn.op0Kind === OpKind.Register;
  if (insn.mnemonic === Mnemonic.Add && two && insn.op1Kind !== OpKind.Memory) return { k: 'merge' };
  if (insn.mnemonic === Mnemonic.Lea && two && insn.memoryIndexScale === 1) return { k: 'merge' };
  return bitOpOf(insn);
}

/** A body's packed fields per displacement (register base, non-negative): stores that pack the word whole, and read-modify-write stores that merge shifted fields into it. */
interface StoreFields {
  readonly whole: Map<number, Map<string, bigint>>;
  readonly rmw: Map<number, Map<string, bigint>>;
}

/**
 * Per instruction, the stack slot it loads when the slot is written once in the body (`slot
 * 16:4`, its offset from the stack pointer at entry and its size; frame-slots.ts mapFrame), or
 * null. At -O0 each argument is spilled to its slot and reloaded before every field it sets
 * (gcc `mov eax,[rbp+0x18]`, clang `mov edx,[rsp+0xc]`): the slot names the input alike in
 * both bodies, where a reload into a scratch register would be only a computed value.
 */
function loadedSlots(image: Uint8Array, f: FunctionInfo): (string | null)[] {
  const frame = mapFrame(image, f.decoded.insns);
  const writes = new Map<number, number>();
  for (const a of frame.accesses.values()) if (a.write) for (let b = a.at; b < a.at + a.size; b++) writes.set(b, (writes.get(b) ?? 0) + 1);
  const out: (string | null)[] = [];
  decodeEach(image, f.decoded.insns, (insn, d) => {
    const a = frame.accesses.get(d.rva);
    let once = a !== undefined && !a.write && insn.mnemonic !== Mnemonic.Lea;
    for (let b = a?.at ?? 0; once && b < a!.at + a!.size; b++) once = writes.get(b) === 1;
    out.push(once ? `slot ${a!.at}:${a!.size}` : null);
  });
  return out;
}

/** What packedStoreFields reads of a body besides its steps, alike under any word keys: per instruction its pack op, destination width and loaded slot. */
interface PackInputs {
  readonly ops: readonly BitOp[];
  readonly widths: readonly number[];
  readonly slots: readonly (string | null)[];
}

function packInputsOf(image: Uint8Array, f: FunctionInfo): PackInputs {
  const ops: BitOp[] = [];
  const widths: number[] = [];
  decodeEach(image, f.decoded.insns, (insn) => {
    ops.push(packOpOf(insn));
    widths.push(insn.opCount > 0 && insn.op0Kind === OpKind.Register ? registerBits(insn.op0Register) : 64);
  });
  return { ops, widths, slots: loadedSlots(image, f) };
}

/** The packing scans kept for one diff (body-memo.ts): each body's steps per word keys, and its PackInputs. */
export interface PackScans {
  readonly steps: StepMemo;
  readonly pack: BodyMemo<PackInputs>;
}

function packedStoreFields(image: Uint8Array, f: FunctionInfo, word: WordOf | undefined, scans: PackScans | undefined): StoreFields {
  const steps = bodySteps(image, f, word, scans?.steps);
  const { ops, widths, slots } = scans === undefined ? packInputsOf(image, f) : scans.pack.of(packInputsOf, image, f, () => packInputsOf(image, f));
  const out: StoreFields = { whole: new Map(), rmw: new Map() };
  // A read-modify-write word counts when one of its stores shifts a field in: -O0 stores each
  // field alone (probe bitfield-rotate: the field at bit 0 with no shift, the next with `shl`).
  const shiftedRmw = new Set<number>();
  for (let k = 0; k < steps.length; k++) {
    const st = steps[k]!.store;
    if (st === null || st.inPlace || st.src < 0 || st.disp < 0) continue;
    const whole = packedSlice(steps, k) !== null;
    const c = packedFields(steps, ops, widths, slots, k, !whole);
    if (c === null) continue;
    if (!whole && c.shifted) shiftedRmw.add(st.disp);
    const to = whole ? out.whole : out.rmw;
    const map = to.get(st.disp) ?? new Map<string, bigint>();
    for (const [input, bits] of c.fields) map.set(input, (map.get(input) ?? 0n) | bits);
    to.set(st.disp, map);
  }
  for (const disp of [...out.rmw.keys()]) if (!shiftedRmw.has(disp)) out.rmw.delete(disp);
  return out;
}

/** A word both bodies pack whole with fields at other bits: the fields only the old body packs, and only the new one. */
export interface PackedMove {
  readonly disp: number;
  readonly onlyOld: readonly bigint[];
  readonly onlyNew: readonly bigint[];
  /** The word bits of the inputs (the same argument register or load in both bodies) whose lowest landing bit moved: two equal fields swapped; 0n when none. */
  readonly swapped: bigint;
  /** The fields those inputs land in (in either body). */
  readonly swappedFields: readonly bigint[];
  /** The stores read-modify-write the word (only `swapped` is set: bitfield-layout.ts compares their constants). */
  readonly rmw: boolean;
}

/** The word bits of the inputs of `oc` that land, in `nc`, in another field both bodies pack: equal fields swapped. */
function swappedFields(oc: ReadonlyMap<string, bigint>, nc: ReadonlyMap<string, bigint>): bigint[] {
  const os = new Set(oc.values());
  const ns = new Set(nc.values());
  // An input (an argument register or a load, the same in both bodies) lands in another field
  // of the same word, a field the other body packs too (a permutation of equal fields;
  // register allocation alone renames computed inputs, which are not keyed).
  const fields = new Set<bigint>();
  for (const [input, bits] of oc) {
    const nb = nc.get(input);
    // Swapped fields are apart (libvips 0.34.5's 0x30a11c: a value over bits 0-63 is no field).
    if (input.startsWith('=') || nb === undefined || (nb & bits) !== 0n || !os.has(nb) || !ns.has(bits)) continue;
    fields.add(bits).add(nb);
  }
  return [...fields];
}

/** A word's swap as PackedMove's fields. */
function swapOf(fields: readonly bigint[]): { swapped: bigint; swappedFields: readonly bigint[] } {
  return { swapped: fields.reduce((a, x) => a | x, 0n), swappedFields: fields };
}

/**
 * The words both bodies pack from scratch (packing stores, as detectPackedChanges finds them)
 * whose field bits differ: some input lands in other word bits (fields reordered, one
 * widened), by displacement. `words` keys each side's words (default: register base;
 * bitfield-globals.ts passes a global's words reached through RIP, keyed by matched item).
 */
export function detectPackedMoves(oldImage: Uint8Array, of: FunctionInfo, newImage: Uint8Array, nf: FunctionInfo, words?: WordKeys, scans?: PackScans): PackedMove[] {
  const o = packedStoreFields(oldImage, of, words?.old, scans);
  if (o.whole.size === 0 && o.rmw.size === 0) return [];
  const n = packedStoreFields(newImage, nf, words?.new, scans);
  const out: PackedMove[] = [];
  for (const [disp, oc] of [...o.whole].sort((a, b) => a[0] - b[0])) {
    const nc = n.whole.get(disp);
    if (nc === undefined) continue;
    const os = new Set(oc.values());
    const ns = new Set(nc.values());
    const onlyOld = [...os].filter((x) => !ns.has(x));
    const onlyNew = [...ns].filter((x) => !os.has(x));
    const sw = swapOf(swappedFields(oc, nc));
    if ((onlyOld.length > 0 && onlyNew.length > 0) || sw.swapped !== 0n) out.push({ disp, onlyOld, onlyNew, ...sw, rmw: false });
  }
  // A read-modify-write on one side may be a whole store on the other: gcc -O2 copies the base
  // (`mov rax,rcx`) before loading through it in one build (probe bitfield-rotate), so the load
  // is another word's and the store looks whole; the inputs are followed alike.
  const disps = new Set([...o.rmw.keys(), ...o.whole.keys()]);
  for (const disp of [...disps].sort((a, b) => a - b)) {
    const oc = o.rmw.get(disp) ?? o.whole.get(disp);
    const nc = n.rmw.get(disp) ?? n.whole.get(disp);
    if (oc === undefined || nc === undefined || (o.whole.has(disp) && (n.whole.has(disp) || o.rmw.has(disp)))) continue;
    const sw = swapOf(swappedFields(oc, nc));
    if (sw.swapped !== 0n) out.push({ disp, onlyOld: [], onlyNew: [], ...sw, rmw: true });
  }
  return out;
}
