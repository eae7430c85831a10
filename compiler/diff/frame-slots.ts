/**
 * Argument pointers followed through their stack slots. At -O0 gcc and clang store each
 * pointer argument to the stack first (`mov [rbp+0x10],rcx`, `mov [rsp+0x8],rcx`), often copy
 * it to a local the same way (`mov rax,[rbp+0x10]; mov [rbp-0x8],rax`), and reload it before
 * every access (`mov rax,[rbp-0x8]; mov eax,[rax+0x4]`). added-field.ts follows an argument
 * in registers only, so without this every layout rule built on its accesses (added field,
 * retyped field, swapped pointers) saw no field access in a -O0 body: probes red-float,
 * red-split, red-narrow, red-union, red-tail and red-byval (test/probe-red-live.test.ts) were
 * hotpatchable at -O0 and printed neither version live.
 *
 * The evidence kept: a slot is an address of the frame, counted from the stack pointer at
 * entry (rsp and rbp offsets followed through push, pop, `sub/add rsp,imm`, `mov rbp,rsp`,
 * `lea rbp/rsp,[..+imm]`, leave, and a `mov eax,imm; call; sub rsp,rax` stack probe; any other
 * write to rsp or rbp forgets its offset, and code after a return or tail jump takes the
 * offsets from before that epilogue). A 64-bit `mov` of a register holding an argument to a
 * slot makes the slot hold it; a 64-bit `mov` from the slot makes the register hold it again.
 * Conservative, because a body is read in address order and not by its paths: a slot is
 * followed only when the whole body writes it once (that store; any other store, a call's
 * home area, a push over it counts) and never takes its address (`lea r,[rbp+slot]`); a frame
 * address copied out of rsp/rbp (`mov rax,rsp`, an indexed `lea`) or a frame write at an
 * offset no longer known disables every slot of the body. What hands out a frame address is
 * frame-escape.ts' (`frameEscapeOf`, shared with argument-uses.ts and, through `addressTaken`,
 * loop-trip-slots.ts): rbp copied out counts only in a body that sets rbp from rsp (gcc -O2
 * parks a value in rbp: `mov r13,rbp`), and a register holding a frame address (`lea
 * rsi,[rsp+0x10]`, a copy of it, a constant added) is a frame pointer: a load or store through
 * it is the frame's access at that offset, and its value copied, moved into another register,
 * stored or pushed is that slot's address taken (`lea rcx,[rsi+0x10]`, 0x10 bytes past the lea's
 * slot and its neighbours). Those registers are followed in address order, as the offsets are;
 * past a return or jump (another block next) a store through one still writes its slot, a load
 * through one is no reload. A `push rax` (or r10, r11) in the
 * prologue is clang's 8-byte frame allocation, not a write: those registers hold nothing a
 * callee may read at entry, so no code relies on the bytes it leaves.
 *
 * mapFrame gives the same frame to a search by paths (argument-roles.ts): each instruction's
 * frame access and whether a slot holds one value throughout the body (written once, never
 * its address taken, the frame never lost).
 */
import { type Instruction, MemorySizeExt, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { decodeEach, withUsedRegisters } from './register-effects.ts';
import { immediateOf, opKindOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';
import { addressMoveOf, type FrameAddress, type FrameEscapeAt, frameEscapeOf, RBP_GPR, RSP_GPR, setsFramePointer } from './frame-escape.ts';

/** Instructions whose memory first operand is only read. */
const READS_MEMORY_OP0 = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt, Mnemonic.Push, Mnemonic.Prefetchnta, Mnemonic.Prefetcht0, Mnemonic.Prefetcht1, Mnemonic.Prefetcht2]);
/** The callee's home area: a call may overwrite the 0x20 bytes above the caller's rsp. */
const HOME_AREA = 0x20;

