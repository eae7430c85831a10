/**
 * The writers behind a lone read-only field exchange (STRUCTURE_FIELDS_SWAPPED, with
 * field-swap.ts). A reader whose loads of two fields exchange offsets, all else the same, is
 * either a layout swap or a fix that swaps which field an expression uses (twin
 * red-swap-expr): the reader alone cannot tell. The writers can. When the layout swapped, a
 * writer stores each value where the other field was: v1's make stores k*3 at +0x0 and
 * k*5 + 1 at +0x4, v2's stores k*3 at +0x4 and k*5 + 1 at +0x0. field-swap.ts sees that only
 * when the writer's old and new bodies align around every moved store; a writer changed in
 * other ways too does not (probe red-swap-writer: v2's make also clamps c with a new local, so
 * at -O2 the instruction after its last moved store is the clamp's, gcc's `mov eax,0x3e8`,
 * clang's `cmp edx,0x3e8`, and at -O0 the pointer's frame slot moved), and the reader passed alone:
 * patched live, v2's show read v1's objects with a and b exchanged and printed neither
 * version (gcc and clang at -O2 and -O0; hotpatchable before at every build but gcc -O1).
 *
 * So each changed function's stores are read by value: a linear symbolic pass over its body
 * names every register's value by how it was computed from the entry's argument registers and
 * constants (`lea eax,[rdx+rdx*2]` -> lea(a1,a1,2,0); -O0's spills and reloads followed
 * through frame slots), each store through a non-frame base recorded as (base's value, offset,
 * size) -> stored value; anything else (a call's result, a load, a frame address, a value
 * across a branch target) is unknown and no evidence. The exchange is confirmed when one
 * changed function, through one base of the same value in both bodies, stores at each moved
 * field's new offset exactly the values it stored at the old one, and the moved fields held
 * different values (a value stored to both says nothing). Twin red-swap-writer-fix (the same
 * writer change, each value stored where it was; the reader swaps which field each weight
 * takes) stays hotpatchable.
 *
 * Not seen: a writer the matcher left unmatched or one in another module. 7za 5.1.1 -> 5.2.0's
 * 0x5005c (old 0x44db4), a callback's method that reads its `this` +0x10 (old: an interface
 * pointer it calls through slot +0x70; new: a statistics block it counts into) and +0x18 (the
 * other way round), is such a case: the only writer of that class is the enumeration function
 * that builds the callback on its stack (old 0x45ecb `mov [rsp+0xd0],rbx` (the interface),
 * `mov [rsp+0xd8],rax` (lea rsp+0x170, the statistics); new 0x512bb the two stores exchanged)
 * and the matcher pairs no old with new there (old 0x4588c removed, new 0x50c50 added; both
 * refused, so 7za's package is refused), and a frame object is no base this pass keys.
 */
