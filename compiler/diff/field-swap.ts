/**
 * Fields that exchange offsets (STRUCTURE_FIELDS_SWAPPED). A structure whose fields of one
 * size swap places (`{int a; int b}` -> `{int b; int a}`, test/probes/red-swap.c; the same
 * for a global struct, red-global-swap.c) keeps every offset, width and kind the code uses:
 * layout-shift.ts sees no shift, added-field.ts no new offset, field-retype.ts no new type.
 * Patched live, v2's code read the objects v1's code built with the two fields exchanged and
 * printed neither version (gcc and clang, -O0 to -Os).
 *
 * The evidence is in the matched bodies: aligned instruction by instruction on their full
 * form (exact registers, immediates, stack slots, `lea` and indexed displacements; only the
 * displacement of a field access through one base, and the target of a RIP operand or a
 * branch, left out), the accesses through one base map old offset -> new offset as a
 * non-identity permutation: every access at old +0x0 now at +0x4 and every one at +0x4 now at
 * +0x0, each field's accesses of one size, no access left at a moved offset. A base is a
 * register (followed through a reload from the same stack slot: -O0 reloads the pointer
 * before each access), or the writable globals, keyed by where the old target lands in NEW
 * (its matched item's start plus the offset: clang splits a global struct into one item per
 * field, `g_pair.0`, `g_pair.1`, and those exchange places the same way).
 * The computation around each moved access must be unchanged too: the instructions just
 * before and just after it are aligned to each other (a store keeps the value computed before
 * it, a load feeds the same next instruction). Two loads or two stores only scheduled in
 * another order (a statement reorder, twin red-swap-order) align with their computations
 * and keep their offsets, or break that context.
 *
 * One function alone that reads two fields the other way round cannot be told from a fix
 * that swaps which field an expression uses (twin red-swap-expr: `a*10 + b*100` for `a*100 +
 * b*10`, same struct, compiles to exactly red-swap's show), nor from an unrolled loop that
 * probes two slots in the other order (sample fn-identity's slot_of_default). So a function is
 * refused when its exchange includes a store (objects written in the new layout), or when
 * the same exchange shows in two changed functions or more, or when a changed writer stores
 * each exchanged field's values at the other's offset though its bodies do not align
 * (field-swap-writers.ts: probe red-swap-writer; the writer is refused with it). Any other
 * lone read-only exchange passes: a layout swapped whose writers are unmatched, in another
 * module or build the object in their frame. 7za 5.1.1 -> 5.2.0's 0x5005c is one (a
 * callback whose `this` +0x10 and +0x18, an interface pointer and a statistics pointer,
 * trade places; its only writer, unmatched, builds it on the stack: the disassembly is in
 * field-swap-writers.ts); 7za's package is refused by other rules.
 */
import { type Instruction, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { fullRegister } from './added-field.ts';
import { exchangingWriter, globalsOf, type GlobalAt, type StoreValues } from './field-swap-writers.ts';
import { align } from './layout-shift.ts';
import { reason, type Reason } from './reasons.ts';
import { decodeEach } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';
import { IMMEDIATE_KINDS, opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** One instruction as the alignment sees it, and its field access when it has one. */
interface SwapInsn {
  readonly skel: number;
  /** Base key of a field access (a register, a stack slot it was reloaded from, or GLOBALS), or -1. */
  readonly base: number;
  readonly disp: number;
  /** The RVA a global access reaches in its own image (its displacement otherwise). */
  readonly raw: number;
  readonly size: number;
  readonly store: boolean;
  /** Index of the first instruction of its run of identical plain stores (each stores the same value), else its own. */
  readonly run: number;
  readonly plain: boolean;
  /** Index of the instruction that last wrote the base register before this one (-1: none, or the base is a slot or the globals). */
  readonly def: number;
  /** For a register load from memory through a register (`mov r, [b+d]`): its displacement, size and index scale, else null. */
  readonly load: string | null;
}

/** Plain stores: `mov [m], src` and vector moves write only memory, so a run of identical ones stores one value. */
const PLAIN_MOVES = new Set<number>([Mnemonic.Mov, Mnemonic.Movss, Mnemonic.Movsd, Mnemonic.Movaps, Mnemonic.Movups, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Movd]);

/** Base key of the writable globals (their displacement is a NEW address). */
const GLOBALS = -2;
/** Base keys of registers reloaded from a stack slot: above every register. */
const SLOT_KEY = 0x10000;
/** Instructions whose first register operand is only read. */
const READS_OP0 = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Push, Mnemonic.Bt]);