/** Whether `r` is rsp or rbp, or a part of one (a write of ebp replaces rbp too). */
const isFrameRegister = (r: Register): boolean => r !== Register.None && (RegisterExt.fullRegister(r) === Register.RSP || RegisterExt.fullRegister(r) === Register.RBP);

/**
 * Whether the object `[a, end)` handed out (FrameSlots `escapeAt`) spans the 8-byte slot at `k`
 * above its start: a pointer member lies a multiple of 8 bytes into its 8-aligned object (a
 * flag's address at `[rsp+0x55]` reaches no slot at `[rsp+0x58]`: swc-html 1.15.33's 0x114090).
 */
function spans([a, end]: readonly [number, number], k: number): boolean {
  return a < k && k < end && (k - a) % 8 === 0;
}

/** Which slots the body may follow (decided by a first pass over it). */
export interface SlotPolicy {
  /** Slots not to follow (written more than once, or their address taken). */
  readonly excluded: ReadonlySet<number>;
  /** No slot at all (the frame's address escaped, or a write landed at an unknown offset). */
  readonly none: boolean;
}

export const FOLLOW_ALL: SlotPolicy = { excluded: new Set(), none: false };

/**
 * Runs `scan` following every slot, then, when the frame it stepped says some followed slot
 * is written again or has its address taken (`FrameSlots.verdict()`), once more without those.
 */
export function scanWithSlotPolicy<T>(scan: (policy: SlotPolicy) => { readonly result: T; readonly again: SlotPolicy | null }): T {
  const first = scan(FOLLOW_ALL);
  return first.again === null ? first.result : scan(first.again).result;
}

/** An instruction's memory operand on the frame: its offset from the stack pointer at entry, its size, whether it is written. */
export interface FrameAccess {
  readonly at: number;
  readonly size: number;
  readonly write: boolean;
}

/** Registers a prologue pushes only to allocate 8 bytes (their value at entry is nobody's). */
const SCRATCH_PUSH = new Set<number>([Register.RAX, Register.R10, Register.R11]);
/** Prologue instructions: pushes, `sub rsp,imm`, `mov rbp,rsp`, `lea rbp,[rsp+imm]`. */
function isPrologueStep(insn: Instruction): boolean {
  const mn = insn.mnemonic;
  if (mn === Mnemonic.Push) return insn.op0Kind === OpKind.Register;
  if (insn.opCount !== 2 || insn.op0Kind !== OpKind.Register) return false;
  if (mn === Mnemonic.Sub) return insn.op0Register === Register.RSP && insn.op1Kind !== OpKind.Register && insn.op1Kind !== OpKind.Memory;
  if (mn === Mnemonic.Mov) return insn.op0Register === Register.RBP && insn.op1Kind === OpKind.Register && insn.op1Register === Register.RSP;
  return mn === Mnemonic.Lea && insn.op0Register === Register.RBP && insn.memoryBase === Register.RSP && insn.memoryIndex === Register.None;
}

/** Frame offsets of rsp and rbp from the stack pointer at entry (null: not known). */
interface FrameOffsets {
  rsp: number | null;
  rbp: number | null;
}

/**
 * One body's frame, stepped instruction by instruction after added-field.ts `updateHolds`:
 * `holds` (full register -> argument) gains the registers loaded from a slot holding one.
 */