import { FlowControl, type Instruction, MemorySizeExt, Mnemonic, OpKind, Register } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { fullRegister } from './added-field.ts';
import { decodeEach } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';
import { IMMEDIATE_KINDS, VOLATILE_REGISTERS, immediateOf, opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** An unknown value: any expression holding it is no evidence. */
const UNKNOWN = '?';
/** The base of a store to a writable global (its offset is then the global's NEW address). */
const GLOBAL_BASE = 'G';

/** The values one body stores: `base|offset|size` -> the values stored there. */
export type StoreValues = ReadonlyMap<string, ReadonlySet<string>>;

const storeKey = (base: string, offset: number, size: number): string => `${base}|${offset}|${size}`;

const ARGUMENTS: ReadonlyArray<readonly [Register, string]> = [
  [Register.RCX, 'a0'],
  [Register.RDX, 'a1'],
  [Register.R8, 'a2'],
  [Register.R9, 'a3'],
];

/** Instructions whose destination takes `op(dst, src...)`: the computations compilers write values with. */
const COMPUTES = new Set<number>([
  Mnemonic.Add, Mnemonic.Sub, Mnemonic.Imul, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor,
  Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not, Mnemonic.Movsx, Mnemonic.Movsxd, Mnemonic.Movzx,
]);

/** Instructions that write rax and rdx without naming them (with one operand or none). */
const IMPLICIT_RAX_RDX = new Set<number>([Mnemonic.Cdq, Mnemonic.Cqo, Mnemonic.Cwd, Mnemonic.Mul, Mnemonic.Imul, Mnemonic.Div, Mnemonic.Idiv]);

const isFrame = (r: Register): boolean => r === Register.RSP || r === Register.RBP;

/** Symbolic state of the linear pass: full registers and frame slots (`base:disp`) -> value. */
class Values {
  readonly regs = new Map<number, string>(ARGUMENTS.map(([r, v]) => [fullRegister(r), v]));
  readonly slots = new Map<string, string>();
  reg(r: Register): string {
    return this.regs.get(fullRegister(r)) ?? UNKNOWN;
  }
}

/** Where a RIP operand's target lands, in NEW addresses, when it is in a matched writable global; else null. */
export type GlobalAt = (target: number) => number | null;

/** The value operand `k` of `insn` reads: a register, an immediate, a frame slot; other memory is unknown. */
function operandValue(insn: Instruction, k: number, v: Values): string {
  const kind = opKindOf(insn, k);
  if (kind === OpKind.Register) return v.reg(opRegisterOf(insn, k));
  if (IMMEDIATE_KINDS.has(kind) || kind === OpKind.Immediate64) return `c${immediateOf(insn, k)}`;
  if (kind === OpKind.Memory) return frameSlot(insn) === null ? UNKNOWN : (v.slots.get(frameSlot(insn)!) ?? UNKNOWN);
  return UNKNOWN;
}

/** The frame slot a memory operand names (`rbp:-8`), or null. */
function frameSlot(insn: Instruction): string | null {
  if (!isFrame(insn.memoryBase) || insn.memoryIndex !== Register.None) return null;
  return `${insn.memoryBase}:${BigInt.asIntN(64, insn.memoryDisplacement)}`;
}

/** The store `insn` makes through a non-frame base (its key), or null. */
function storeAt(insn: Instruction, v: Values, globalAt: GlobalAt): string | null {
  if (insn.memoryIndex !== Register.None) return null;
  const size = MemorySizeExt.size(insn.memorySize);
  if (insn.memoryBase === Register.RIP) {
    const at = globalAt(Number(insn.memoryDisplacement));
    return at === null ? null : storeKey(GLOBAL_BASE, at, size);
  }
  const disp = Number(BigInt.asIntN(64, insn.memoryDisplacement));
  const base = insn.memoryBase === Register.None ? UNKNOWN : v.reg(insn.memoryBase);
  return disp < 0 || base.includes(UNKNOWN) ? null : storeKey(base, disp, size);
}

/** One instruction's effect on the state; a store through a known base lands in `out`. */
function step(insn: Instruction, v: Values, globalAt: GlobalAt, out: Map<string, Set<string>>): void {
  const m = insn.mnemonic;
  if (insn.flowControl === FlowControl.Call) {
    for (const r of VOLATILE_REGISTERS) v.regs.delete(fullRegister(r));
    return;
  }
  if (m === Mnemonic.Cdqe) {
    v.regs.set(fullRegister(Register.RAX), `sx(${v.reg(Register.RAX)})`);
    return;
  }
  // Implicit rax/rdx writers (`cdq`, `cqo`, one-operand `mul`, `div`): their operands are sources.
  if (insn.opCount === 0 || (insn.opCount === 1 && IMPLICIT_RAX_RDX.has(m))) {
    if (IMPLICIT_RAX_RDX.has(m)) for (const r of [Register.RAX, Register.RDX]) v.regs.set(fullRegister(r), UNKNOWN);
    return;
  }
  // Compares and pushes write no operand.
  if (m === Mnemonic.Cmp || m === Mnemonic.Test || m === Mnemonic.Push) return;
  if (insn.op0Kind === OpKind.Memory) {
    const slot = frameSlot(insn);
    const value = m === Mnemonic.Mov && insn.opCount === 2 ? operandValue(insn, 1, v) : UNKNOWN;
    // A slot computed in place (`add [rbp-0x8],rax`) no longer holds what was spilled there.
    if (slot !== null) v.slots.set(slot, value);
    else if (!value.includes(UNKNOWN)) {
      const key = storeAt(insn, v, globalAt);
      if (key !== null) out.set(key, (out.get(key) ?? new Set<string>()).add(value));
    }
    return;
  }
  if (insn.op0Kind !== OpKind.Register) return;
  const dst = fullRegister(insn.op0Register);
  let value: string = UNKNOWN;
  if (m === Mnemonic.Mov && insn.opCount === 2) value = operandValue(insn, 1, v);
  else if (m === Mnemonic.Lea) value = isFrame(insn.memoryBase) ? UNKNOWN : `lea(${insn.memoryBase === Register.None ? '' : v.reg(insn.memoryBase)},${insn.memoryIndex === Register.None ? '' : v.reg(insn.memoryIndex)},${insn.memoryIndexScale},${insn.memoryDisplacement})`;
  else if (m === Mnemonic.Xor && insn.opCount === 2 && insn.op1Kind === OpKind.Register && insn.op1Register === insn.op0Register) value = 'c0';
  else if (COMPUTES.has(m)) {
    const ops: string[] = [];
    for (let k = 0; k < insn.opCount; k++) ops.push(operandValue(insn, k, v));
    // Two-operand forms read their destination; `imul r, r/m, imm` and the moves with extension do not.
    if (m === Mnemonic.Movsx || m === Mnemonic.Movsxd || m === Mnemonic.Movzx || insn.opCount === 3) ops.shift();
    value = `${m}(${ops.join(',')})`;
  }
  v.regs.set(dst, value);
}

/** The values `f`'s body stores through each non-frame base: a linear pass, registers forgotten at each branch target. */
export function storeValuesOf(image: Uint8Array, f: FunctionInfo, globalAt: GlobalAt): StoreValues {
  const targets = new Set<number>();
  decodeEach(image, f.decoded.insns, (insn) => {
    if (insn.flowControl !== FlowControl.Call && insn.opCount > 0 && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32)) targets.add(Number(insn.nearBranchTarget));
  });
  const v = new Values();
  const out = new Map<string, Set<string>>();
  decodeEach(image, f.decoded.insns, (insn, d) => {
    // A join: the registers may hold another path's values (frame slots kept: -O0 spills each
    // variable to one slot, and a value stored before a loop is the one after it).
    if (targets.has(d.rva)) v.regs.clear();
    step(insn, v, globalAt, out);
    if (insn.flowControl === FlowControl.UnconditionalBranch || insn.flowControl === FlowControl.Return) v.regs.clear();
  });
  return out;
}