/** Interns skeleton strings to numbers (shared by the two bodies of one pair). */
class Skeletons {
  private readonly ids = new Map<string, number>();
  idOf(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) this.ids.set(s, (id = this.ids.size));
    return id;
  }
}


/** The body's instructions for the swap alignment. */
function swapInsnsOf(image: Uint8Array, f: FunctionInfo, globalAt: GlobalAt, skels: Skeletons): SwapInsn[] {
  const out: SwapInsn[] = [];
  // Full register -> the stack slot it was last loaded from (a 64-bit reload of a spilled pointer).
  const slotOf = new Map<number, number>();
  // Registers holding a frame address: rsp, rbp, and copies of them (MSVC's `mov r11,rsp`
  // prologue addresses its locals and home slots through r11; 7za 5.1.1 -> 5.2.0's 0xcba4,
  // whose frame grew, reads [r11+0x30] as [r11+0x40]). Accesses through them are frame slots.
  const frame = new Set<number>([Register.RSP, Register.RBP]);
  // Full register -> index of the instruction that last wrote it, in address order.
  const defOf = new Map<number, number>();
  decodeEach(image, f.decoded.insns, (insn) => {
    const parts: Array<number | string> = [insn.mnemonic, insn.opCount];
    let base = -1;
    let disp = 0;
    let raw = 0;
    let size = 0;
    let store = false;
    for (let k = 0; k < insn.opCount; k++) {
      const kind = opKindOf(insn, k);
      parts.push(kind);
      if (kind === OpKind.Register) parts.push(opRegisterOf(insn, k));
      else if (IMMEDIATE_KINDS.has(kind) || kind === OpKind.Immediate64) parts.push(String(insn.immediate(k)));
      else if (kind === OpKind.Memory) {
        const access = memoryAccess(insn, globalAt, slotOf, frame);
        parts.push(insn.memoryBase, insn.memoryIndex, insn.memoryIndexScale, insn.memorySize);
        if (access === null) {
          if (insn.memoryBase !== Register.RIP) parts.push(String(insn.memoryDisplacement));
        } else {
          base = access.base;
          disp = access.disp;
          raw = access.raw;
          size = MemorySizeExt.size(insn.memorySize);
          store = k === 0;
        }
      }
    }
    const skel = skels.idOf(parts.join(','));
    const last = out[out.length - 1];
    const plain = store && PLAIN_MOVES.has(insn.mnemonic);
    const run = plain && last !== undefined && last.store && last.skel === skel && last.plain ? last.run : out.length;
    const def = base >= 0 && base < SLOT_KEY ? (defOf.get(fullRegister(base)) ?? -1) : -1;
    const b = insn.memoryBase;
    const load = insn.mnemonic === Mnemonic.Mov && insn.opCount === 2 && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Memory && b !== Register.RIP && b !== Register.None ? `${String(insn.memoryDisplacement)},${insn.memorySize},${insn.memoryIndexScale},${insn.memoryIndex === Register.None}` : null;
    out.push({ skel, base, disp, raw, size, store, run, plain, def, load });
    trackSlots(insn, slotOf, frame);
    trackFrame(insn, frame);
    trackDefs(insn, out.length - 1, defOf);
  });
  return out;
}

/** The field access of memory operand `k` (its base key and displacement), or null for a stack slot, `lea`, an indexed or unkeyed operand. */
function memoryAccess(insn: Instruction, globalAt: GlobalAt, slotOf: ReadonlyMap<number, number>, frame: ReadonlySet<number>): { base: number; disp: number; raw: number } | null {
  if (insn.mnemonic === Mnemonic.Lea || insn.memoryIndex !== Register.None) return null;
  const b = insn.memoryBase;
  if (b === Register.RIP) {
    const target = Number(insn.memoryDisplacement);
    const at = globalAt(target);
    return at === null ? null : { base: GLOBALS, disp: at, raw: target };
  }
  if (b === Register.None || frame.has(b)) return null;
  const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
  if (disp < 0) return null;
  return { base: slotOf.get(fullRegister(b)) ?? b, disp, raw: disp };
}