export class FrameSlots {
  private readonly off: FrameOffsets = { rsp: 0, rbp: null };
  /** The offsets before the epilogue now running (restored after its ret or jmp). */
  private epilogue: FrameOffsets | null = null;
  private readonly slots = new Map<number, number>();
  /** Every frame write, [start, end). */
  private readonly writes: Array<readonly [number, number]> = [];
  /** The frame bytes `writes` covers, one entry a byte: `objectEnd` asks each 8 bytes once instead of scanning `writes`. */
  private readonly written = new Set<number>();
  /** Frame objects whose address was handed out, [start, end): see `escapeAt`. Their starts are the addresses taken. */
  private readonly objects: Array<[number, number]> = [];
  /** The objects handed out since the last call: the body may still be initialising them (`escapeAt`). */
  private open: Array<[number, number]> = [];
  private lost = false;
  /**
   * General registers (rax 0 .. r15 15) holding a frame address, as an offset from the stack
   * pointer at entry (`base` none): `lea rsi,[rsp+0x24]`, a copy of it, a constant added. A
   * load or store through one is the frame's access at that offset (clang -Os keeps the
   * arguments whose addresses it hands out there: `mov [rsi],ecx`).
   */
  private readonly addrs = new Map<number, FrameAddress>();
  /**
   * Registers that held a frame address before a return or jump: the next instruction in address
   * order is another block, where they may hold anything. A store through one still counts as a
   * write of that slot and handing one out as its address taken; a load through one is no reload.
   */
  private readonly stale = new Map<number, FrameAddress>();
  /** heldAddresses' union of the two, until either changes. */
  private held: ReadonlyMap<number, FrameAddress> | null = null;
  /** The body sets rbp from rsp (frame-escape.ts setsFramePointer): rbp copied out is the frame's address. */
  private rbpFrame = false;
  /** rbp was copied out before the body was seen setting it from rsp (address order): the frame is lost once it is. */
  private rbpEscaped = false;
  /** Slots some load followed. */
  private readonly followed = new Set<number>();
  /** The immediate `mov eax,imm` set, and how many instructions ago (a stack probe's size). */
  private probe: { size: number; age: number } | null = null;
  /** Still in the prologue (only its steps seen so far). */
  private prologue = true;
  /** The frame access of the instruction stepped last (null: none at a known offset). */
  lastAccess: FrameAccess | null = null;

  constructor(private readonly policy: SlotPolicy) {}

  /** Whether some slot holds an argument now. */
  holdsAny(): boolean {
    return this.slots.size > 0;
  }

  /** The policy a second pass must use, or null when every slot this pass followed was sound. */
  verdict(): SlotPolicy | null {
    if (this.followed.size === 0) return null;
    if (this.lost) return { excluded: new Set(), none: true };
    const excluded = new Set<number>();
    for (const k of this.followed) if (!this.holdsOne(k)) excluded.add(k);
    return excluded.size === 0 ? null : { excluded, none: false };
  }

  /**
   * Whether a callee or a store through a pointer may write the slot at frame offset `k`: the
   * frame's address was lost, or an address less than 8 bytes from `k` was taken (`lea rax,[rbp-0x8]`,
   * the slot itself or an object it may be part of).
   */
  addressTaken(k: number): boolean {
    return this.lost || this.objects.some(([a]) => a > k - 8 && a < k + 8);
  }

  /** Whether the 8 bytes at frame offset `k` were written once by the body stepped and their address never taken (the frame never lost). */
  holdsOne(k: number): boolean {
    if (this.lost) return false;
    const n = this.writes.filter(([s, e]) => s < k + 8 && k < e).length;
    return n === 1 && !this.objects.some(([a]) => a >= k && a < k + 8);
  }

  /**
   * Whether an object whose address the body handed out may span the 8-byte slot at `k` above
   * that address (`escapeAt`): a callee may then have replaced the slot's value although the
   * address it received lies below the slot. Not part of `addressTaken` or `holdsOne`: the
   * object's end is a guess (bytes written beside it may be another variable), so only a reading
   * that errs safely when the guess is wrong uses it (added-field.ts: an old access through such
   * a reload is no proof the old code used that field).
   */
  mayBeSpanned(k: number): boolean {
    return this.spanPosition(k) !== null;
  }

  /**
   * Where the slot at `k` lies in the nearest object that may span it (`mayBeSpanned`): bytes
   * from that object's start, the same in two builds that moved the frame but kept the object
   * and its members (swc-html 1.16.1's 0x92c60 spills arg1 0x30 bytes above its closure's
   * arguments, as 1.15.41's 0x923c0 did, 0x10 bytes higher in the frame). Null: none spans it.
   */
  spanPosition(k: number): number | null {
    let best: number | null = null;
    for (const e of this.objects) if (spans(e, k) && (best === null || k - e[0] < best)) best = k - e[0];
    return best;
  }