/** Where a global operand of side `side` lands in NEW addresses (a matched writable item), or null. */
export function globalsOf(m: MatchResult, side: 'old' | 'new'): GlobalAt {
  const a: ImageAnalysis = m[side];
  return (target) => {
    const d = a.itemAt(target);
    if (d === undefined || !d.writable || d.jumpTable) return null;
    if (side === 'new') return target;
    const n = m.itemOldToNew[d.index] ?? -1;
    return n < 0 ? null : m.new.items[n]!.start + (target - d.start);
  };
}

/** The moves (old offset, new offset, size) of one exchange; `global` when its base is the writable globals. */
export interface ExchangeShape {
  readonly global: boolean;
  readonly moves: ReadonlyArray<readonly [number, number, number]>;
}

/** Whether `olds` -> `news` store every moved field's values at its new offset through one base, the fields' values differing. */
export function storesExchange(olds: StoreValues, news: StoreValues, s: ExchangeShape): boolean {
  const bases = new Set<string>();
  for (const key of olds.keys()) bases.add(key.slice(0, key.indexOf('|')));
  const same = (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean => a !== undefined && b !== undefined && a.size === b.size && [...a].every((x) => b.has(x));
  for (const base of bases) {
    if ((base === GLOBAL_BASE) !== s.global) continue;
    const ok = s.moves.every(([d, e, size]) => {
      const was = olds.get(storeKey(base, d, size));
      return same(was, news.get(storeKey(base, e, size))) && !same(was, olds.get(storeKey(base, e, size)));
    });
    if (ok) return true;
  }
  return false;
}

/** A changed function other than `reader` (new index) whose stores exchange the fields of `s` by value, or null. */
export function exchangingWriter(m: MatchResult, status: readonly FunctionStatus[], s: ExchangeShape, reader: number, cache: Map<number, readonly [StoreValues, StoreValues]>): FunctionInfo | null {
  for (const f of m.new.fns.functions) {
    const o = m.fnNewToOld[f.index]!;
    if (f.index === reader || status[f.index] !== 'changed' || o < 0) continue;
    let pair = cache.get(f.index);
    if (pair === undefined) {
      pair = [storeValuesOf(m.old.img.image, m.old.fns.functions[o]!, globalsOf(m, 'old')), storeValuesOf(m.new.img.image, f, globalsOf(m, 'new'))];
      cache.set(f.index, pair);
    }
    if (storesExchange(pair[0], pair[1], s)) return f;
  }
  return null;
}
