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
 * frame slot) is followed to the globals it is stored to or meets only (`computed`; probe
 * entry-args-own), which a returned sum never reaches.
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
 *   swap with a rewrite: `g_first = -(*b >> 2); g_second = *a - 100`).
 * A use both slots had in the old body (a null test on two pointers) distinguishes nothing and
 * is left out. The code alone cannot tell a fix that swaps two operands, or one that stops
 * using the last parameter and uses the one before it the way the last was, from a
 * signature change: both are refused (a wrong "safe" is the worst outcome).
 */
import { FlowControl, InstructionInfoFactory, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register, RegisterExt, type Instruction } from 'iced-x86';
import type { FunctionInfo } from '../image/types.ts';
import type { MatchResult } from '../match/match-images.ts';
import { decodeEach } from './register-effects.ts';
import { IMMEDIATE_KINDS, opAccessOf, opKindOf, opRegisterOf } from '../disasm/operands.ts';

/** Location numbers: GPRs 0..15 (rax..r15), xmm registers 16..31. */
const XMM = 16;
const RAX = 0;
const RSP = 4;
/** The argument registers of slot k: rcx, rdx, r8, r9 and xmm0-3. */
const SLOT_GPR = [1, 2, 8, 9] as const;
/** Locations a call may change: rax, rcx, rdx, r8-r11, xmm0-xmm5. */
const CALL_KILLS = [0, 1, 2, 8, 9, 10, 11].reduce((m, g) => m | (1 << g), 0) | (0x3f << XMM);
/** Token sets larger than this are cut (a huge function's slot tells little more). */
const MAX_TOKENS = 64;

const factory = new InstructionInfoFactory();

function locOf(r: Register): number {
  if (r >= Register.XMM0 && r <= Register.XMM15) return XMM + (r - Register.XMM0);
  if (r >= Register.YMM0 && r <= Register.YMM15) return XMM + (r - Register.YMM0);
  if (r === Register.None || !RegisterExt.isGPR(r)) return -1;
  const full = RegisterExt.fullRegister(r);
  return full >= Register.RAX && full <= Register.R15 ? full - Register.RAX : -1;
}

/** One instruction as the use search needs it. */
interface UseInsn {
  readonly next: number;
  readonly flow: FlowControl;
  readonly target: number;
  /** [location, token] for each read of a location's value. */
  readonly uses: ReadonlyArray<readonly [number, string]>;
  /** Locations written (bit per location). */
  readonly writes: number;
  /** A copy: after the writes, `copyDst` holds what `copySrc` held (-1: none). */
  readonly copyDst: number;
  readonly copySrc: number;
  /** Frame slots (the `spill` numbering, a bit each) written. */
  readonly spillWrites: number;
  /** A spill: frame slot `spillDst` now holds what register `copySrc` held (-1: none). */
  readonly spillDst: number;
  /** A reload: register `copyDst` now holds what frame slot `spillSrc` held (-1: none). */
  readonly spillSrc: number;
  /** [frame slot, token (with its `g`/`x` prefix)] for each read of a frame slot's value by an instruction other than a reload. */
  readonly spillUses: ReadonlyArray<readonly [number, string]>;
  /** Registers an arithmetic instruction reads and writes as its destination (`add eax,edx`'s eax): what they hold after it is computed from what they held. */
  readonly accum: number;
  /** A load: register `loadDst` now holds a value read through register `loadBase` (`mov eax,[rcx+0x4]`), or -1. */
  readonly loadDst: number;
  readonly loadBase: number;
  /** The condition the instruction reads the flags with (`jl`, `setg`, `cmovb`: iced ConditionCode, 0 none), and whether it writes them. */
  readonly cond: number;
  readonly flags: boolean;
  /** A value computed into register `deriveDst` from the registers `deriveFrom` (a bit each) hold: `lea eax,[rcx+rdx*4]`, `imul eax,ecx,7`; -1 none. */
  readonly deriveDst: number;
  readonly deriveFrom: number;
  /** Registers written with a value computed from the registers `computedFrom` read (iced's used registers; not a memory operand's address, not a copy, load or zeroing): `not`, `cdqe`, `shlx`, `rorx`, `lea`, three-operand `imul`. */
  readonly computedDst: number;
  readonly computedFrom: number;
  /** Frame slots (a bit each) read as an operand of that computation (clang -O0 `imul eax,[rsp+0x4],9`). */
  readonly computedFrame: number;
}