  step(insn: Instruction, holds: Map<number, number>): void {
    const mn = insn.mnemonic;
    const probe = this.probe;
    this.probe = null;
    this.lastAccess = null;
    const allocation = this.prologue && mn === Mnemonic.Push && SCRATCH_PUSH.has(insn.op0Register);
    if (this.prologue && !isPrologueStep(insn)) this.prologue = false;
    if (probe !== null && probe.age === 0 && mn === Mnemonic.Call) this.probe = { size: probe.size, age: 1 };
    if (mn === Mnemonic.Mov && insn.op0Kind === OpKind.Register && insn.op0Register === Register.EAX && insn.op1Kind === OpKind.Immediate32) this.probe = { size: insn.immediate32, age: 0 };
    if (setsFramePointer(insn)) {
      this.rbpFrame = true;
      if (this.rbpEscaped) this.lose();
    }
    if (mn === Mnemonic.Ret || mn === Mnemonic.Jmp) return this.afterExit(mn === Mnemonic.Ret);
    const mem = this.memoryAddress(insn);
    const escape = frameEscapeOf(insn, this.heldAddresses());
    if (escape !== null) this.escaped(escape, mem);
    this.staleStore(insn, mem);
    this.trackAddresses(insn);
    if (mn === Mnemonic.Lea) return this.lea(insn, mem);
    if (mn === Mnemonic.Call) {
      this.open = [];
      this.write(this.off.rsp, HOME_AREA);
    } else if (mn === Mnemonic.Push) {
      this.moveRsp(-8);
      if (!allocation) this.write(this.off.rsp, 8);
    }
    if (typeof mem === 'number' && insn.memorySize !== 0) this.lastAccess = { at: mem, size: MemorySizeExt.size(insn.memorySize), write: insn.op0Kind === OpKind.Memory && !READS_MEMORY_OP0.has(mn) };
    if (mem !== undefined && insn.op0Kind === OpKind.Memory && !READS_MEMORY_OP0.has(mn)) this.store(insn, mem, holds);
    else if (mem !== undefined && mem !== null && mn === Mnemonic.Mov && insn.op0Kind === OpKind.Register && insn.memorySize !== 0 && MemorySizeExt.size(insn.memorySize) === 8) {
      const a = this.slots.get(mem);
      if (a !== undefined) {
        holds.set(insn.op0Register, a);
        this.followed.add(mem);
      }
    }
    this.frameRegisterWrite(insn, probe);
  }

  /** The frame offset `insn`'s memory operand addresses, as `step(insn)` will read it (call before it): undefined when it is not on the frame, null when the offset is unknown. */
  memoryAddress(insn: Instruction): number | null | undefined {
    for (let k = 0; k < insn.opCount; k++) {
      if (opKindOf(insn, k) !== OpKind.Memory) continue;
      const b = insn.memoryBase;
      // Through a register holding a frame address: the frame's access (with an index, at an offset not known).
      const via = RegisterExt.isGPR64(b) ? this.addrs.get(b - Register.RAX) : undefined;
      if (via !== undefined) return insn.memoryIndex !== Register.None ? null : via.disp + Number(BigInt.asIntN(64, insn.memoryDisplacement));
      if (!isFrameRegister(b)) return undefined;
      const base = RegisterExt.fullRegister(b) === Register.RSP ? this.off.rsp : this.off.rbp;
      if (RegisterExt.fullRegister(b) !== b) return null;
      if (base === null || insn.memoryIndex !== Register.None) return null;
      return base + Number(BigInt.asIntN(64, insn.memoryDisplacement));
    }
    return undefined;
  }

