/**
 * What a function does with each argument, finer than argument-roles.ts' pointer/integer bits:
 * for each of the four Win64 argument slots (rcx or xmm0, rdx or xmm1, r8 or xmm2, r9 or xmm3),
 * the set of uses its value meets in the body, as tokens: a load, store or read-modify-write
 * through it at an offset and width (`ld+0x4:4`, `st+0x8:8`), an arithmetic use with its
 * mnemonic and constant (`imul#100`, `mulsd=<the constant's bytes>`, `add`), handed to a call or
 * a tail jump in argument slot k (`call@k`), returned. The value is followed through register
 * copies (`mov`, `movsxd`, `movapd`...) on every decoded path from the entry, and through
 * frame slots it is spilled to and reloaded from (`mov [rbp+0x10],rcx` ... `mov rax,[rbp+0x10]`:
 * -O0 builds do this for every argument); paths meet by intersection, and a call kills the
 * volatile registers (not the frame slots). A slot's value as the destination of an arithmetic
 * chain (`mov eax,[c]; add eax,edx`) is followed too, for two uses only: returned (`dret`, the
 * running value of the result: gcc -O0 `mix`, whose other terms' own uses are `add`s as well),
 * a memory access through it (`d` + the access: gcc -O0 `copyn`'s `add rax,rdx` = dst + i), and
 * a global it is stored to or meets (`d` + the use naming the global). The chain runs through
 * the destination of add/sub/shifts/neg/inc/dec/xor/or/and/imul; a loaded value also into
 * another register through `lea` with an index (`lea eax,[rax+rax*4]`: *a * 5) and
 * three-operand `imul` (`imul eax,[rcx],100`): a swap of two parameters whose expressions were
 * rewritten as well keeps only the globals the values end in (probe entry-args-rewrite). A
 * slot's own value is not a chain through those (every term of a returned sum would be); a value
 * computed from it by any instruction (by iced's used registers: `lea eax,[rcx*8+5]`,
 * `imul eax,ecx,100`, `cdqe`, `not`, `shlx`, `rorx`, clang -O0 `imul eax,[rsp+4],9` from its
 * frame slot) is followed to the globals it is stored to or meets (`computed`; probe
 * entry-args-own), which a returned sum never reaches. Such a value, or a chain's running value,
 * also names its slot at each non-commutative operation it meets, by the role (`e` + the
 * token: `a*a - b*b`'s minuend and subtrahend, `idiv`'s dividend, a compare's side), and at the
 * argument position of a call it is handed in (`ecall@k`: `pair(a*8, b*8)`), so two parameters
 * computed alike and exchanged exchange those (probe entry-args-computed); commutative
 * operations name nothing (`a*8 + b*8`).
 * Frame slots follow the frame-escape policy of frame-slots.ts: a slot whose address is handed
 * out anywhere in the body (`lea rcx,[rsp+0x30]; call xchg`, the frame's address copied out)
 * is not followed (a callee may change it between the spill and the reload: `xchg(&a, &b);
 * return a - b;` reloads b from a's slot), and a value spilled to it is named by the argument
 * position its address is handed in (`addr@k`; frameEscapes; probe entry-args-escape). A
 * register holding a slot's address is a frame pointer for the loads and stores through it
 * (frame-escape.ts; clang -Os `lea rsi,[rsp+0x24]; mov [rsi],ecx; mov rcx,rsi; call xchg`).
 * A computed value, a chain's running value or a loaded value spilled to a frame slot and
 * reloaded (a volatile local, -O0 locals, register pressure: `lea eax,[rcx*8+5]; mov [rsp+4],eax;
 * ...; mov eax,[rsp+4]; mov [rip+g],eax`) is that value again (`computedSlots`, `loadedSlots`;
 * probe entry-args-own-spill). A loaded value read from its slot as the operation's own operand
 * (clang folds the reload: `sub eax,[rsp]`, `cmp eax,[rsp]; setl`, `subss xmm0,[rsp]`) names its
 * role there as from a register, and arithmetic on a slot in place (gcc -O0 `a += 5`:
 * `add dword [rbp+0x10],5`) leaves a value computed from what it held: the argument's own value
 * then a chain's running value, a loaded value still a loaded one (probe entry-args-spill-operand).
 * A value loaded through a slot (`mov eax,[rcx]`, `movsx eax,word [rcx]`, `imul eax,[rcx],100`,
 * or a memory operand: `sub eax,[rdx]`) is followed, through the same arithmetic as a chain, as
 * far as each operation it meets, whose role it names (`gvm<sub>@1`, the
 * subtrahend); so is the implicit dividend of `div`/`idiv` (`@d`), and a compare's operands are
 * named by the relation its flag reader tests (`cmp a,b; jl` and `cmp b,a; jg` alike): two
 * parameters of one type reordered in `*a - *b`, `x / y`, `*a < *b` exchange those tokens
 * whatever order the compiler reads them in (probe entry-args-loads). Commutative operations
 * (add, imul, and, or, xor, test, e/ne compares) carry no role. A writable global an operation
 * reads or writes is named by its identity through the diff's data match (`&` and its NEW
 * address: matchedGlobalNames), not by its load-time bytes, which are alike for every
 * zero-initialised global: `g_first = *a; g_second = *b` -> `g_first = *b; g_second = *a`
 * sends each loaded value to the other global (probe entry-args-globals).
 *
 * The instruction reading is argument-use-insns.ts; what the use sets of an old and a new body
 * show moved is argument-moves.ts.
 */