/** Follows which registers hold a pointer reloaded from a stack slot (`mov rax, [rbp-0x8]`). */
function trackSlots(insn: Instruction, slotOf: Map<number, number>, frame: ReadonlySet<number>): void {
  if (insn.mnemonic === Mnemonic.Call) {
    slotOf.clear();
    return;
  }
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || READS_OP0.has(insn.mnemonic)) return;
  const dst = insn.op0Register;
  const full = fullRegister(dst);
  slotOf.delete(full);
  if (insn.mnemonic === Mnemonic.Mov && dst === full && insn.opCount === 2 && insn.op1Kind === OpKind.Memory && frame.has(insn.memoryBase) && insn.memoryIndex === Register.None) {
    slotOf.set(full, SLOT_KEY + insn.memoryBase * 0x10000 + (Number(BigInt.asIntN(64, insn.memoryDisplacement)) & 0xffff));
  }
}

/**
 * Follows which registers hold a frame address: one copied from a frame register or made by
 * `lea` from one holds it, moved by a constant it keeps it, written otherwise it holds
 * something else (in address order, like trackSlots). rsp and rbp stay frame registers.
 */
function trackFrame(insn: Instruction, frame: Set<number>): void {
  if (insn.mnemonic === Mnemonic.Call) {
    for (const r of VOLATILE) frame.delete(r);
    return;
  }
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || READS_OP0.has(insn.mnemonic)) return;
  const dst = fullRegister(insn.op0Register);
  if (dst === Register.RSP || dst === Register.RBP) return;
  const mn = insn.mnemonic;
  const from =
    insn.opCount !== 2 ? Register.None
    : mn === Mnemonic.Mov && insn.op1Kind === OpKind.Register ? fullRegister(insn.op1Register)
    : mn === Mnemonic.Lea && insn.memoryIndex === Register.None ? insn.memoryBase
    : Register.None;
  const stepped = (mn === Mnemonic.Add || mn === Mnemonic.Sub) && insn.opCount === 2 && IMMEDIATE_KINDS.has(insn.op1Kind) && frame.has(dst);
  if (frame.has(from) || stepped) frame.add(dst);
  else frame.delete(dst);
}

/** Registers a call leaves undefined (the Windows x64 volatile ones). */
const VOLATILE = [Register.RAX, Register.RCX, Register.RDX, Register.R8, Register.R9, Register.R10, Register.R11];

/**
 * Follows which instruction last wrote each register (its explicit register operands that
 * are written, and the volatile ones at a call), so accesses through one register are told
 * apart by the value it held: compilers reuse a register for several objects in one body.
 */
function trackDefs(insn: Instruction, index: number, defOf: Map<number, number>): void {
  if (insn.mnemonic === Mnemonic.Call) {
    for (const r of VOLATILE) defOf.set(r, index);
    return;
  }
  if (insn.opCount === 0 || READS_OP0.has(insn.mnemonic)) return;
  if (insn.op0Kind === OpKind.Register) defOf.set(fullRegister(insn.op0Register), index);
  // Exchanges write both operands.
  if ((insn.mnemonic === Mnemonic.Xchg || insn.mnemonic === Mnemonic.Xadd) && insn.opCount === 2 && insn.op1Kind === OpKind.Register) defOf.set(fullRegister(insn.op1Register), index);
}

/** Fields exchanging offsets in one function: the permutation and whether a moved access stores. */
export interface FieldSwap {
  readonly global: boolean;
  /** Old offset -> new offset of every moved field, sorted by old offset; with each field's size. */
  readonly moves: ReadonlyArray<readonly [number, number, number]>;
  readonly store: boolean;
}

/**
 * Aligned moved-or-kept accesses of one base: old offset, new offset, size, store, context
 * kept, new RVA minus old RVA reached, the old instruction that last wrote the base register
 * (which value of the register it is), and whether the new instruction that last wrote it is
 * the one aligned to that (or neither body wrote it: an argument): the register holds the
 * same value on both sides, not a pointer the new body rebased.
 */
export type Pairing = [number, number, number, boolean, boolean, number, number, boolean];

