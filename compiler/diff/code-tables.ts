/**
 * Tables of code pointers that live objects keep (vtables, C `ops` structs of callbacks):
 * the CODE_TABLE_LAYOUT_CHANGED verdict. An object built before the patch keeps a pointer to
 * its OLD read-only table (a C++ vptr, a `const struct ops *` field), and a patch never
 * rewrites objects. When the new build changes such a table's layout (a virtual method
 * appended, inserted or reordered, a callback inserted), new code calling slot N through an
 * old object reads the OLD table at the NEW offset: the wrong function, or whatever follows
 * the table (samples vtable-append, vtable-insert, ops-insert crashed or printed wrong values
 * when patched live). New objects built by new code next to old callers fail the other way.
 *
 * What counts, read from image structures alone (stripped builds refuse too):
 * - a table: a read-only data item holding a run of 8-byte slots that each hold a pointer
 *   under a DIR64 base relocation into code (its first such run: gcc's constructors address
 *   a vtable at its first virtual slot, clang's at its start, 16 bytes before);
 * - kept by objects: code takes its address (a `lea` or a relocated 64-bit immediate) and
 *   stores it, or hands it to a call, or the scan cannot tell (addressUse); an address only
 *   used as the base of loads (an array indexed in place), or passed to a call together with
 *   the address just past its slots (an array walked from start to end, as MSVC's
 *   `_initterm` walks the C++ initialiser table in ast-grep), is not kept; a slot loaded
 *   directly (`call [rip+table+8]`) reads the copy the new code references;
 * - its counterpart: among the tables the matched old body takes the address of, the one
 *   sharing most matched slot functions with it (position among the body's table addresses
 *   breaks ties; one shared function at least: big images pair wrongly by position alone);
 * - layout changed: another slot count, or a function at another slot than its
 *   counterpart (reordered); a slot that only re-targets to the matched, maybe changed,
 *   function keeps the layout (its old entry is redirected, so old objects reach the new
 *   body), and so does a slot whose function is replaced by one matched to nothing on
 *   either side (the old function left reachable is still-reachable.ts's).
 *   A table whose every slot holds one stub on both sides (MSVC's `_purecall`: an abstract
 *   class's, which no finished object keeps) is left out.
 * Refused: every changed function that takes the address of such a table (it installs the
 * new layout in objects), and every changed or added function that calls through a pointer
 * slot (`call [reg+0x8]`, or a load `[reg+disp]` called after) at an offset from the first
 * changed slot of any such table on, unless its old body calls the same offsets in the same
 * order (it keeps calling what old objects hold there; a method whose slot moved is called
 * at a new offset, or reordered ones in another order): it may be handed an object old code
 * built, and under `--skip-refused` it would otherwise be carried next to the old installer.
 * The code cannot tell which class an object pointer has, so that half refuses such calls
 * whatever table they go through, once one table's layout changed.
 * Not followed: tables whose address only data holds (a writable global initialised with
 * `&ops` changes initial value and is refused as such), Rust trait-object vtables past
 * their first slot (drop_in_place, then size and align, not code, end the run).
 */