import { FlowControl, Mnemonic, OpKind, RegisterExt, type Instruction } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import { decodeEach } from './register-effects.ts';
import { frameAddressRegisters, GPR_CALL_KILLS, RBP_GPR, setsFramePointer } from './frame-escape.ts';
import { forwardPaths } from './forward-paths.ts';
import { MEMORY_USE, RAX, RSP, SLOT_GPR, XMM, locOf, spillSlots, type GlobalNames, namesGlobal, namesRole, type SpillSlots, type UseInsn, useInsnOf } from './argument-use-insns.ts';

/** Locations a call may change: rax, rcx, rdx, r8-r11, xmm0-xmm5. */
const CALL_KILLS = GPR_CALL_KILLS | (0x3f << XMM);
/** Token sets larger than this are cut (a huge function's slot tells little more). */
const MAX_TOKENS = 64;

/**
 * The argument registers through which slot `s`, held in `m`, is handed to a call: all of them,
 * but its own register of one class (xmm1 for slot 1) when the value reaches another argument
 * position only in registers of the other class. That one is left over from the entry, not
 * passed: an integer's xmm register is handed to every call untouched, and counted it made gcc
 * -O0 `cpy(src, dst) { strcpy(dst, src); }` (rdx to rcx, rcx to rdx through the frame) use
 * each slot in both positions, like nothing moved (probe entry-args-pshapes).
 */
function handedRegisters(m: number, s: number): number {
  const moved = (base: (k: number) => number): boolean => [0, 1, 2, 3].some((k) => k !== s && (m & (1 << base(k))) !== 0);
  const [g, x] = [moved((k) => SLOT_GPR[k]!), moved((k) => XMM + k)];
  if (g && !x) return (m & ~(1 << (XMM + s))) >>> 0;
  if (x && !g) return (m & ~(1 << SLOT_GPR[s]!)) >>> 0;
  return m;
}

/** Compares whose operand order the flag reader's condition can undo: `cmp a,b; jl` is `cmp b,a; jg`. */
const COMPARES = [Mnemonic.Cmp, Mnemonic.Comisd, Mnemonic.Comiss, Mnemonic.Ucomisd, Mnemonic.Ucomiss, Mnemonic.Vcomisd, Mnemonic.Vcomiss, Mnemonic.Vucomisd, Mnemonic.Vucomiss];
const COMPARE_TOKEN = new RegExp(`m(${COMPARES.join('|')})@([01])`);
/** The condition read with the operands of a compare exchanged (iced ConditionCode: b<->a, ae<->be, l<->g, ge<->le), or -1 when it has no mirror (o, s, p); e and ne are their own. */
const MIRRORED = new Map<number, number>([[3, 8], [8, 3], [4, 7], [7, 4], [13, 16], [16, 13], [14, 15], [15, 14], [5, 5], [6, 6]]);
/** Instructions looked at after a compare for the one that reads its flags. */
const READER_REACH = 4;