/**
 * The number (0..31) of a frame slot `[rsp+d]` or `[rbp+d]` (no index) that the search follows
 * like a register, or -1. -O0 builds spill every argument to the frame at entry and reload it
 * for each use (gcc `mov [rbp+0x10],rcx` ... `mov rax,[rbp+0x10]`, clang `mov [rsp+0x8],rcx`):
 * without this the reloaded value is no argument's, and every slot's uses are alike.
 */
export type SpillSlots = (base: Register, disp: number) => number;

/** A fresh frame-slot numbering for one function (up to 32 slots; more are not followed). */
function spillSlots(): SpillSlots {
  const ids = new Map<string, number>();
  return (base, disp) => {
    if (base !== Register.RSP && base !== Register.RBP) return -1;
    const key = `${base}:${disp}`;
    let id = ids.get(key);
    if (id === undefined) {
      if (ids.size >= 32) return -1;
      ids.set(key, (id = ids.size));
    }
    return id;
  };
}

const COMMUTATIVE = new Set<number>([Mnemonic.Add, Mnemonic.Imul, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor, Mnemonic.Addsd, Mnemonic.Addss, Mnemonic.Mulsd, Mnemonic.Mulss, Mnemonic.Vaddsd, Mnemonic.Vaddss, Mnemonic.Vmulsd, Mnemonic.Vmulss, Mnemonic.Test]);
/** Arithmetic whose destination register accumulates: the result is computed from what it held. */
const ACCUMULATES = new Set<number>([Mnemonic.Add, Mnemonic.Sub, Mnemonic.Imul, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Sar, Mnemonic.Shr, Mnemonic.Neg, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Xor, Mnemonic.Or, Mnemonic.And, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Addsd, Mnemonic.Addss, Mnemonic.Subsd, Mnemonic.Subss, Mnemonic.Mulsd, Mnemonic.Mulss, Mnemonic.Divsd, Mnemonic.Divss]);
const COPIES = new Set<number>([Mnemonic.Mov, Mnemonic.Movsxd, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movaps, Mnemonic.Movapd, Mnemonic.Movups, Mnemonic.Movupd, Mnemonic.Movdqa, Mnemonic.Movdqu, Mnemonic.Movq, Mnemonic.Movsd, Mnemonic.Movss, Mnemonic.Vmovaps, Mnemonic.Vmovapd]);

/** Instructions that leave a constant when both sources are one register (`xor eax,eax`, `vxorps xmm0,xmm0,xmm0`, `pcmpeqd`: all ones). */
const SAME_SOURCE_CONSTANT = new Set<number>([Mnemonic.Xor, Mnemonic.Sub, Mnemonic.Xorps, Mnemonic.Xorpd, Mnemonic.Pxor, Mnemonic.Vxorps, Mnemonic.Vxorpd, Mnemonic.Vpxor, Mnemonic.Pcmpeqd, Mnemonic.Vpcmpeqd]);
/** Whether `insn` computes a constant from nothing: its two last operands one register, of a SAME_SOURCE_CONSTANT instruction. */
const constantIdiom = (insn: Instruction): boolean => {
  const n = insn.opCount;
  return n >= 2 && SAME_SOURCE_CONSTANT.has(insn.mnemonic) && opKindOf(insn, n - 1) === OpKind.Register && opKindOf(insn, n - 2) === OpKind.Register && opRegisterOf(insn, n - 1) === opRegisterOf(insn, n - 2);
};

/** A use token of a memory operand's base register: a load, store or read-modify-write through it. */
const MEMORY_USE = /^(ld|st|rw)[+-]0x/;
const accessName = (a: OpAccess): string => (a === OpAccess.Read || a === OpAccess.CondRead ? 'ld' : a === OpAccess.Write || a === OpAccess.CondWrite ? 'st' : 'rw');
const signed = (x: number): string => (x < 0 ? `-0x${(-x).toString(16)}` : `+0x${x.toString(16)}`);

/**
 * A name for a writable global by its identity, the same in the old and the new body when the
 * diff's data match pairs them (`&` and the NEW address), or null (not writable data, or
 * unmatched): its bytes are only what it holds at load time, alike for every zero-initialised
 * global, so `g_first = *a; g_second = *b` -> `g_first = *b; g_second = *a` exchanged nothing
 * the bytes could show.
 */