  /**
   * A frame address `insn` hands out (frame-escape.ts frameEscapeOf; `mem`: its memory operand's
   * frame offset): a slot's address taken, or the frame's own copied out (every slot). rbp copied
   * in a body that never sets it from rsp is a plain register's value (gcc -O2 `mov r13,rbp`).
   */
  private escaped(e: FrameEscapeAt, mem: number | null | undefined): void {
    const plainRbp = e.rbp && !this.rbpFrame && this.off.rbp === null;
    if (e.escape !== 'frame' && e.escape.base === Register.None) this.escapeAt(e.escape.disp);
    else if (e.escape !== 'frame' && typeof mem === 'number') this.escapeAt(mem);
    else if (plainRbp) this.rbpEscaped = true;
    else this.lose();
  }

  /**
   * Records the object whose address at frame offset `a` is handed out: its first 8 bytes, and
   * each next 8 bytes the body wrote before the next call (in address order), as it initialises
   * an object before passing it. The callee may write all of it: probe field-box's `struct box b
   * = {0, r}; reroute(&b)` stores r at +8 (`mov [rsp+0x28],rcx`) and hands out `lea
   * rcx,[rsp+0x20]` only; reroute replaces b.obj, so the reload after the call is another
   * object, not the argument. Bytes first written after that call are another variable. The
   * bytes written before it may be one too (swc-html 1.15.24's 0x2a9df0 spills its arg2 at
   * [rsp+0x118] above spills at 0x100..0x110): hence `mayBeSpanned` only, never `addressTaken`.
   * Not narrowed to the bytes written since the call before the handoff: a member stored before
   * an earlier call is still the object's (probe field-box-call, `b.obj = r; b.tag = tag_of(..);
   * reroute(&b)`: gcc -O0..-Os and clang -O0/-O1 store b.obj before calling tag_of).
   */
  private escapeAt(a: number): void {
    const e: [number, number] = [a, this.objectEnd(a + 8)];
    this.objects.push(e);
    this.open.push(e);
  }

  /** `end` moved past each next 8 bytes the body wrote. */
  private objectEnd(end: number): number {
    while (this.writtenAt(end)) end += 8;
    return end;
  }

  /** Whether the body wrote some byte of the 8 at frame offset `k`. */
  private writtenAt(k: number): boolean {
    for (let b = k; b < k + 8; b++) if (this.written.has(b)) return true;
    return false;
  }

  /** A store through a register in `stale` (not on the frame as far as `mem` knows): a write of the slot it may reach. */
  private staleStore(insn: Instruction, mem: number | null | undefined): void {
    if (this.stale.size === 0 || mem !== undefined || insn.op0Kind !== OpKind.Memory || READS_MEMORY_OP0.has(insn.mnemonic) || insn.memoryIndex !== Register.None) return;
    const a = RegisterExt.isGPR64(insn.memoryBase) ? this.stale.get(insn.memoryBase - Register.RAX) : undefined;
    if (a !== undefined && insn.memorySize !== 0) this.write(a.disp + Number(BigInt.asIntN(64, insn.memoryDisplacement)), MemorySizeExt.size(insn.memorySize));
  }

  /** The registers holding a frame address after `insn` (see `addrs`, `stale`). */
  private trackAddresses(insn: Instruction): void {
    const move = addressMoveOf(insn);
    const from = move === null ? null : move.src === RSP_GPR ? this.off.rsp : move.src === RBP_GPR ? this.off.rbp : (this.addrs.get(move.src)?.disp ?? null);
    if (this.addrs.size > 0 || this.stale.size > 0) {
      const kill = (r: number): void => {
        const [inAddrs, inStale] = [this.addrs.delete(r), this.stale.delete(r)];
        if (inAddrs || inStale) this.held = null;
      };
      if (insn.mnemonic === Mnemonic.Call) for (const r of VOLATILE_REGISTERS) kill(r - Register.RAX);
      withUsedRegisters(insn, (used) => {
        for (const u of used) if (u.access !== OpAccess.Read && u.access !== OpAccess.CondRead && u.access !== OpAccess.None && RegisterExt.isGPR(u.register)) kill(RegisterExt.fullRegister(u.register) - Register.RAX);
      });
    }
    if (move !== null && from !== null) {
      this.addrs.set(move.dst, { base: Register.None, disp: from + move.add });
      this.held = null;
    }
  }