/**
 * Each compare's operand tokens (`m<cmp>@0`, `m<cmp>@1`) named by the relation the value is
 * on the left of, as the flag reader after it (in the straight line, before the flags are
 * written again) reads it: `cmp ecx,edx; setl` gives rcx `m<cmp><13>` (left of `<`) and rdx
 * `m<cmp><16>` (left of `>`), the same tokens as `cmp edx,ecx; setg`, so a compiler choosing
 * the other operand order tells nothing, while `a < b` -> `b < a` exchanges the tokens. A
 * compare whose reader is not found keeps its position, with nothing after it.
 */
function compareConditions(code: Map<number, UseInsn>): void {
  for (const [rva, e] of code) {
    if (!e.uses.some(([, t]) => COMPARE_TOKEN.test(t)) && !e.spillUses.some(([, t]) => COMPARE_TOKEN.test(t))) continue;
    let cond = 0;
    let x = code.get(e.next);
    for (let k = 0; k < READER_REACH && x !== undefined; k++) {
      if (x.cond !== 0) cond = x.cond;
      if (x.cond !== 0 || x.flags || x.flow !== FlowControl.Next) break;
      x = code.get(x.next);
    }
    const name = (t: string): string => t.replace(COMPARE_TOKEN, (all, mn: string, pos: string) => {
      const c = pos === '0' ? cond : (MIRRORED.get(cond) ?? -1);
      return cond === 0 ? all : c < 0 ? `${all}<${cond}>` : `m${mn}<${c}>`;
    });
    code.set(rva, { ...e, uses: e.uses.map(([l, t]) => [l, name(t)] as const), spillUses: e.spillUses.map(([l, t]) => [l, name(t)] as const) });
  }
}

/**
 * Where one slot's value is: the registers holding it (`regs`, a bit per location), the frame
 * slots (`frame`, by the SpillSlots numbering), and the registers holding a value an arithmetic
 * chain computed from it as its destination (`chain`: `mov eax,r8d; add eax,edx`).
 */
interface SlotHeld {
  readonly regs: number;
  readonly frame: number;
  readonly chain: number;
  /** Registers holding a value loaded through the slot's (`mov eax,[rcx]`): where it goes tells `*a - *b` from `*b - *a`. */
  readonly loaded: number;
  /**
   * Registers holding a value computed from the slot's own value by any instruction (`computed`: `lea eax,[rcx*8+5]`,
   * `imul eax,ecx,100`, `not`, `cdqe`, `shlx eax,ecx,r8d`, `rorx`): followed only to a global it is stored to or meets, which
   * that global names the slot by (`d&...`). Not as a chain: every term of a returned sum would be its running value (gcc `mix`).
   */
  readonly computed: number;
  /**
   * Frame slots holding such a computed value, or a chain's running value, spilled (`lea eax,[rcx*8+5]; mov [rsp+8],eax`,
   * a volatile local, gcc -O0's locals): a reload makes the register a computed value again (probe entry-args-own-spill).
   */
  readonly computedSlots: number;
  /** Frame slots holding a loaded value spilled (`mov eax,[rcx+rdx*4]; mov [rsp+4],eax`): a reload makes the register a loaded value again. */
  readonly loadedSlots: number;
}

/** Two paths meeting: what both hold. */
const meetHeld = (x: SlotHeld, y: SlotHeld): SlotHeld => ({ regs: (x.regs & y.regs) >>> 0, frame: (x.frame & y.frame) >>> 0, chain: (x.chain & y.chain) >>> 0, loaded: (x.loaded & y.loaded) >>> 0, computed: (x.computed & y.computed) >>> 0, computedSlots: (x.computedSlots & y.computedSlots) >>> 0, loadedSlots: (x.loadedSlots & y.loadedSlots) >>> 0 });
const sameHeld = (x: SlotHeld, y: SlotHeld): boolean => x.regs === y.regs && x.frame === y.frame && x.chain === y.chain && x.loaded === y.loaded && x.computed === y.computed && x.computedSlots === y.computedSlots && x.loadedSlots === y.loadedSlots;