export type GlobalNames = (rva: number) => string | null;

/** GlobalNames of the `side` image of `m`: a writable item the match pairs, by its NEW counterpart's address at the same offset. */
export function matchedGlobalNames(m: MatchResult, side: 'old' | 'new'): GlobalNames {
  const a = side === 'old' ? m.old : m.new;
  return (rva) => {
    const it = a.itemAt(rva);
    if (it === undefined || !it.writable) return null;
    const n = side === 'old' ? m.itemOldToNew[it.index]! : m.itemNewToOld[it.index]! >= 0 ? it.index : -1;
    const ni = n >= 0 ? m.new.items[n] : undefined;
    return ni === undefined ? null : `&${(ni.start + rva - it.start).toString(16)}`;
  };
}

/** The constant bytes a RIP-relative read of `size` bytes at `rva` sees, as `=hex`, or `=?`. */
function constantAt(image: Uint8Array, rva: number, size: number): string {
  if (size <= 0 || size > 16 || rva < 0 || rva + size > image.length) return '=?';
  return `=${[...image.subarray(rva, rva + size)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The arithmetic token of `insn` for a register operand at position `pos`. */
function operandToken(image: Uint8Array, insn: Instruction, pos: number, globals: GlobalNames): string {
  const mn = insn.mnemonic;
  let t = COMMUTATIVE.has(mn) ? `m${mn}` : `m${mn}@${pos}`;
  for (let i = 0; i < insn.opCount; i++) {
    const k = opKindOf(insn, i);
    if (IMMEDIATE_KINDS.has(k) || k === OpKind.Immediate64) t += `#${BigInt.asIntN(64, BigInt(insn.immediate(i)))}`;
    else if (k === OpKind.Memory && insn.memoryBase === Register.RIP) t += globals(Number(insn.memoryDisplacement)) ?? constantAt(image, Number(insn.memoryDisplacement), MemorySizeExt.size(insn.memorySize));
  }
  return t;
}