/** The permutation among `list` (one base's aligned accesses), or null when there is none or it is not consistent. */
function permutationOf(list: readonly Pairing[], global: boolean): FieldSwap | null {
  const fwd = new Map<number, number>();
  const back = new Map<number, number>();
  const sizeAt = new Map<number, number>();
  let store = false;
  const rawDeltas = new Set<number>();
  for (const [d, e, size, st, ctx, rawDelta] of list) {
    if ((fwd.get(d) ?? e) !== e || (back.get(e) ?? d) !== d) return null;
    fwd.set(d, e);
    back.set(e, d);
    if (d === e) continue;
    // A moved access whose neighbours do not align (its computation changed) is no evidence;
    // one field of two sizes is not a field exchanged whole.
    if (!ctx || (sizeAt.get(d) ?? size) !== size) return null;
    sizeAt.set(d, size);
    store ||= st;
    rawDeltas.add(rawDelta);
  }
  const moved = [...fwd].filter(([d, e]) => d !== e);
  // Globals whose every moved access still reaches its old address moved by one amount are a
  // section moved and two items matched crosswise (lightningcss 1.30.1 -> 1.30.2, two 8-byte
  // CRT globals read by the same code at old +0x40000), not fields that trade places.
  if (moved.length < 2 || (global && rawDeltas.size < 2)) return null;
  // A permutation: the moved fields land exactly on the offsets the moved fields left, each on one of its size.
  for (const [, e] of moved) if (!sizeAt.has(e) || fwd.get(e) === e || sizeAt.get(e) !== sizeAt.get(back.get(e)!)) return null;
  moved.sort((x, y) => x[0] - y[0]);
  return { global, moves: moved.map(([d, e]): [number, number, number] => [d, e, sizeAt.get(d)!]), store };
}

/** The run of identical plain stores instruction `i` of `body` belongs to (each stores the same value). */
function sameValueStores(body: readonly SwapInsn[], i: number): SwapInsn[] {
  const run = body[i]!.run;
  const out: SwapInsn[] = [];
  for (let k = run; k < body.length && body[k]!.run === run; k++) out.push(body[k]!);
  return out;
}

/**
 * The aligned field accesses of old body `of` and new body `nf`, per base key (a register,
 * a stack slot a pointer was reloaded from, or GLOBALS): old offset, new offset, size, store,
 * context kept. What field-swap.ts reads as exchanges and field-moves.ts as single moves.
 */
export function alignedFieldAccesses(m: MatchResult, of: FunctionInfo, nf: FunctionInfo): Map<number, Pairing[]> {
  const skels = new Skeletons();
  const oa = swapInsnsOf(m.old.img.image, of, globalsOf(m, 'old'), skels);
  const na = swapInsnsOf(m.new.img.image, nf, globalsOf(m, 'new'), skels);
  const pairs = align(oa, na);
  // Old instruction -> the new one aligned to it (-1: none): a base register holds the same
  // value on both sides when the instructions that last wrote it are aligned too.
  const newOf = new Int32Array(oa.length).fill(-1);
  for (const [i, j] of pairs) newOf[i] = j;
  const byBase = new Map<number, Pairing[]>();
  for (let k = 0; k < pairs.length; k++) {
    const [i, j] = pairs[k]!;
    const x = oa[i]!;
    const y = na[j]!;
    if (x.base === -1 || x.base !== y.base) continue;
    // Stores of one value to several fields (`mov [rcx+0x70],edi; mov [rcx+0x6c],edi`, 7za
    // 5.1.1 -> 5.2.0) say nothing in the order they come: a store whose new field the old
    // run of the same value also writes is no evidence.
    if (x.store && sameValueStores(oa, i).some((z) => z.base === x.base && z.disp === y.disp)) continue;
    const prev = k > 0 ? pairs[k - 1]! : null;
    const next = k + 1 < pairs.length ? pairs[k + 1]! : null;
    const before = prev === null ? i === 0 && j === 0 : prev[0] === i - 1 && prev[1] === j - 1;
    const after = next === null ? i === oa.length - 1 && j === na.length - 1 : next[0] === i + 1 && next[1] === j + 1;
    const list = byBase.get(x.base) ?? [];
    // The same value: written by aligned instructions, or by loads of one field (`mov rcx,
    // [rdi+0x10]` and `mov rcx,[rax+0x10]`: the allocator keeps the parent in another register).
    const sameValue = x.def === -1 ? y.def === -1 : y.def >= 0 && (newOf[x.def] === y.def || (oa[x.def]!.load !== null && oa[x.def]!.load === na[y.def]!.load));
    list.push([x.disp, y.disp, x.size, x.store, before && after, y.raw - x.raw, x.def, sameValue]);
    byBase.set(x.base, list);
  }
  return byBase;
}

/** Base key of the writable globals in alignedFieldAccesses' map. */
export const GLOBALS_BASE = GLOBALS;