import { Decoder, DecoderOptions, Instruction, MemorySizeExt, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import { hex, type Rva } from '../../common/types.ts';
import { absTarget, codePointerAt, isCode, relocsIn, sectionAt } from '../image/map-image.ts';
import { IMAGE_REL_BASED_DIR64 } from '../../runtime/pe/types.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { reason, type Reason } from './reasons.ts';
import type { FunctionStatus } from './types.ts';
import { opKindOf, opRegisterOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';


/** A table's slots: the code target of each 8-byte slot of its run. */
export type TableSlots = readonly number[];

/** How a new table's layout differs from its old counterpart's. */
export interface LayoutChange {
  readonly oldSlots: number;
  readonly newSlots: number;
  /** First slot whose function does not pair (the shorter count when all shared ones pair). */
  readonly firstSlot: number;
}

/** A table whose layout changed, with the old and new items. */
export interface ChangedTable extends LayoutChange {
  readonly oldItem: DataItem;
  readonly newItem: DataItem;
}

/**
 * The code targets of the first run of 8-byte slots in read-only item `d` that each hold a
 * DIR64-relocated pointer into code (empty: not a table). The run need not start the item:
 * clang's constructors address a vtable at its start (offset-to-top, typeinfo pointer) and
 * add 16, gcc's at the first virtual slot.
 */
export function tableSlots(a: ImageAnalysis, d: DataItem): TableSlots {
  const out: number[] = [];
  if (d.writable || d.jumpTable) return out;
  const sec = sectionAt(a.img, d.start);
  if (sec === undefined || sec.executable) return out;
  let next = -1;
  for (const at of relocsIn(a.img, d.start, d.end)) {
    if (out.length > 0 && at !== next) break;
    if (at + 8 > d.end || (at - d.start) % 8 !== 0 || a.img.relocs.get(at) !== IMAGE_REL_BASED_DIR64) continue;
    const t = codePointerAt(a.img, at);
    if (t < 0) {
      if (out.length > 0) break;
      continue;
    }
    out.push(t);
    next = at + 8;
  }
  return out;
}

/**
 * Compares two tables' slots: `same(o, n)` says whether old slot target `o` and new slot
 * target `n` are functions matched to each other. The layout changed when the slot count
 * differs, or when a function sits at another slot than its counterpart (inserted, removed
 * or reordered slots). A slot whose function is replaced by one matched to nothing on the
 * other side keeps the layout (a removed function reachable from old tables is
 * diff/still-reachable.ts's). Null when the layout is the same.
 */
export function compareSlots(oldSlots: TableSlots, newSlots: TableSlots, same: (o: number, n: number) => boolean): LayoutChange | null {
  const shared = Math.min(oldSlots.length, newSlots.length);
  const movedOld = (i: number): boolean => newSlots.some((n, j) => j !== i && same(oldSlots[i]!, n));
  const movedNew = (j: number): boolean => oldSlots.some((o, i) => i !== j && same(o, newSlots[j]!));
  let first = -1;
  for (let i = 0; i < shared && first < 0; i++) if (!same(oldSlots[i]!, newSlots[i]!) && (oldSlots.length !== newSlots.length || movedOld(i) || movedNew(i))) first = i;
  if (first < 0 && oldSlots.length === newSlots.length) return null;
  return { oldSlots: oldSlots.length, newSlots: newSlots.length, firstSlot: first < 0 ? shared : first };
}

/** How many slot functions of `a` are matched to one of `b` (evidence that the tables are counterparts). */
export function sharedSlots(a: TableSlots, b: TableSlots, same: (o: number, n: number) => boolean): number {
  return a.filter((o) => b.some((n) => same(o, n))).length;
}

/**
 * The tables whose address `f` takes (lea or relocated immediate) and may hand to objects,
 * in reference order, once each. Left out: an address only used as the base of loads (an
 * array indexed in place), or passed to a call together with the address just past the
 * table's slots (an array walked from start to end: MSVC's `_initterm(__xc_a, __xc_z)` over
 * the C++ initialiser table); kept when stored to memory, or when the scan cannot tell.
 */
function tablesAddressedBy(a: ImageAnalysis, f: FunctionInfo, slotsOf: (d: DataItem) => TableSlots): DataItem[] {
  const out: DataItem[] = [];
  const addressed = f.decoded.refs.filter((r) => !r.isBranch && !r.accessesTarget && (r.kind === 'riprel32' || r.kind === 'abs64'));
  for (const r of addressed) {
    const d = a.itemAt(r.target);
    if (d === undefined || r.target !== d.start || out.includes(d)) continue;
    const slots = slotsOf(d);
    if (slots.length === 0) continue;
    const use = r.kind === 'riprel32' ? addressUse(a.img.image, f, r.insnRva) : 'unknown';
    if (use === 'loads' || use === 'dead') continue;
    if (use === 'call') {
      const runEnd = runStart(a, d) + 8 * slots.length;
      if (addressed.some((x) => x.target >= runEnd && x.target <= runEnd + 8)) continue;
    }
    out.push(d);
  }
  return out;
}

/** Where the run of code slots of table item `d` starts. */
function runStart(a: ImageAnalysis, d: DataItem): number {
  for (const at of relocsIn(a.img, d.start, d.end)) if ((at - d.start) % 8 === 0 && isCode(a.img, absTarget(a.img, at, IMAGE_REL_BASED_DIR64))) return at;
  return d.start;
}

/** What the code does with an address a `lea` loads. */
export type AddressUse = 'stored' | 'call' | 'loads' | 'dead' | 'unknown';

const ARG_REGISTERS = [Register.RCX, Register.RDX, Register.R8, Register.R9];
/** Instructions that only read their first operand. */
const READS_OP0 = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Push]);
/** Straight-line instructions scanned after the `lea`. */
const USE_WINDOW = 24;