/** Where a slot's value is after instruction `e`, which writes the locations `kill` (a call's volatile registers included). */
function stepHeld(h: SlotHeld, e: UseInsn, kill: number): SlotHeld {
  // A register: written, or now holding what the copied register or the reloaded frame slot held.
  const from = e.spillSrc >= 0 ? (h.frame & (1 << e.spillSrc)) !== 0 : e.copySrc >= 0 && e.spillDst < 0 && (h.regs & (1 << e.copySrc)) !== 0;
  // A frame slot: overwritten, or now holding what the spilled register held.
  const spilled = e.spillDst >= 0 && (h.regs & (1 << e.copySrc)) !== 0;
  // An arithmetic chain: its destination keeps it, a copy carries it, any other write ends it.
  const carried = e.copySrc >= 0 && e.spillDst < 0 && e.spillSrc < 0 && (h.chain & (1 << e.copySrc)) !== 0;
  // A value computed into another register (lea with an index, three-operand imul) from a loaded value is a loaded value. Not from the slot's own value:
  // as a chain, every term of a returned sum would be its running value (gcc `mix`: `lea eax,[rdx+rdx*4]; lea eax,[rcx+rax*2]`), which tells the last term apart;
  // that one is `computed`, which names only the globals it reaches.
  const derivedLoad = e.deriveDst >= 0 && (h.loaded & e.deriveFrom) !== 0 ? 1 << e.deriveDst : 0;
  // A computed value or a chain's running value spilled to a frame slot, and reloaded from one.
  const spilledComputed = e.spillDst >= 0 && ((h.computed | h.chain) & (1 << e.copySrc)) !== 0 ? 1 << e.spillDst : 0;
  const spilledLoad = e.spillDst >= 0 && (h.loaded & (1 << e.copySrc)) !== 0 ? 1 << e.spillDst : 0;
  const reloadedLoad = e.spillSrc >= 0 && e.copyDst >= 0 && (h.loadedSlots & (1 << e.spillSrc)) !== 0 ? 1 << e.copyDst : 0;
  const reloadedComputed = e.spillSrc >= 0 && e.copyDst >= 0 && (h.computedSlots & (1 << e.spillSrc)) !== 0 ? 1 << e.copyDst : 0;
  return {
    regs: ((h.regs & ~kill) | (from ? 1 << e.copyDst : 0)) >>> 0,
    frame: ((h.frame & ~e.spillWrites) | (spilled ? 1 << e.spillDst : 0)) >>> 0,
    chain: (((h.chain | (h.regs & e.accum)) & ~(kill & ~e.accum)) | (carried ? 1 << e.copyDst : 0)) >>> 0,
    // A loaded value: arithmetic on it as its destination keeps it (`(*a + 1) - (*b + 1)`), a copy carries it, any other write ends it; a load through the slot's register, or a sum of it (gcc -O0 `add rax,rdx; mov edx,[rax]`: a[i]), starts one.
    // A computed value: any write computed from a register holding the slot's value, or one computed from it, starts or keeps one; a copy carries it.
    computed: ((h.computed & ~kill) | (e.copySrc >= 0 && e.spillDst < 0 && e.spillSrc < 0 && (h.computed & (1 << e.copySrc)) !== 0 ? 1 << e.copyDst : 0) | (((h.regs | h.chain | h.computed) & e.computedFrom) !== 0 || ((h.frame | h.computedSlots) & e.computedFrame) !== 0 ? e.computedDst : 0) | reloadedComputed) >>> 0,
    // Arithmetic on a frame slot in place (`add dword [rbp+0x10],5`) leaves a value computed from what it held: the slot's own value then a chain's running value spilled.
    computedSlots: ((h.computedSlots & ~e.spillWrites) | ((h.computedSlots | h.frame) & e.spillAccum) | spilledComputed) >>> 0,
    loaded: ((h.loaded & ~(kill & ~e.accum)) | (e.copySrc >= 0 && e.spillDst < 0 && e.spillSrc < 0 && (h.loaded & (1 << e.copySrc)) !== 0 ? 1 << e.copyDst : 0) | (e.loadDst >= 0 && ((h.regs | h.chain) & (1 << e.loadBase)) !== 0 ? 1 << e.loadDst : 0) | derivedLoad | reloadedLoad) >>> 0,
    loadedSlots: ((h.loadedSlots & ~e.spillWrites) | (h.loadedSlots & e.spillAccum) | spilledLoad) >>> 0,
  };
}