/** The uses, writes and copy of one decoded instruction. */
function useInsnOf(image: Uint8Array, insn: Instruction, rva: number, length: number, flow: FlowControl, spill: SpillSlots = () => -1, globals: GlobalNames = () => null): UseInsn {
  const uses: Array<readonly [number, string]> = [];
  const spillUses: Array<readonly [number, string]> = [];
  const mn = insn.mnemonic;
  const info = factory.info(insn);
  let writes = 0;
  let copyDst = -1;
  let copySrc = -1;
  let spillWrites = 0;
  let spillDst = -1;
  let spillSrc = -1;
  let loadDst = -1;
  let loadBase = -1;
  let deriveDst = -1;
  let deriveFrom = 0;
  let computedDst = 0;
  let computedFrom = 0;
  let computedFrame = 0;
  // `xor eax,eax` and `sub eax,eax` leave zero, computed from nothing.
  const zeroes = insn.opCount === 2 && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && insn.op0Register === insn.op1Register && (mn === Mnemonic.Xor || mn === Mnemonic.Sub);
  const accum = ACCUMULATES.has(mn) && !zeroes && insn.opCount >= 1 && insn.opCount <= 2 && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0 ? 1 << locOf(insn.op0Register) : 0;
  // Three-operand imul computes its destination from its source (`imul eax,ecx,100`; `imul eax,[rcx],100` loads through rcx).
  const imul3 = mn === Mnemonic.Imul && insn.opCount === 3 && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0;
  if (imul3 && insn.op1Kind === OpKind.Register && locOf(insn.op1Register) >= 0) [deriveDst, deriveFrom] = [locOf(insn.op0Register), 1 << locOf(insn.op1Register)];
  try {
    for (let i = 0; i < insn.opCount; i++) {
      const k = opKindOf(insn, i);
      if (k === OpKind.Memory && mn !== Mnemonic.Nop) {
        const [b, x, s, d] = [locOf(insn.memoryBase), locOf(insn.memoryIndex), insn.memoryIndexScale, Number(BigInt.asIntN(64, insn.memoryDisplacement))];
        const slot = mn === Mnemonic.Lea || x >= 0 ? -1 : spill(insn.memoryBase, d);
        if (slot >= 0) {
          const a = opAccessOf(info, i);
          const other = insn.opCount === 2 && opKindOf(insn, 1 - i) === OpKind.Register ? locOf(opRegisterOf(insn, 1 - i)) : -1;
          // A float instruction reading the slot straight from the frame (clang -O0 `addsd xmm0,[rsp]`) uses it as a float, as it would from xmm2.
          const pre = other >= XMM ? 'x' : 'g';
          if (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) {
            spillWrites |= 1 << slot;
            if (i === 0 && COPIES.has(mn) && other >= 0) [spillDst, copySrc] = [slot, other];
          }
          if (a === OpAccess.Read || a === OpAccess.CondRead) {
            if (i === 1 && COPIES.has(mn) && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0) [spillSrc, copyDst] = [slot, locOf(insn.op0Register)];
            else {
              spillUses.push([slot, `${pre}${operandToken(image, insn, i, globals)}`]);
              computedFrame |= 1 << slot;
            }
          } else if (a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) spillUses.push([slot, `${pre}${operandToken(image, insn, i, globals)}`]);
          continue;
        }
        if (mn === Mnemonic.Lea) {
          // An address computed from an index is a value computed from it and the base (`lea eax,[rcx+rcx*4]`: a * 5, `lea eax,[rcx+rdx*4]`).
          if (x >= 0 && locOf(insn.op0Register) >= 0) [deriveDst, deriveFrom] = [locOf(insn.op0Register), (b >= 0 ? 1 << b : 0) | (1 << x)];
          if (b >= 0 && b === x) uses.push([b, `mul${s + 1}${signed(d)}`]);
          else if (b >= 0 && x >= 0 && s === 1 && d === 0) uses.push([b, `m${Mnemonic.Add}`], [x, `m${Mnemonic.Add}`]);
          else {
            if (b >= 0 && x < 0) [copyDst, copySrc] = [locOf(insn.op0Register), b];
            else if (b >= 0) uses.push([b, `leab${signed(d)}`]);
            if (x >= 0) uses.push([x, `leai${s}${signed(d)}`]);
          }
          continue;
        }
        const acc = `${accessName(opAccessOf(info, i))}`;
        const size = MemorySizeExt.size(insn.memorySize);
        // What a value read through the base meets: a load into a register is followed (loadDst), a memory operand of arithmetic is its operand.
        if (b >= 0 && b !== RSP && acc === 'ld' && i === 1 && COPIES.has(mn) && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0) [loadDst, loadBase] = [locOf(insn.op0Register), b];
        else if (b >= 0 && b !== RSP && acc === 'ld' && i === 1 && imul3) {
          [loadDst, loadBase] = [locOf(insn.op0Register), b];
          uses.push([b, `v${operandToken(image, insn, i, globals)}`]);
        } else if (b >= 0 && b !== RSP && acc !== 'st' && !COPIES.has(mn)) uses.push([b, `v${operandToken(image, insn, i, globals)}`]);
        if (b >= 0 && b !== RSP) uses.push([b, `${acc}${signed(d)}:${size}${x >= 0 ? 'x' : ''}`]);
        if (x >= 0) uses.push([x, `ix${s}:${acc}:${size}`]);
        continue;
      }
      if (k !== OpKind.Register) continue;
      const loc = locOf(opRegisterOf(insn, i));
      if (loc < 0) continue;
      const a = opAccessOf(info, i);
      if (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) writes |= 1 << loc;
      if (spillDst >= 0 && i === 1) continue;
      if (i === 1 && insn.opCount === 2 && COPIES.has(mn) && insn.op0Kind === OpKind.Register && locOf(insn.op0Register) >= 0 && (locOf(insn.op0Register) < XMM) === (loc < XMM)) {
        [copyDst, copySrc] = [locOf(insn.op0Register), loc];
        continue;
      }
      const zeroing = insn.opCount >= 2 && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && insn.op0Register === insn.op1Register && (mn === Mnemonic.Xor || mn === Mnemonic.Xorps || mn === Mnemonic.Xorpd || mn === Mnemonic.Pxor || mn === Mnemonic.Sub);
      if (zeroing) continue;
      if (a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite) uses.push([loc, operandToken(image, insn, i, globals)]);
    }
    // The dividend of `div`/`idiv` is implicit (rax, after `cdq` or a zeroed rdx): its operand is the divisor (`@0`).
    if ((mn === Mnemonic.Idiv || mn === Mnemonic.Div) && insn.opCount === 1) uses.push([RAX, `m${mn}@d`]);
    // Implicit writes (`cqo`, `mul`'s rdx, a call's rax): what they leave is not the argument.
    for (const u of info.usedRegisters()) {
      const loc = locOf(u.register);
      const a = u.access;
      if (loc >= 0 && (a === OpAccess.Write || a === OpAccess.CondWrite || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite)) [writes, computedDst] = [writes | (1 << loc), computedDst | (1 << loc)];
      if (loc >= 0 && (a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite)) computedFrom |= 1 << loc;
      u.free();
    }
    // What a memory operand's address registers hold is not an operand of the computation (a load through them is `loaded`); lea's are.
    if (mn !== Mnemonic.Lea && mn !== Mnemonic.Nop) for (let i = 0; i < insn.opCount; i++) if (opKindOf(insn, i) === OpKind.Memory) computedFrom &= ~((1 << Math.max(locOf(insn.memoryBase), 0)) | (1 << Math.max(locOf(insn.memoryIndex), 0)));
  } finally {
    info.free();
  }
  if (copyDst >= 0) writes |= 1 << copyDst;
  const direct = flow === FlowControl.Call || flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch;
  const target = direct && insn.opCount > 0 && (insn.op0Kind === OpKind.NearBranch64 || insn.op0Kind === OpKind.NearBranch32) ? Number(insn.nearBranchTarget) : -1;
  if (loadDst >= 0) writes |= 1 << loadDst;
  if (deriveDst >= 0) writes |= 1 << deriveDst;
  // Copies, reloads and spills are followed as such, `xor eax,eax` computes from nothing, and a call or branch computes nothing the search follows (a call's results are not its arguments').
  const computes = flow === FlowControl.Next && copyDst < 0 && spillDst < 0 && !constantIdiom(insn) && mn !== Mnemonic.Push && mn !== Mnemonic.Pop;
  [computedDst, computedFrom, computedFrame] = computes ? [computedDst & ~(1 << RSP), computedFrom, computedFrame] : [0, 0, 0];
  return { next: rva + length, flow, target, uses, writes, copyDst, copySrc, spillWrites, spillDst, spillSrc, spillUses, accum: accum >>> 0, loadDst, loadBase, cond: insn.conditionCode, flags: insn.rflagsModified !== 0, deriveDst, deriveFrom: deriveFrom >>> 0, computedDst: computedDst >>> 0, computedFrom: computedFrom >>> 0, computedFrame: computedFrame >>> 0 };
}

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
}