/**
 * Follows the register a `lea` at `leaRva` of `f` loads (and its copies: mov, cmov; an
 * added constant keeps it) in address order: stored to memory, passed in an argument
 * register to a call, only used as a load base until it dies, dead unused, or unknown (a
 * jump, a return or the window's end while it is held).
 */
export function addressUse(image: Uint8Array, f: { readonly decoded: { readonly insns: ReadonlyArray<{ readonly rva: Rva; readonly length: number }> } }, leaRva: number): AddressUse {
  const insns = f.decoded.insns;
  const at = insns.findIndex((d) => d.rva === leaRva);
  if (at < 0) return 'unknown';
  const last = Math.min(insns.length, at + 1 + USE_WINDOW);
  const lo = insns[at]!.rva;
  const hi = insns[last - 1]!.rva + insns[last - 1]!.length;
  const decoder = new Decoder(64, image.subarray(lo, hi), DecoderOptions.None);
  const insn = new Instruction();
  const holds = new Set<number>();
  let loads = false;
  try {
    for (let k = at; k < last; k++) {
      decoder.position = insns[k]!.rva - lo;
      decoder.ip = BigInt(insns[k]!.rva);
      decoder.decodeOut(insn);
      if (k === at) {
        if (insn.mnemonic !== Mnemonic.Lea || insn.op0Kind !== OpKind.Register) return 'unknown';
        holds.add(RegisterExt.fullRegister(insn.op0Register));
        continue;
      }
      const use = stepUse(insn, holds);
      if (use === 'loads') loads = true;
      else if (use !== null) return use;
      if (holds.size === 0) return loads ? 'loads' : 'dead';
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return 'unknown';
}

/** One instruction's effect on the held registers; a final verdict, `loads`, or null to go on. */
function stepUse(insn: Instruction, holds: Set<number>): AddressUse | null {
  const mn = insn.mnemonic;
  const held = (k: number): boolean => opKindOf(insn, k) === OpKind.Register && holds.has(RegisterExt.fullRegister(opRegisterOf(insn, k)));
  if (mn === Mnemonic.Call) {
    if (ARG_REGISTERS.some((r) => holds.has(r))) return 'call';
    for (const r of VOLATILE_REGISTERS) holds.delete(r);
    return null;
  }
  if (mn === Mnemonic.Ret || mn === Mnemonic.Jmp) return 'unknown';
  for (let k = 1; k < insn.opCount; k++) if (held(k) && insn.op0Kind === OpKind.Memory) return 'stored';
  let loaded = false;
  for (let k = 0; k < insn.opCount; k++) if (opKindOf(insn, k) === OpKind.Memory && (holds.has(insn.memoryBase) || holds.has(insn.memoryIndex))) loaded = true;
  if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register || READS_OP0.has(mn)) return loaded ? 'loads' : null;
  const dst = RegisterExt.fullRegister(insn.op0Register);
  const isCmov = insn.conditionCode !== 0 && insn.opCount === 2 && insn.op1Kind === OpKind.Register;
  if ((mn === Mnemonic.Mov || isCmov) && insn.opCount === 2 && held(1)) holds.add(dst);
  else if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && holds.has(dst) && insn.op1Kind !== OpKind.Register) return null;
  else if (!(isCmov && holds.has(dst))) holds.delete(dst);
  return loaded ? 'loads' : null;
}

/** Memoised `tableSlots` per image. */
function slotsMemo(a: ImageAnalysis): (d: DataItem) => TableSlots {
  const memo = new Map<number, TableSlots>();
  return (d) => {
    let s = memo.get(d.index);
    if (s === undefined) memo.set(d.index, (s = tableSlots(a, d)));
    return s;
  };
}