/**
 * The frame-escape policy of frame-slots.ts and loop-trip-slots.ts (frame-escape.ts
 * frameEscapeOf): a frame slot whose address is handed out anywhere in the body (`lea rcx,[rsp+0x30];
 * call xchg`, or the frame's own address copied out) may be changed by a callee or a store
 * through that pointer between a spill and a reload, so no value is followed through it
 * (`escaped`, a bit per slot): reloaded, it would be taken for the argument spilled (probe
 * entry-args-escape: `xchg(&a, &b); return a - b;`, whose reload of a's slot is b). `positions`:
 * per slot whose own address is handed out, the argument positions of the call that address reaches in the straight line
 * after the lea or the copy of a register holding it (through copies: gcc -O0 `lea rax,[rbp+0x10]; mov rcx,rax`), as `@k`. rbp counts as
 * the frame only in a body that sets it from rsp (`rbpFrame`, frame-escape.ts setsFramePointer).
 */
function frameEscapes(code: ReadonlyMap<number, UseInsn>, spill: SpillSlots, rbpFrame: boolean): { escaped: number; positions: Map<number, string[]> } {
  let escaped = 0;
  const positions = new Map<number, string[]>();
  for (const [rva, e] of code) {
    if (e.escape === null || (e.escapeRbp && !rbpFrame)) continue; // rbp holding a value, not the frame
    const near = spill.near(e.escape);
    escaped |= near;
    let holds = e.escapeDst >= 0 ? 1 << e.escapeDst : 0;
    let x = code.get(e.next);
    for (let n = 0; n < ESCAPE_REACH && x !== undefined && holds !== 0 && x.next !== rva; n++) {
      if (x.flow === FlowControl.Call || x.flow === FlowControl.UnconditionalBranch) {
        const at = [0, 1, 2, 3].filter((k) => (holds & (1 << SLOT_GPR[k]!)) !== 0).map((k) => `@${k}`);
        // Named at the slot the address is of (a neighbour within 8 bytes is only reachable through it: clang's two ints 4 bytes apart).
        const own = e.escape === 'frame' ? 0 : spill.near(e.escape, 1);
        for (let id = 0; id < 32; id++) if ((own & (1 << id)) !== 0) positions.set(id, [...new Set([...(positions.get(id) ?? []), ...at])]);
        break;
      }
      if (x.flow !== FlowControl.Next) break;
      // A copy carries the address; `lea rcx,[rsi+4]` hands out another slot's (its own escape).
      const copied = x.move !== null && x.move.add === 0 && (holds & (1 << x.move.src)) !== 0;
      holds = ((holds & ~x.writes) | (copied ? 1 << x.move!.dst : 0)) >>> 0;
      x = code.get(x.next);
    }
  }
  return { escaped: escaped >>> 0, positions };
}
/** Instructions looked at after a lea of a frame slot for the call its address is handed to. */
const ESCAPE_REACH = 12;

/** What a slot's value is after a step, but in the frame slots whose address escapes. */
const unescaped = (h: SlotHeld, escaped: number): SlotHeld => (escaped === 0 ? h : { ...h, frame: (h.frame & ~escaped) >>> 0, computedSlots: (h.computedSlots & ~escaped) >>> 0, loadedSlots: (h.loadedSlots & ~escaped) >>> 0 });

/**
 * Per argument slot (0..3), the uses `f`'s body makes of the value it receives there; `passedAt`:
 * per slot, for each argument position k it is handed to a call or tail jump in, the lowest
 * address of such a call (`gpass@k` through its general register, `xpass@k` its xmm one): calls keep their order, which tells apart two slots each
 * handed on alike.
 */
export type ArgumentUses = Array<Set<string>> & { readonly passedAt: ReadonlyArray<ReadonlyMap<string, number>> };

/**
 * Each instruction of `f` as the use search reads it, with the frame slots numbered. A body
 * that moves a frame slot's address into a register (`lea rsi,[rsp+0x24]`) is read twice: the
 * second time, a load or store through a register holding one (frame-escape.ts, on every path)
 * is that slot's (clang -Os `mov [rsi],ecx` spills rcx), so its address handed out names the
 * argument spilled there.
 */