  /** `stale` and `addrs` together (addrs' entry where both have one), as frameEscapeOf reads them: built again only after either changed. */
  private heldAddresses(): ReadonlyMap<number, FrameAddress> {
    if (this.stale.size === 0) return this.addrs;
    return (this.held ??= new Map([...this.stale, ...this.addrs]));
  }

  private lea(insn: Instruction, mem: number | null | undefined): void {
    // A 32-bit lea into ebp or esp leaves no frame address there.
    const dst = RegisterExt.fullRegister(insn.op0Register);
    if (isFrameRegister(dst) && dst !== insn.op0Register) mem = null;
    if (mem === undefined) {
      if (dst === Register.RSP) this.off.rsp = null;
      else if (dst === Register.RBP) this.off.rbp = null;
      return;
    }
    if (dst === Register.RSP) {
      this.epilogue ??= { ...this.off };
      this.off.rsp = mem;
      return;
    }
    this.epilogue = null;
    if (dst === Register.RBP) this.off.rbp = mem;
  }

  private store(insn: Instruction, at: number | null, holds: ReadonlyMap<number, number>): void {
    if (at === null) return this.lose();
    const size = insn.memorySize === 0 ? 0 : MemorySizeExt.size(insn.memorySize);
    if (size === 0) return this.lose();
    this.write(at, size);
    const src = insn.opCount === 2 && insn.op1Kind === OpKind.Register ? insn.op1Register : Register.None;
    const a = insn.mnemonic === Mnemonic.Mov && size === 8 ? holds.get(src) : undefined;
    if (a !== undefined && !this.policy.none && !this.policy.excluded.has(at)) this.slots.set(at, a);
  }

  /** A write of `size` bytes at frame offset `at` (null: unknown): the slots it overlaps no longer hold their argument. */
  private write(at: number | null, size: number): void {
    if (at === null) return this.lose();
    this.writes.push([at, at + size]);
    for (let b = at; b < at + size; b++) this.written.add(b);
    // An open object grows only by a write reaching the 8 bytes past its end.
    for (const e of this.open) if (at < e[1] + 8 && e[1] < at + size) e[1] = this.objectEnd(e[1]);
    for (const k of [...this.slots.keys()]) if (k < at + size && at < k + 8) this.slots.delete(k);
  }

  private lose(): void {
    this.lost = true;
    this.slots.clear();
  }

  private moveRsp(by: number): void {
    if (this.off.rsp !== null) this.off.rsp += by;
  }

  /**
   * After a return or a jump the next instruction in address order is another block: after an
   * epilogue it has the offsets from before it; after a jump in the body the same ones; after
   * a return with no epilogue seen, the same only when nothing was left on the stack.
   */
  private afterExit(ret: boolean): void {
    for (const [r, a] of this.addrs) this.stale.set(r, a);
    this.addrs.clear();
    this.held = null;
    if (this.epilogue !== null) {
      this.off.rsp = this.epilogue.rsp;
      this.off.rbp = this.epilogue.rbp;
    } else if (ret && this.off.rsp !== 0) {
      this.off.rsp = null;
      this.off.rbp = null;
    }
    this.epilogue = null;
  }