/** The tables whose layout changed, paired through the matched changed functions that take their addresses. */
export function changedCodeTables(m: MatchResult, status: readonly FunctionStatus[]): ChangedTable[] {
  const oldSlots = slotsMemo(m.old);
  const newSlots = slotsMemo(m.new);
  const same = (o: number, n: number): boolean => {
    const of = m.old.fns.containing(o);
    const nf = m.new.fns.containing(n);
    return of !== undefined && nf !== undefined && of.entry === o && nf.entry === n && m.fnOldToNew[of.index] === nf.index;
  };
  const out = new Map<number, ChangedTable>();
  for (const nf of m.new.fns.functions) {
    const o = m.fnNewToOld[nf.index]!;
    if (status[nf.index] !== 'changed' || o < 0) continue;
    const nt = tablesAddressedBy(m.new, nf, newSlots);
    if (nt.length === 0) continue;
    const ot = tablesAddressedBy(m.old, m.old.fns.functions[o]!, oldSlots);
    for (const [k, n] of nt.entries()) {
      if (out.has(n.index)) continue;
      // The counterpart shares matched slot functions with it (position among the tables
      // the two bodies address breaks ties): big images pair by position wrongly.
      let old: DataItem | undefined;
      let most = 0;
      for (const [j, d] of ot.entries()) {
        const c = sharedSlots(oldSlots(d), newSlots(n), same);
        if (c > most || (c === most && c > 0 && j === k)) [old, most] = [d, c];
      }
      // Every slot the same stub on both sides (MSVC's `_purecall`): an abstract class's
      // table, which no finished object keeps (7za's interfaces paired by that stub alone).
      if (old === undefined || (pureStubs(oldSlots(old)) && pureStubs(newSlots(n)))) continue;
      const c = compareSlots(oldSlots(old), newSlots(n), same);
      if (c !== null) out.set(n.index, { ...c, oldItem: old, newItem: n });
    }
  }
  return [...out.values()];
}

/** Two or more slots, all the same function. */
export function pureStubs(slots: TableSlots): boolean {
  return slots.length > 1 && slots.every((t) => t === slots[0]);
}

/** `.rdata 0x4440` for an item (its name too when it has one). */
function where(d: DataItem): string {
  return `${d.section} ${hex(d.start)}${d.name !== null ? ` (${d.name})` : ''}`;
}

/** The layout change in words: `code pointer table at .rdata 0x4440 (old .rdata 0x4440): 1 -> 2 slots`. */
export function describeTableChange(t: ChangedTable): string {
  const what = t.oldSlots === t.newSlots ? `${t.newSlots} slots, reordered from slot ${t.firstSlot}` : `${t.oldSlots} -> ${t.newSlots} slots`;
  return `code pointer table at ${where(t.newItem)} (old ${where(t.oldItem)}): ${what}`;
}

/**
 * The CODE_TABLE_LAYOUT_CHANGED reason of each changed or added NEW function (by index): it
 * takes the address of a table whose layout changed, or calls through a pointer slot at an
 * offset such a table changed, unless its old body calls the same offsets in the same order.
 */