function useInsns(image: Uint8Array, f: FunctionInfo, globals: GlobalNames, tables: ReadonlyMap<number, readonly number[]>): { code: Map<number, UseInsn>; spill: SpillSlots; rbpFrame: boolean } {
  let code = new Map<number, UseInsn>();
  let spill = spillSlots();
  let rbpFrame = false;
  decodeEach(image, f.decoded.insns, (insn, d) => {
    if (setsFramePointer(insn)) rbpFrame = true;
    code.set(d.rva, useInsnOf(image, insn, d.rva, d.length, d.flow, spill, globals));
  });
  if (![...code.values()].some((e) => e.move !== null && (e.move.src === RSP || (e.move.src === RBP_GPR && rbpFrame)))) return { code, spill, rbpFrame };
  const held = frameAddressRegisters(f.entry, code, tables, rbpFrame);
  if (held.size === 0) return { code, spill, rbpFrame };
  [code, spill] = [new Map(), spillSlots()];
  decodeEach(image, f.decoded.insns, (insn, d) => code.set(d.rva, useInsnOf(image, insn, d.rva, d.length, d.flow, spill, globals, held.get(d.rva))));
  return { code, spill, rbpFrame };
}

export function argumentUses(image: Uint8Array, f: FunctionInfo, globals: GlobalNames = () => null): ArgumentUses {
  const tables = new Map<number, readonly number[]>(f.decoded.jumpTables.map((t) => [t.jumpRva, t.targets]));
  const { code, spill, rbpFrame } = useInsns(image, f, globals, tables);
  const { escaped, positions } = frameEscapes(code, spill, rbpFrame);
  compareConditions(code);
  const out = [0, 1, 2, 3].map(() => new Set<string>());
  const passedAt = [0, 1, 2, 3].map(() => new Map<string, number>());
  // The instruction whose uses are being added: each slot's first use (`use`, the lowest address) goes to passedAt.
  let at: number = f.entry;
  const add = (slot: number, t: string): void => {
    if (out[slot]!.size < MAX_TOKENS) out[slot]!.add(t);
    const was = passedAt[slot]!.get('use');
    if (was === undefined || at < was) passedAt[slot]!.set('use', at);
  };
  // State: where each slot's value is (SlotHeld), at each instruction reached.
  const start: readonly SlotHeld[] = SLOT_GPR.map((g, k) => ({ regs: ((1 << g) | (1 << (XMM + k))) >>> 0, frame: 0, chain: 0, loaded: 0, computed: 0, computedSlots: 0, loadedSlots: 0 }));
  const passed = (held: readonly SlotHeld[], tail: boolean, from: number): void => {
    held.forEach((h, s) => {
      // A value computed from the slot, handed on in argument position k (`shl ecx,3; shl edx,3; jmp pair`: pair(a*8, b*8)): the position is its role.
      const computed = h.chain | h.computed;
      for (let k = 0; k < 4; k++) if ((computed & ((1 << SLOT_GPR[k]!) | (1 << (XMM + k)))) !== 0) add(s, `e${tail ? 'jmp' : 'call'}@${k}`);
      const m = handedRegisters(h.regs, s);
      for (let k = 0; k < 4; k++) {
        if ((m & ((1 << SLOT_GPR[k]!) | (1 << (XMM + k)))) === 0) continue;
        add(s, `${tail ? 'jmp' : 'call'}@${k}`);
        // The general and the xmm register apart: a slot's other register (xmm0 for an integer) is handed to every call untouched.
        for (const key of [(m & (1 << SLOT_GPR[k]!)) !== 0 ? `gpass@${k}` : '', (m & (1 << (XMM + k))) !== 0 ? `xpass@${k}` : ''].filter((x) => x !== '')) {
          const was = passedAt[s]!.get(key);
          if (was === undefined || from < was) passedAt[s]!.set(key, from);
        }
      }
    });
  };
  const meet = (now: readonly SlotHeld[], before: readonly SlotHeld[]): readonly SlotHeld[] | null => {
    const merged = now.map((h, s) => meetHeld(h, before[s]!));
    return merged.every((h, s) => sameHeld(h, before[s]!)) ? null : merged;
  };
  forwardPaths(f.entry, code, tables, start, meet, (rva, e, held) => {
    if (held.every((h) => h.regs === 0 && h.frame === 0 && h.chain === 0 && h.loaded === 0 && h.computed === 0 && h.computedSlots === 0 && h.loadedSlots === 0)) return null;
    at = rva;
    for (const [loc, t] of e.uses) held.forEach((h, s) => (h.regs & (1 << loc)) !== 0 && add(s, `${loc >= XMM ? 'x' : 'g'}${t}`));
    // A value loaded through a slot: the operand role it meets (`gvm<sub>@1`: the subtrahend; `gvx`: a value loaded into an xmm register, through the slot's general register all the same).
    for (const [loc, t] of e.uses) if (!t.startsWith('v')) held.forEach((h, s) => (h.loaded & (1 << loc)) !== 0 && add(s, `gv${loc >= XMM ? 'x' : ''}${t}`));
    // An access through a sum of a slot's value (gcc -O0 `add rax,rdx; movzx edx,byte [rax]`: dst + i) is that pointer's access too.
    // So is a global the running value of arithmetic on a slot's value is stored to or meets (`xor ecx,0x55; mov [g],ecx`).
    for (const [loc, t] of e.uses) if (MEMORY_USE.test(t) || namesGlobal(t)) held.forEach((h, s) => (h.chain & (1 << loc)) !== 0 && add(s, `d${t}`));
    // A global a value computed from a slot's own value is stored to or meets (`lea eax,[rcx*8+5]; mov [g],eax`), however it was computed.
    for (const [loc, t] of e.uses) if (namesGlobal(t)) held.forEach((h, s) => (h.computed & (1 << loc)) !== 0 && add(s, `d${t}`));
    // A value computed from a slot's own value, or a chain's running value, meeting an operation in a role (`imul ecx,ecx; imul edx,edx;
    // sub ecx,edx`: minuend and subtrahend; a compare's side; `idiv`'s dividend or divisor) names the slot there, as a loaded value does
    // (`e` + the role; probe entry-args-computed), from a register or from the frame slot it was spilled to (clang folds the reload).
    for (const [loc, t] of e.uses) if (namesRole(t)) held.forEach((h, s) => ((h.chain | h.computed) & (1 << loc)) !== 0 && add(s, `e${t}`));
    for (const [slot, t] of e.spillUses) if (namesRole(t.slice(1))) held.forEach((h, s) => (h.computedSlots & (1 << slot)) !== 0 && add(s, `e${t.slice(1)}`));
    for (const [slot, t] of e.spillUses) held.forEach((h, s) => (h.frame & (1 << slot)) !== 0 && add(s, t));
    // A loaded value read from the frame slot it was spilled to as the operation's own operand (clang `sub eax,[rsp]`,
    // `cmp eax,[rsp]; setl`, `subss xmm0,[rsp]`: the reload folded into it) names the role it plays there, as from a register.
    for (const [slot, t] of e.spillUses) held.forEach((h, s) => (h.loadedSlots & (1 << slot)) !== 0 && add(s, `gv${t.startsWith('x') ? 'x' : ''}${t.slice(1)}`));
    const fl = e.flow;
    if (fl === FlowControl.Return) {
      // rax only: xmm0 holds the first slot from the entry whether or not the function returns a double.
      held.forEach((h, s) => (h.regs & (1 << RAX)) !== 0 && add(s, 'ret'));
      // The end of a chain of arithmetic on a slot's value, returned (rax or xmm0): that slot is the running value of the result,
      // which tells `return sum + c` (c's chain) from the sum's other terms when each term's own use is an `add`.
      held.forEach((h, s) => (h.chain & ((1 << RAX) | (1 << XMM))) !== 0 && add(s, 'dret'));
      return null;
    }
    const outside = e.target >= 0 && !code.has(e.target);
    if (fl === FlowControl.Call || fl === FlowControl.IndirectCall) passed(held, false, rva);
    else if ((fl === FlowControl.UnconditionalBranch && outside) || fl === FlowControl.IndirectBranch) passed(held, true, rva);
    const kill = fl === FlowControl.Call || fl === FlowControl.IndirectCall ? e.writes | CALL_KILLS : e.writes;
    // A slot's value spilled to a frame slot whose address is handed out: named by where the address goes (`addr@k`), and not followed further.
    // (`addr` alone when the address reaches no call, or one in no argument register: `lea rsi,[rsp+0x20]` kept for the loads after it.)
    const handedAt = e.spillDst >= 0 ? (positions.get(e.spillDst) ?? []) : [];
    if (e.spillDst >= 0 && (escaped & (1 << e.spillDst)) !== 0) held.forEach((h, s) => (h.regs & (1 << e.copySrc)) !== 0 && (handedAt.length > 0 ? handedAt : ['']).forEach((k) => add(s, `addr${k}`)));
    return held.map((h) => unescaped(stepHeld(h, e, kill), escaped));
  });
  return Object.assign(out, { passedAt });
}

