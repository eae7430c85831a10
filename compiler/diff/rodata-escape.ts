/**
 * RODATA_ADDRESS_ESCAPED: a read-only object whose contents change is carried as a copy at a
 * new address. When OLD code took the OLD object's address as a value and kept it in memory
 * before the patch (`if (!g) g = &cfg;`), those pointers keep reaching the old object: new
 * code comparing them with `&cfg` sees two objects, and reads through them see the old
 * contents. No single address serves (the old one holds the old bytes), so the functions that
 * need the copy are refused (samples/rodata-escape).
 *
 * Evidence, from OLD code only: a `lea reg, [rip + X]` or `mov reg, imm64` of an address in
 * the OLD object X, followed forward over the function's decoded flow while some register
 * holds it (copies by `mov`, pointers into it by `lea`/`add`/`inc`, an LLVM relative table's
 * `entry + base`; a recovered switch's cases). In the function that took it, it escapes when
 * it is stored to memory not addressed from rsp or rbp (a global, a heap object) or when the
 * flow cannot be followed (an indirect `jmp reg` that is no recovered switch, a jump into another body, an
 * instruction reading it in a way not modelled here, a path longer than the budget).
 * Followed up to DEPTH functions deep, into a direct callee it is passed to in rcx/rdx/r8/r9
 * (tail jumps too) and into the callers of a function that returns it in rax, only a store
 * counts: there, flow the scan cannot follow ends the search (it counted as an escape at
 * first, and refused 58 more functions of ast-grep 0.51.2 -> 0.51.3 and 42 of lcss 1.30.1 ->
 * 1.30.2, nearly all from such give-ups two functions deep). A register that only feeds
 * loads and compares (`[reg+off]`, `cmp`, `test`) does not escape. Not escapes by this rule
 * (compiler/README.md, Known limits): a pointer passed to an import or an indirect call
 * (`jmp [mem]` tail calls too)
 * (printf-like calls receive most string literals: counting them refused 14 hotpatchable
 * sample builds, string-change's and enum-names' among them), stored on the stack, or held
 * in OLD read-only data.
 */
import { Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { DataItem, FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { tableSlots } from './code-tables.ts';
import { reason, type Reason } from './reasons.ts';
import { describeNew, resolveTarget, type ResolveContext } from './resolve-target.ts';
import { opAccessOf, opKindOf, opRegisterOf, VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** Why the OLD object's address escapes: the instruction that took it and what became of it. */
export interface Escape {
  readonly takenAt: number;
  readonly how: string;
}

/** How many functions deep a pointer is followed through calls and returns. */
const DEPTH = 3;
/** Instructions followed per function before the flow counts as not followable. */
const BUDGET = 1500;
const ARGS = [Register.RCX, Register.RDX, Register.R8, Register.R9];
const factory = new InstructionInfoFactory();
const reads = (a: OpAccess): boolean => a === OpAccess.Read || a === OpAccess.CondRead || a === OpAccess.ReadWrite || a === OpAccess.ReadCondWrite;

const cache = new WeakMap<MatchResult, Map<number, Escape | null>>();

/**
 * The check, per NEW function: refuses `f` when a reference of its code goes to a carried
 * copy of a read-only object whose OLD counterpart's address escapes from OLD code. The OLD
 * counterpart: the item the parallel reference of the matched OLD function names (references
 * line up: same count and kind), else the item of the same name.
 */
export function rodataEscapeCheck(ctx: ResolveContext): (f: FunctionInfo) => Reason | null {
  const m = ctx.m;
  return (f) => {
    const o = m.fnNewToOld[f.index]!;
    const orefs = o >= 0 ? m.old.fns.functions[o]!.decoded.refs : [];
    const refs = f.decoded.refs;
    for (let k = 0; k < refs.length; k++) {
      const r = refs[k]!;
      if (r.isBranch) continue;
      const item = m.new.itemAt(r.target);
      if (item === undefined || item.writable || item.jumpTable) continue;
      const res = resolveTarget(ctx, r.target, f, r.accessesTarget, false);
      if (!res.ok || res.target.kind !== 'block') continue;
      const x = oldCounterpartOf(m, item, r, orefs.length === refs.length ? orefs[k] : undefined);
      // Only a change of contents: an item carried for another reason holds OLD's bytes. A
      // table of code pointers (a vtable, an ops struct) is code-tables.ts's: its OLD slots
      // reach the matched functions' redirected entries, and a layout change is refused
      // there (MSVC vtables read as changed on layout shifts alone, through their RTTI).
      if (x === undefined || m.oldNorm.itemKey(x, 'exact') === m.newNorm.itemKey(item, 'exact') || tableSlots(m.old, x).length > 0) continue;
      const e = oldAddressEscape(m, x);
      if (e === null) continue;
      const name = item.name ?? `${item.section} ${hex(x.start)}`;
      return reason('RODATA_ADDRESS_ESCAPED', `read-only object ${name} (OLD ${hex(x.start)}) changed content and its OLD address escapes (OLD code at ${hex(e.takenAt)} takes it; ${e.how}): pointers taken before the patch keep the old object, new code (${describeNew(m, r.insnRva)}) would use a copy`, r.insnRva);
    }
    return null;
  };
}

/** The OLD item new read-only `item` stands for: `parallel`'s target item, else the same name. */
function oldCounterpartOf(m: MatchResult, item: DataItem, r: { readonly kind: string; readonly target: number }, parallel: { readonly kind: string; readonly target: number; readonly isBranch: boolean } | undefined): DataItem | undefined {
  if (parallel !== undefined && parallel.kind === r.kind && !parallel.isBranch) {
    const x = m.old.itemAt(parallel.target);
    if (x !== undefined && !x.writable && parallel.target - x.start === r.target - item.start) return x;
  }
  if (item.name === null) return undefined;
  return m.old.items.find((d) => !d.writable && d.name === item.name);
}

/** Whether the address of OLD read-only item `x` escapes from OLD code (cached per match). */
export function oldAddressEscape(m: MatchResult, x: DataItem): Escape | null {
  let c = cache.get(m);
  if (c === undefined) cache.set(m, (c = new Map()));
  const hit = c.get(x.index);
  if (hit !== undefined) return hit;
  const a = m.old;
  let out: Escape | null = null;
  const tracker = new Tracker(a);
  try {
    for (const [f, at] of takenIn(a).get(x.index) ?? []) {
      const how = tracker.fromTaken(f, at, DEPTH);
      if (how !== null) {
        out = { takenAt: at, how };
        break;
      }
    }
  } finally {
    tracker.free();
  }
  c.set(x.index, out);
  return out;
}

const takenCache = new WeakMap<ImageAnalysis, Map<number, Array<[FunctionInfo, number]>>>();

/** Read-only item index -> the instructions (function, RVA) that take an address in it as a value. */
function takenIn(a: ImageAnalysis): Map<number, Array<[FunctionInfo, number]>> {
  let out = takenCache.get(a);
  if (out !== undefined) return out;
  out = new Map();
  for (const f of a.fns.functions) {
    for (const r of f.decoded.refs) {
      if (r.isBranch || r.accessesTarget || (r.kind !== 'riprel32' && r.kind !== 'abs64')) continue;
      const d = a.itemAt(r.target);
      if (d === undefined || d.writable) continue;
      const list = out.get(d.index) ?? [];
      list.push([f, r.insnRva]);
      out.set(d.index, list);
    }
  }
  takenCache.set(a, out);
  return out;
}

/** What the tracker reads of an image: its bytes by RVA and its discovered functions. */
export interface CodeView {
  readonly img: { readonly image: Uint8Array };
  readonly fns: Pick<ImageAnalysis['fns'], 'functions' | 'byEntry' | 'containing'>;
}

/**
 * Why the address that the `lea`/`mov imm64` at `at` in `f` puts in a register escapes
 * (followed DEPTH functions deep), or null when it only feeds loads and compares.
 */
export function addressEscapes(a: CodeView, f: FunctionInfo, at: number): string | null {
  const t = new Tracker(a);
  try {
    return t.fromTaken(f, at, DEPTH);
  } finally {
    t.free();
  }
}

/** Follows a register holding the address through decoded code. */
class Tracker {
  private readonly insn = new Instruction();
  private callers: Map<number, number[]> | null = null;
  constructor(private readonly a: CodeView) {}

  private decode(rva: number): void {
    const img = this.a.img.image;
    const d = new Decoder(64, img.subarray(rva, Math.min(img.length, rva + 16)), DecoderOptions.None);
    d.ip = BigInt(rva);
    d.decodeOut(this.insn);
    d.free();
  }

  /** From the instruction at `at` that materialises the address (its first operand the register). */
  fromTaken(f: FunctionInfo, at: number, depth: number): string | null {
    this.decode(at);
    const i = this.insn;
    const mn = i.mnemonic;
    if ((mn !== Mnemonic.Lea && mn !== Mnemonic.Mov) || i.op0Kind !== OpKind.Register) return `the address is used by an instruction at ${hex(at)} this analysis does not follow`;
    const reg = RegisterExt.fullRegister(i.op0Register);
    return this.follow(f, at + i.length, [reg], depth, true);
  }

  /**
   * Follows `regs` (holding the address) from `start` in `f`: why it escapes, or null.
   * `strict` (the function that took the address): flow the scan cannot follow counts as an
   * escape. In a callee or caller reached by following (lenient), only a store does: calls
   * the scan does not follow are not escapes either.
   */
  private follow(f: FunctionInfo, start: number, regs: readonly number[], depth: number, strict: boolean): string | null {
    const inFn = new Set<number>(f.decoded.insns.map((d) => d.rva));
    const cases = new Map<number, readonly number[]>(f.decoded.jumpTables.map((t) => [t.jumpRva, t.targets]));
    const lost = (why: string): string | null => (strict ? why : null);
    const work: Array<[number, Set<number>]> = [[start, new Set(regs)]];
    const seen = new Set<string>();
    let steps = 0;
    while (work.length > 0) {
      const [at, held] = work.pop()!;
      if (held.size === 0) continue;
      const key = `${at}:${[...held].sort().join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (!inFn.has(at)) return lost(`the flow leaves the decoded code at ${hex(at)} while a register holds it`);
      if (++steps > BUDGET) return lost(`its flow is too long to follow`);
      this.decode(at);
      const i = this.insn;
      // Read before step: following a call re-decodes into the same instruction.
      const next = at + i.length;
      const flow = i.flowControl;
      const t = i.opCount > 0 && i.op0Kind === OpKind.NearBranch64 ? Number(i.nearBranchTarget) : -1;
      const memTail = i.opCount > 0 && i.op0Kind === OpKind.Memory;
      const why = this.step(f, at, held, depth, strict);
      if (why !== null) return why;
      if (flow === FlowControl.Return || flow === FlowControl.Exception || flow === FlowControl.Interrupt) continue;
      if (flow === FlowControl.IndirectBranch) {
        // A recovered switch: its cases.
        const targets = cases.get(at);
        // `jmp [reg+disp]` / `jmp [rip+x]`: an indirect tail call (a trait or vtable method),
        // which is no escape here, as an indirect call is not.
        if (targets === undefined && memTail) continue;
        if (targets === undefined) return lost(`an indirect jump at ${hex(at)} while a register holds it`);
        for (const c of targets) work.push([c, new Set(held)]);
        continue;
      }
      if (flow === FlowControl.UnconditionalBranch || flow === FlowControl.ConditionalBranch) {
        if (t < 0) return lost(`a branch at ${hex(at)} this analysis does not follow`);
        if (!inFn.has(t)) {
          const why = flow === FlowControl.UnconditionalBranch ? this.tailJump(t, held, at, depth, strict) : lost(`a jump out of the function at ${hex(at)} while a register holds it`);
          if (why !== null) return why;
          continue;
        }
        work.push([t, new Set(held)]);
        if (flow === FlowControl.UnconditionalBranch) continue;
      }
      work.push([next, held]);
    }
    return null;
  }

  /** Applies the instruction decoded at `at` to `held`: why the address escapes there, or null. */
  private step(f: FunctionInfo, at: number, held: Set<number>, depth: number, strict: boolean): string | null {
    const i = this.insn;
    const mn = i.mnemonic;
    const flow = i.flowControl;
    if (flow === FlowControl.Call || flow === FlowControl.IndirectCall) {
      const passed = ARGS.filter((r) => held.has(r));
      if (passed.length > 0 && flow === FlowControl.Call && i.op0Kind === OpKind.NearBranch64) {
        const callee = this.a.fns.byEntry.get(Number(i.nearBranchTarget));
        if (callee !== undefined && depth > 1) {
          const why = this.follow(callee, callee.entry, passed, depth - 1, false);
          if (why !== null) return `it is passed at ${hex(at)} to ${callee.name ?? hex(callee.entry)}, where ${why}`;
        }
      }
      for (const r of VOLATILE_REGISTERS) held.delete(r);
      return null;
    }
    if (flow === FlowControl.Return) return held.has(Register.RAX) ? this.returned(f, depth) : null;
    const ops = i.opCount;
    const regAt = (k: number): number => (opKindOf(i, k) === OpKind.Register ? RegisterExt.fullRegister(opRegisterOf(i, k)) : -1);
    const mem = (() => {
      for (let k = 0; k < ops; k++) if (opKindOf(i, k) === OpKind.Memory) return k;
      return -1;
    })();
    const dst = ops > 0 ? regAt(0) : -1;
    // A copy (mov r64, r64), or a pointer into the object (lea r, [held + disp], add/sub r, imm).
    const src = ops === 2 ? regAt(1) : -1;
    if (mn === Mnemonic.Mov && dst >= 0 && src >= 0 && held.has(src) && i.op0Register === dst) {
      held.add(dst);
      return null;
    }
    if (mn === Mnemonic.Lea && dst >= 0 && held.has(RegisterExt.fullRegister(i.memoryBase)) && i.memoryIndex === Register.None) {
      held.add(dst);
      return null;
    }
    if ((mn === Mnemonic.Add || mn === Mnemonic.Sub) && dst >= 0 && held.has(dst) && ops === 2 && i.op1Kind !== OpKind.Register && i.op1Kind !== OpKind.Memory) return null;
    if ((mn === Mnemonic.Inc || mn === Mnemonic.Dec) && dst >= 0 && held.has(dst) && i.op0Register === dst) return null;
    // `add r, held` (an LLVM relative table: entry + base): r is counted as holding it too.
    if (mn === Mnemonic.Add && dst >= 0 && src >= 0 && held.has(src) && i.op0Register === dst) {
      held.add(dst);
      return null;
    }
    const info = factory.info(i);
    let why: string | null = null;
    const written: number[] = [];
    for (const u of info.usedRegisters()) {
      const r = RegisterExt.fullRegister(u.register);
      const acc = u.access;
      if (acc === OpAccess.Write || acc === OpAccess.ReadWrite) written.push(r);
      if (!held.has(r) || !reads(acc)) continue;
      // As a memory operand's base or index: a load or store through it, not the value itself.
      const asAddress = mem >= 0 && (RegisterExt.fullRegister(i.memoryBase) === r || RegisterExt.fullRegister(i.memoryIndex) === r);
      const asOperand = [...Array(ops).keys()].some((k) => regAt(k) === r && reads(opAccessOf(info, k)));
      if (asAddress && !asOperand) continue;
      if ((mn === Mnemonic.Cmp || mn === Mnemonic.Test) && asOperand) continue;
      if (mem === 0 && asOperand) {
        const base = i.memoryBase;
        if (base === Register.RSP || base === Register.RBP) continue;
        why = `it is stored to memory at ${hex(at)}`;
      } else if (strict) why = `an instruction at ${hex(at)} uses it in a way this analysis does not follow`;
      else {
        // Lenient: the value goes where the scan does not follow; stop following it.
        held.clear();
        break;
      }
      break;
    }
    info.free();
    if (why !== null) return why;
    for (const r of written) held.delete(r);
    return null;
  }

  /**
   * A jump out of the function at `at` to `t` while `held` hold the address: a tail call of a
   * discovered function is followed as a call (the argument registers); one through an import
   * thunk (code no function owns) is an import call; a jump into another function's body
   * cannot be followed.
   */
  private tailJump(t: number, held: ReadonlySet<number>, at: number, depth: number, strict: boolean): string | null {
    const callee = this.a.fns.byEntry.get(t);
    if (callee === undefined) return this.a.fns.containing(t) === undefined || !strict ? null : `a jump into another function at ${hex(at)} while a register holds it`;
    const passed = ARGS.filter((r) => held.has(r));
    if (passed.length === 0 || depth <= 1) return null;
    const why = this.follow(callee, callee.entry, passed, depth - 1, false);
    return why === null ? null : `it is passed at ${hex(at)} to ${callee.name ?? hex(callee.entry)}, where ${why}`;
  }

  /** `f` returns the address: does a caller (a direct call of its entry) let it escape? */
  private returned(f: FunctionInfo, depth: number): string | null {
    if (depth <= 1) return null;
    if (this.callers === null) {
      this.callers = new Map();
      for (const g of this.a.fns.functions) {
        for (const r of g.decoded.refs) {
          if (!r.isCall) continue;
          const list = this.callers.get(r.target) ?? [];
          list.push(g.index, r.insnEnd);
          this.callers.set(r.target, list);
        }
      }
    }
    const list = this.callers.get(f.entry) ?? [];
    for (let k = 0; k < list.length; k += 2) {
      const g = this.a.fns.functions[list[k]!]!;
      const why = this.follow(g, list[k + 1]!, [Register.RAX], depth - 1, false);
      if (why !== null) return `it is returned by ${f.name ?? hex(f.entry)} to ${g.name ?? hex(g.entry)}, where ${why}`;
    }
    return null;
  }

  free(): void {
    this.insn.free();
  }
}