export function codeTableProblems(m: MatchResult, status: readonly FunctionStatus[]): Map<number, Reason> {
  const out = new Map<number, Reason>();
  const changed = changedCodeTables(m, status);
  if (changed.length === 0) return out;
  const byItem = new Map(changed.map((t) => [t.newItem.index, t]));
  const keep = 'objects built before the patch keep the old table (needs a baseline)';
  for (const f of m.new.fns.functions) {
    if (status[f.index] !== 'changed' && status[f.index] !== 'added') continue;
    const ref = f.decoded.refs.find((r) => !r.isBranch && !r.accessesTarget && byItem.has(m.new.itemAt(r.target)?.index ?? -1) && m.new.itemAt(r.target)!.start === r.target);
    if (ref !== undefined) {
      const t = byItem.get(m.new.itemAt(ref.target)!.index)!;
      out.set(f.index, reason('CODE_TABLE_LAYOUT_CHANGED', `${describeTableChange(t)}; it installs the new table, but ${keep}`, ref.insnRva));
      continue;
    }
    const hit = (c: SlotCall): ChangedTable | undefined => changed.find((t) => c.disp >= 8 * t.firstSlot && c.disp < 8 * Math.max(t.oldSlots, t.newSlots));
    // A changed body calling the same slot offsets in the same order as its old body keeps
    // calling what old objects hold there; a new offset, or the same offsets in another order
    // (reordered methods), is a method whose slot moved or one the old tables lack.
    const o = m.fnNewToOld[f.index]!;
    const oldCalls = o < 0 ? [] : slotCallsOf(m.old.img.image, m.old.fns.functions[o]!.decoded.insns).filter((c) => hit(c) !== undefined);
    const newCalls = slotCallsOf(m.new.img.image, f.decoded.insns).filter((c) => hit(c) !== undefined);
    const call = newCalls.find((c, k) => oldCalls[k]?.disp !== c.disp);
    if (call === undefined) continue;
    const t = hit(call)!;
    out.set(f.index, reason('CODE_TABLE_LAYOUT_CHANGED', `calls through slot +${hex(call.disp)} of a table pointer (${o < 0 ? 'a new function' : oldCalls.some((c) => c.disp === call.disp) ? 'its old body calls its slots in another order' : 'an offset its old body never calls'}), at or past the first changed slot (${t.firstSlot}) of ${describeTableChange(t)}, and ${keep}`, call.rva));
  }
  return out;
}

/** An indirect call or jump through a pointer slot: `call [reg+disp]`, or `mov r,[reg+disp]` then `call r`. */
export interface SlotCall {
  readonly rva: Rva;
  readonly disp: number;
}

/**
 * The slot calls of a body (base register neither rip nor rsp, no index, non-negative
 * displacement): `insns` are its instructions in `image` (the mapped bytes, indexed by RVA).
 */
export function slotCallsOf(image: Uint8Array, insns: ReadonlyArray<{ readonly rva: Rva; readonly length: number }>): SlotCall[] {
  const out: SlotCall[] = [];
  if (insns.length === 0) return out;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const d of insns) {
    lo = Math.min(lo, d.rva);
    hi = Math.max(hi, d.rva + d.length);
  }
  const decoder = new Decoder(64, image.subarray(lo, hi), DecoderOptions.None);
  const insn = new Instruction();
  /** Register -> the slot load that last wrote it (cleared by any other write). */
  const loaded = new Map<number, SlotCall>();
  try {
    // Where the decoder stands (it moves past each instruction it decodes): placed only when
    // the next instruction is elsewhere (register-effects.ts's decodeEach does the same).
    let at = -1;
    for (const d of insns) {
      if (d.rva !== at) {
        decoder.position = d.rva - lo;
        decoder.ip = BigInt(d.rva);
      }
      decoder.decodeOut(insn);
      at = d.rva + insn.length;
      const mn = insn.mnemonic;
      const branch = mn === Mnemonic.Call || mn === Mnemonic.Jmp;
      const slot = slotOperand(insn);
      if (branch && slot !== null) out.push({ rva: d.rva, disp: slot });
      else if (branch && insn.op0Kind === OpKind.Register) {
        const l = loaded.get(RegisterExt.fullRegister(insn.op0Register));
        if (l !== undefined) out.push({ rva: d.rva, disp: l.disp });
      }
      if (mn === Mnemonic.Call) loaded.clear();
      else if (insn.opCount > 0 && insn.op0Kind === OpKind.Register) {
        const dst = RegisterExt.fullRegister(insn.op0Register);
        if (mn === Mnemonic.Mov && slot !== null && insn.op1Kind === OpKind.Memory) loaded.set(dst, { rva: d.rva, disp: slot });
        else loaded.delete(dst);
      }
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return out;
}

/** The displacement of a qword `[reg+disp]` memory operand (no index, base not rip/rsp), or null. */
function slotOperand(insn: Instruction): number | null {
  for (let k = 0; k < insn.opCount; k++) {
    if (opKindOf(insn, k) !== OpKind.Memory) continue;
    const b = insn.memoryBase;
    if (b === Register.None || b === Register.RIP || b === Register.RSP || insn.memoryIndex !== Register.None || MemorySizeExt.size(insn.memorySize) !== 8) return null;
    const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
    return disp >= 0 && disp % 8 === 0 ? disp : null;
  }
  return null;
}