/**
 * The general register `insn` moves by a constant and leaves every other alone (`add rcx,0x10`,
 * `sub rdx,8`; `lea r8,[r8+0x18]` and `lea rdx,[rax+0x10]` are copies to useInsnOf), or -1: a
 * wrapper that passes `to + 1` where it was called with `to` still hands that slot's value on
 * in the same slot (probe entry-args-alike `calc_api`), so the callee's parameters moving
 * reaches its callers.
 */
function offsetsItself(insn: Instruction): number {
  if (insn.opCount !== 2 || insn.op0Kind !== OpKind.Register || !RegisterExt.isGPR64(insn.op0Register)) return -1;
  const k = insn.op1Kind;
  const imm = k === OpKind.Immediate8to64 || k === OpKind.Immediate32to64;
  return imm && (insn.mnemonic === Mnemonic.Add || insn.mnemonic === Mnemonic.Sub) ? locOf(insn.op0Register) : -1;
}

/**
 * The direct call or jump target that `f`'s straight line from its entry reaches with each
 * argument register (rcx, rdx, r8, r9, xmm0-3) holding its own slot's value, or that value
 * moved by a constant, and without branching otherwise; or -1: the function hands its callers'
 * arguments on unmoved (a thunk, a wrapper that saves registers first, a -O0 wrapper that
 * spills its arguments to the frame and reloads them: gcc `mov [rbp+0x18],rdx` ...
 * `mov rax,[rbp+0x18]; lea rdx,[rax+0x10]`), so a callee whose parameters moved is called the
 * old way through it.
 */