/** Fields that exchange offsets among one pair's aligned accesses (alignedFieldAccesses), or null. */
export function detectFieldSwap(byBase: ReadonlyMap<number, readonly Pairing[]>): FieldSwap | null {
  let best: FieldSwap | null = null;
  for (const [base, list] of byBase) {
    const swap = permutationOf(list, base === GLOBALS);
    if (swap !== null && (best === null || (swap.store && !best.store))) best = swap;
  }
  return best;
}

const signatureOf = (s: FieldSwap): string => `${s.global ? 'g' : 'p'}:${s.moves.map(([d, e, n]) => `${d}>${e}:${n}`).join(',')}`;

/** The moved fields, for the message: `+0x0 and +0x4 (4 bytes each)`; global ones by name. */
function describeMoves(m: MatchResult, s: FieldSwap): string {
  const where = (at: number): string => {
    if (!s.global) return `+${hex(at)}`;
    const d = m.new.itemAt(at);
    return d === undefined ? hex(at) : `${d.name ?? hex(d.start)}${at === d.start ? '' : `+${hex(at - d.start)}`}`;
  };
  const sizes = [...new Set(s.moves.map((x) => x[2]))];
  const names = s.moves.map(([d]) => where(d));
  const list = names.length === 2 ? `${names[0]!} and ${names[1]!}` : names.join(', ');
  const cycle = s.moves.length > 2 ? ` (${s.moves.map(([d, e]) => `${where(d)} -> ${where(e)}`).join(', ')})` : '';
  return `${s.global ? 'global fields' : 'fields'} ${list} (${sizes.join('/')} bytes each) exchange places${cycle}`;
}

/** Refusals of changed functions whose fields exchange offsets against their old bodies: with a store, or the same exchange in two changed functions or more. */
export function fieldSwapProblems(m: MatchResult, status: readonly FunctionStatus[], accesses: ReadonlyMap<number, ReadonlyMap<number, readonly Pairing[]>> = changedFieldAccesses(m, status)): Map<number, Reason> {
  const found = new Map<number, FieldSwap>();
  const bySignature = new Map<string, FunctionInfo[]>();
  for (const [index, byBase] of accesses) {
    const f = m.new.fns.functions[index]!;
    const s = detectFieldSwap(byBase);
    if (s === null) continue;
    found.set(f.index, s);
    const key = signatureOf(s);
    bySignature.set(key, [...(bySignature.get(key) ?? []), f]);
  }
  const out = new Map<number, Reason>();
  const stores = new Map<number, readonly [StoreValues, StoreValues]>();
  for (const [index, s] of found) {
    const mates = bySignature.get(signatureOf(s))!;
    // A lone reader: refused only when a writer's stored values trade the same offsets (field-swap-writers.ts).
    const writer = s.store || mates.length >= 2 ? null : exchangingWriter(m, status, s, index, stores);
    if (!s.store && mates.length < 2 && writer === null) continue;
    const f = m.new.fns.functions[index]!;
    const names = mates.map((g) => g.name ?? hex(g.entry)).join(', ');
    const why = s.store ? `${f.name ?? hex(f.entry)} stores them there` : writer !== null ? `${writer.name ?? hex(writer.entry)} stores each one's values at the other's offset` : `the same exchange in ${names}`;
    const after = s.global ? 'the running image keeps the old layout' : 'objects built before the patch keep the old layout';
    out.set(index, reason('STRUCTURE_FIELDS_SWAPPED', `structure layout changed: ${describeMoves(m, s)} in ${names}, every other access the same (${why}; needs a baseline); ${after}`, f.entry));
    // The writer builds objects in the new layout, as a store in an aligned body does (red-swap's make).
    if (writer !== null && !out.has(writer.index)) {
      out.set(writer.index, reason('STRUCTURE_FIELDS_SWAPPED', `structure layout changed: ${describeMoves(m, s)}: ${writer.name ?? hex(writer.entry)} stores each one's values at the other's offset, and ${f.name ?? hex(f.entry)} reads them there (needs a baseline); ${after}`, writer.entry));
    }
  }
  return out;
}

/** alignedFieldAccesses of every changed matched function, by new index (field-swap.ts and field-moves.ts share them). */
export function changedFieldAccesses(m: MatchResult, status: readonly FunctionStatus[]): Map<number, Map<number, Pairing[]>> {
  const out = new Map<number, Map<number, Pairing[]>>();
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (status[f.index] !== 'changed' || o < 0) continue;
    out.set(f.index, alignedFieldAccesses(m, m.old.fns.functions[o]!, f));
  }
  return out;
}