  /** Follows the writes of rsp and rbp; notes where an epilogue starts. */
  private frameRegisterWrite(insn: Instruction, probe: { size: number; age: number } | null): void {
    const mn = insn.mnemonic;
    const before = { ...this.off };
    let unwinding = false;
    if (mn === Mnemonic.Pop) {
      this.moveRsp(8);
      unwinding = true;
      if (insn.op0Kind !== OpKind.Register) this.lose();
      else if (insn.op0Register === Register.RBP) this.off.rbp = null;
      else if (insn.op0Register === Register.RSP) this.off.rsp = null;
    } else if (mn === Mnemonic.Leave) {
      this.off.rsp = this.off.rbp === null ? null : this.off.rbp + 8;
      this.off.rbp = null;
      unwinding = true;
    } else if (insn.opCount > 0 && insn.op0Kind === OpKind.Register && isFrameRegister(insn.op0Register) && mn !== Mnemonic.Push && mn !== Mnemonic.Cmp && mn !== Mnemonic.Test) {
      unwinding = this.frameArithmetic(insn, probe);
    } else if (mn === Mnemonic.Call || mn === Mnemonic.Push) return;
    if (unwinding) this.epilogue ??= before;
    else this.epilogue = null;
  }

  /** A write of rsp or rbp by `sub`, `add`, `mov` (lea is handled apart); true when it unwinds the frame. */
  private frameArithmetic(insn: Instruction, probe: { size: number; age: number } | null): boolean {
    const mn = insn.mnemonic;
    const dst = insn.op0Register;
    if (RegisterExt.fullRegister(dst) !== dst) {
      // ebp or esp written as 32 bits (or less): no frame address any more.
      if (RegisterExt.fullRegister(dst) === Register.RSP) this.off.rsp = null;
      else this.off.rbp = null;
      return false;
    }
    const imm = insn.opCount === 2 && insn.op1Kind !== OpKind.Register && insn.op1Kind !== OpKind.Memory ? immediateOf(insn, 1) : null;
    if (dst === Register.RSP && (mn === Mnemonic.Sub || mn === Mnemonic.Add) && imm !== null) {
      this.moveRsp(mn === Mnemonic.Sub ? -imm : imm);
      return mn === Mnemonic.Add;
    }
    if (dst === Register.RSP && mn === Mnemonic.Sub && insn.op1Kind === OpKind.Register && insn.op1Register === Register.RAX && probe !== null && probe.age === 1) {
      this.moveRsp(-probe.size);
      return false;
    }
    const srcReg = insn.opCount === 2 && insn.op1Kind === OpKind.Register ? insn.op1Register : Register.None;
    if (mn === Mnemonic.Mov && dst === Register.RBP && srcReg === Register.RSP) this.off.rbp = this.off.rsp;
    else if (mn === Mnemonic.Mov && dst === Register.RSP && srcReg === Register.RBP) {
      this.off.rsp = this.off.rbp;
      return true;
    } else if (dst === Register.RSP) this.off.rsp = null;
    else this.off.rbp = null;
    return false;
  }
}

/** A body's frame as read in address order (see the head of this module). */
export interface FrameMap {
  /** By RVA, the frame access of each instruction whose memory operand lies at a known frame offset. */
  readonly accesses: ReadonlyMap<number, FrameAccess>;
  /** Whether the 8 bytes at frame offset `k` hold one value throughout the body: written once, their address never taken, the frame's address never lost. */
  holdsOne(k: number): boolean;
}

/** The frame of the body whose instructions `insns` lists in `image` (bytes indexed by RVA). */
export function mapFrame(image: Uint8Array, insns: ReadonlyArray<{ readonly rva: number; readonly length: number }>): FrameMap {
  const frame = new FrameSlots(FOLLOW_ALL);
  const accesses = new Map<number, FrameAccess>();
  const none = new Map<number, number>();
  decodeEach(image, insns, (insn, d) => {
    frame.step(insn, none);
    if (frame.lastAccess !== null) accesses.set(d.rva, frame.lastAccess);
  });
  const memo = new Map<number, boolean>();
  return {
    accesses,
    holdsOne: (k) => {
      let v = memo.get(k);
      if (v === undefined) memo.set(k, (v = frame.holdsOne(k)));
      return v;
    },
  };
}