export function handsArgumentsTo(image: Uint8Array, f: FunctionInfo): number {
  // The instructions are in address order; the straight line from the entry is the first few from it.
  const at = f.decoded.insns.findIndex((d) => d.rva === f.entry);
  const sorted = at < 0 ? [] : f.decoded.insns.slice(at, at + 16);
  // Which slot's value each location holds (-1: none): registers, then frame slots (by spillSlots' numbering).
  const val = Array.from({ length: 32 }, (_, loc) => (loc >= XMM ? (loc - XMM < 4 ? loc - XMM : -1) : SLOT_GPR.indexOf(loc as 1 | 2 | 8 | 9)));
  let frame = new Map<number, number>();
  const spill = spillSlots();
  let expect: number = f.entry;
  let out = -1;
  let done = false;
  decodeEach(image, sorted, (insn, d) => {
    if (done) return;
    if (d.rva !== expect) return void (done = true);
    const e = useInsnOf(image, insn, d.rva, d.length, d.flow, spill);
    if (d.flow === FlowControl.Call || d.flow === FlowControl.UnconditionalBranch) {
      const own = SLOT_GPR.every((g, k) => val[g] === k && val[XMM + k] === k);
      out = own ? e.target : -1;
      return void (done = true);
    }
    if (d.flow !== FlowControl.Next) return void (done = true);
    const moved = offsetsItself(insn);
    const copied = e.spillSrc >= 0 ? (frame.get(e.spillSrc) ?? -1) : e.copySrc >= 0 && e.spillDst < 0 ? val[e.copySrc]! : -1;
    if (e.spillDst >= 0) frame.set(e.spillDst, val[e.copySrc]!);
    for (let x = 0; x < 32; x++) if ((e.spillWrites & (1 << x)) !== 0 && x !== e.spillDst) frame.delete(x);
    // A new frame (push, `sub rsp`, `mov rbp,rsp`): the same displacement names another slot.
    if ((e.writes & ((1 << RSP) | (1 << RBP_GPR))) !== 0) frame = new Map();
    for (let loc = 0; loc < 32; loc++) if ((e.writes & (1 << loc)) !== 0 && loc !== moved) val[loc] = -1;
    if (e.copyDst >= 0) val[e.copyDst] = copied;
    expect = e.next;
  });
  return out;
}