/** Two paths meeting: what both hold. */
const meetHeld = (x: SlotHeld, y: SlotHeld): SlotHeld => ({ regs: (x.regs & y.regs) >>> 0, frame: (x.frame & y.frame) >>> 0, chain: (x.chain & y.chain) >>> 0, loaded: (x.loaded & y.loaded) >>> 0, computed: (x.computed & y.computed) >>> 0 });
const sameHeld = (x: SlotHeld, y: SlotHeld): boolean => x.regs === y.regs && x.frame === y.frame && x.chain === y.chain && x.loaded === y.loaded && x.computed === y.computed;

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
  return {
    regs: ((h.regs & ~kill) | (from ? 1 << e.copyDst : 0)) >>> 0,
    frame: ((h.frame & ~e.spillWrites) | (spilled ? 1 << e.spillDst : 0)) >>> 0,
    chain: (((h.chain | (h.regs & e.accum)) & ~(kill & ~e.accum)) | (carried ? 1 << e.copyDst : 0)) >>> 0,
    // A loaded value: arithmetic on it as its destination keeps it (`(*a + 1) - (*b + 1)`), a copy carries it, any other write ends it; a load through the slot's register, or a sum of it (gcc -O0 `add rax,rdx; mov edx,[rax]`: a[i]), starts one.
    // A computed value: any write computed from a register holding the slot's value, or one computed from it, starts or keeps one; a copy carries it.
    computed: ((h.computed & ~kill) | (e.copySrc >= 0 && e.spillDst < 0 && e.spillSrc < 0 && (h.computed & (1 << e.copySrc)) !== 0 ? 1 << e.copyDst : 0) | (((h.regs | h.chain | h.computed) & e.computedFrom) !== 0 || (h.frame & e.computedFrame) !== 0 ? e.computedDst : 0)) >>> 0,
    loaded: ((h.loaded & ~(kill & ~e.accum)) | (e.copySrc >= 0 && e.spillDst < 0 && e.spillSrc < 0 && (h.loaded & (1 << e.copySrc)) !== 0 ? 1 << e.copyDst : 0) | (e.loadDst >= 0 && ((h.regs | h.chain) & (1 << e.loadBase)) !== 0 ? 1 << e.loadDst : 0) | derivedLoad) >>> 0,
  };
}

/**
 * Per argument slot (0..3), the uses `f`'s body makes of the value it receives there; `passedAt`:
 * per slot, for each argument position k it is handed to a call or tail jump in, the lowest
 * address of such a call (`gpass@k` through its general register, `xpass@k` its xmm one): calls keep their order, which tells apart two slots each
 * handed on alike.
 */
export type ArgumentUses = Array<Set<string>> & { readonly passedAt: ReadonlyArray<ReadonlyMap<string, number>> };

export function argumentUses(image: Uint8Array, f: FunctionInfo, globals: GlobalNames = () => null): ArgumentUses {
  const code = new Map<number, UseInsn>();
  const spill = spillSlots();
  decodeEach(image, f.decoded.insns, (insn, d) => code.set(d.rva, useInsnOf(image, insn, d.rva, d.length, d.flow, spill, globals)));
  compareConditions(code);
  const tables = new Map<number, readonly number[]>(f.decoded.jumpTables.map((t) => [t.jumpRva, t.targets]));
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
  const seen = new Map<number, readonly SlotHeld[]>();
  const work: Array<readonly [number, readonly SlotHeld[]]> = [[f.entry, SLOT_GPR.map((g, k) => ({ regs: ((1 << g) | (1 << (XMM + k))) >>> 0, frame: 0, chain: 0, loaded: 0, computed: 0 }))]];
  const passed = (held: readonly SlotHeld[], tail: boolean, from: number): void => {
    held.forEach((h, s) => {
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
  while (work.length > 0) {
    let [rva, held] = work.pop()!;
    for (;;) {
      const e = code.get(rva);
      if (e === undefined) break;
      const before = seen.get(rva);
      if (before !== undefined) {
        const merged = held.map((h, s) => meetHeld(h, before[s]!));
        if (merged.every((h, s) => sameHeld(h, before[s]!))) break;
        held = merged;
      }
      seen.set(rva, held);
      if (held.every((h) => h.regs === 0 && h.frame === 0 && h.chain === 0 && h.loaded === 0 && h.computed === 0)) break;
      at = rva;
      for (const [loc, t] of e.uses) held.forEach((h, s) => (h.regs & (1 << loc)) !== 0 && add(s, `${loc >= XMM ? 'x' : 'g'}${t}`));
      // A value loaded through a slot: the operand role it meets (`gvm<sub>@1`: the subtrahend; `gvx`: a value loaded into an xmm register, through the slot's general register all the same).
      for (const [loc, t] of e.uses) if (!t.startsWith('v')) held.forEach((h, s) => (h.loaded & (1 << loc)) !== 0 && add(s, `gv${loc >= XMM ? 'x' : ''}${t}`));
      // An access through a sum of a slot's value (gcc -O0 `add rax,rdx; movzx edx,byte [rax]`: dst + i) is that pointer's access too.
      // So is a global the running value of arithmetic on a slot's value is stored to or meets (`xor ecx,0x55; mov [g],ecx`).
      for (const [loc, t] of e.uses) if (MEMORY_USE.test(t) || namesGlobal(t)) held.forEach((h, s) => (h.chain & (1 << loc)) !== 0 && add(s, `d${t}`));
      // A global a value computed from a slot's own value is stored to or meets (`lea eax,[rcx*8+5]; mov [g],eax`), however it was computed.
      for (const [loc, t] of e.uses) if (namesGlobal(t)) held.forEach((h, s) => (h.computed & (1 << loc)) !== 0 && add(s, `d${t}`));
      for (const [slot, t] of e.spillUses) held.forEach((h, s) => (h.frame & (1 << slot)) !== 0 && add(s, t));
      const fl = e.flow;
      if (fl === FlowControl.Return) {
        // rax only: xmm0 holds the first slot from the entry whether or not the function returns a double.
        held.forEach((h, s) => (h.regs & (1 << RAX)) !== 0 && add(s, 'ret'));
        // The end of a chain of arithmetic on a slot's value, returned (rax or xmm0): that slot is the running value of the result,
        // which tells `return sum + c` (c's chain) from the sum's other terms when each term's own use is an `add`.
        held.forEach((h, s) => (h.chain & ((1 << RAX) | (1 << XMM))) !== 0 && add(s, 'dret'));
        break;
      }
      const outside = e.target >= 0 && !code.has(e.target);
      if (fl === FlowControl.Call || fl === FlowControl.IndirectCall) passed(held, false, rva);
      else if ((fl === FlowControl.UnconditionalBranch && outside) || fl === FlowControl.IndirectBranch) passed(held, true, rva);
      const kill = fl === FlowControl.Call || fl === FlowControl.IndirectCall ? e.writes | CALL_KILLS : e.writes;
      const next = held.map((h) => stepHeld(h, e, kill));
      if (fl === FlowControl.IndirectBranch) {
        for (const t of tables.get(rva) ?? []) work.push([t, next]);
        break;
      }
      if (fl === FlowControl.UnconditionalBranch || fl === FlowControl.ConditionalBranch) {
        if (!outside && e.target >= 0) work.push([e.target, next]);
        if (fl === FlowControl.UnconditionalBranch) break;
      } else if (fl === FlowControl.Interrupt || fl === FlowControl.Exception) break;
      held = next;
      rva = e.next;
    }
  }
  return Object.assign(out, { passedAt });
}

/** The argument registers of each slot: general and float. */
const SLOT_GPR_NAMES = ['rcx', 'rdx', 'r8', 'r9'] as const;

/** Two slots whose distinguishing uses changed places, or slots from..last-1 that took the uses of the next slot up while `last` fell unused; `names`: each slot's register as its uses show (`rcx`, `xmm1`, `r8/xmm2`). */
export type UseMove = { readonly names: readonly string[] } & ({ readonly kind: 'swap'; readonly a: number; readonly b: number; readonly usesA: readonly string[]; readonly usesB: readonly string[] } | { readonly kind: 'shift'; readonly from: number; readonly last: number; readonly uses: readonly string[] } | { readonly kind: 'order'; readonly a: number; readonly b: number; readonly k: number } | { readonly kind: 'first'; readonly a: number; readonly b: number; readonly oldFirst: number });

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
/** A use naming a writable global by its identity (matchedGlobalNames: `&<address>`). */
const namesGlobal = (t: string): boolean => t.includes('&');
/** A slot's uses but those naming a global by identity. */
const unnamed = (x: ReadonlySet<string>): Set<string> => new Set([...x].filter((t) => !namesGlobal(t)));
/**
 * Whether the globals that told slots a and b apart in the old body (`oa`, `ob`) tell the same
 * slots apart in the new one: each new slot meets its own old slot's and none of the other's.
 * `swapped`: the new slots given in the other order, which asks whether they were exchanged.
 */
function placed(oa: ReadonlySet<string>, ob: ReadonlySet<string>, na: ReadonlySet<string>, nb: ReadonlySet<string>): boolean {
  const [ga, gb] = [[...minus(oa, ob)].filter(namesGlobal), [...minus(ob, oa)].filter(namesGlobal)].map((l) => new Set(l)) as [Set<string>, Set<string>];
  return ga.size > 0 && gb.size > 0 && meets(na, ga) && !meets(na, gb) && meets(nb, gb) && !meets(nb, ga);
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
      const took = takesOver(n[a]!, o[b]!) && takesOver(n[b]!, o[a]!);
      const exchanged = took && meets(n[a]!, tb) && !meets(n[a]!, ta) && meets(n[b]!, ta) && !meets(n[b]!, tb);
      if (exchanged || placed(o[a]!, o[b]!, n[b]!, n[a]!)) return { names: slotNames(o, n), kind: 'swap', a, b, usesA: [...ta].sort(), usesB: [...tb].sort() };
    }
  }
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
    if ((e.writes & ((1 << RSP) | (1 << 5))) !== 0) frame = new Map();
    for (let loc = 0; loc < 32; loc++) if ((e.writes & (1 << loc)) !== 0 && loc !== moved) val[loc] = -1;
    if (e.copyDst >= 0) val[e.copyDst] = copied;
    expect = e.next;
  });
  return out;
}
