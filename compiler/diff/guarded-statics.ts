/**
 * Guarded initialisation of function-local statics with a dynamic initialiser: the code
 * between the two runtime calls that take the static's guard runs at most once per process.
 *
 *   Itanium C++ ABI (mingw GCC and clang):      MSVC (thread-safe statics):
 *     test byte [guard]; je slow  (inline)        mov eax, [guard]; cmp eax, [epoch]; jle
 *     slow: lea rcx, [guard]                      lea rcx, [guard]
 *           call __cxa_guard_acquire              call _Init_thread_header
 *           test eax, eax; je done                cmp dword [guard], -1; jne done
 *           ... the initialiser ...               ... the initialiser ...
 *           lea rcx, [guard]                      lea rcx, [guard]
 *           call __cxa_guard_release              call _Init_thread_footer
 *
 * Stripped, with the C++ runtime linked statically, neither runtime function has a name; the
 * shape is what identifies the region: a writable address the function reads inline and
 * passes in rcx (directly, or through a register it was copied to) to a call whose result is
 * checked at once (`test eax, eax` within three instructions, or the guard compared with -1)
 * and branched on (`je`/`jne`). The region is what control flow reaches from the
 * initialising side of that branch up to a call passing the same guard to another callee
 * (the release); no such call reached, no region. GLib's `g_once_init_enter` /
 * `g_once_init_leave` (G_DEFINE_TYPE's type registration) has the same shape and the same
 * meaning, and is recognised alike (libvips). The direct calls and jumps in the region are
 * the initialiser's: once the guard is set they never run again, so a function only they
 * reach keeps, in a running process, whatever the old code built (load-time-only.ts treats
 * them as roots). A region wrongly recognised can only add refusals, never lift one; the
 * region follows control flow, not addresses, since compilers put the initialiser out of
 * line (gcc: after the function's hot path).
 */
import { Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register, RegisterExt } from 'iced-x86';
import type { Rva } from '../../common/types.ts';
import type { DecodedInsn, FunctionInfo } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import { VOLATILE_REGISTERS } from '../disasm/operands.ts';

/** One guarded initialisation: the guard, the function holding it, and the calls and jumps inside it. */
export interface GuardedRegion {
  readonly guard: number;
  readonly owner: number;
  /** Instruction RVAs of the direct calls and jumps between the two guard calls. */
  readonly sites: readonly Rva[];
}

/** Registers a call may overwrite (Microsoft x64: volatile general-purpose registers). */

/** Writable addresses `f` both reads or writes inline and takes the address of: guard candidates. */
function guardCandidates(a: ImageAnalysis, f: FunctionInfo): Set<number> {
  const accessed = new Set<number>();
  const addressed = new Set<number>();
  for (const r of f.decoded.refs) {
    if (r.isBranch || r.size !== 4) continue;
    const item = a.itemAt(r.target);
    if (item === undefined || !item.writable) continue;
    (r.accessesTarget ? accessed : addressed).add(r.target);
  }
  for (const g of addressed) if (!accessed.has(g)) addressed.delete(g);
  return addressed;
}

/** A call of `f` that receives a guard candidate in rcx. */
interface GuardCall {
  readonly rva: number;
  readonly end: number;
  /** The callee's entry, or the IAT slot an indirect call goes through. */
  readonly callee: number;
  readonly guard: number;
  /**
   * Where the path that initialises the static continues, when a check of the call follows it
   * (`test eax, eax` / `test al, al` on the result, or MSVC's `cmp dword [guard], -1`) and
   * then `je`/`jne`; otherwise null.
   */
  init: number | null;
}

/** Whether `insn` checks what a guard-acquiring call returned, or the guard `g` it set (MSVC: -1 while being initialised). */
export function checksAcquire(insn: Instruction, g: number): 'result' | 'guard' | null {
  if (insn.mnemonic === Mnemonic.Test) {
    const same = insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && insn.op0Register === insn.op1Register;
    return same && (insn.op0Register === Register.EAX || insn.op0Register === Register.AL) ? 'result' : null;
  }
  if (insn.mnemonic !== Mnemonic.Cmp || insn.op0Kind !== OpKind.Memory || !insn.isIpRelMemoryOperand || Number(insn.ipRelMemoryAddress) !== g) return null;
  const k = insn.op1Kind;
  return (k === OpKind.Immediate8to32 || k === OpKind.Immediate32) && insn.immediate(1) === 0xffff_ffff_ffff_ffffn ? 'guard' : null;
}

/** The calls of `f` that receive a guard candidate in rcx, in address order. */
function guardCalls(a: ImageAnalysis, f: FunctionInfo, candidates: ReadonlySet<number>): GuardCall[] {
  const insns = [...f.decoded.insns].sort((x, y) => x.rva - y.rva);
  const out: GuardCall[] = [];
  if (insns.length === 0) return out;
  const lo = insns[0]!.rva;
  const hi = Math.max(...insns.map((d) => d.rva + d.length));
  const holds = new Map<number, number>();
  let pending: GuardCall | null = null;
  let check: 'result' | 'guard' | null = null;
  let since = 0;
  const insn = new Instruction();
  // Decodes from a copy of the function's extent only (the decoder copies what it is given).
  const decoder = new Decoder(64, a.img.image.subarray(lo, hi), DecoderOptions.None);
  try {
    for (const d of insns) {
      decoder.position = d.rva - lo;
      decoder.ip = BigInt(d.rva);
      decoder.decodeOut(insn);
      // The check may come a few instructions after the call (clang moves a register first),
      // before any branch and any write to rax; the conditional jump right after it.
      if (pending !== null) {
        const mn = insn.mnemonic;
        if (check !== null) {
          const jcc = mn === Mnemonic.Je || mn === Mnemonic.Jne;
          const taken = jcc && insn.op0Kind === OpKind.NearBranch64 ? Number(insn.nearBranch64) : -1;
          // test eax: a non-zero result initialises; cmp [guard], -1: an equal guard does.
          const initIfEqual = check === 'guard';
          if (mn === Mnemonic.Je && taken >= 0) pending.init = initIfEqual ? taken : d.rva + d.length;
          else if (mn === Mnemonic.Jne && taken >= 0) pending.init = initIfEqual ? d.rva + d.length : taken;
          pending = null;
        } else {
          check = checksAcquire(insn, pending.guard);
          const writesRax = insn.opCount > 0 && insn.op0Kind === OpKind.Register && RegisterExt.fullRegister(insn.op0Register) === Register.RAX;
          if (check === null && (++since > 3 || insn.flowControl !== FlowControl.Next || writesRax)) pending = null;
        }
      }
      const mn = insn.mnemonic;
      if (mn === Mnemonic.Call) {
        const g = holds.get(Register.RCX);
        const near = insn.op0Kind === OpKind.NearBranch64;
        const callee = near ? Number(insn.nearBranch64) : insn.isIpRelMemoryOperand ? Number(insn.ipRelMemoryAddress) : -1;
        if (g !== undefined && callee >= 0) {
          pending = { rva: d.rva, end: d.rva + d.length, callee, guard: g, init: null };
          since = 0;
          check = null;
          out.push(pending);
        }
        for (const r of VOLATILE_REGISTERS) holds.delete(r);
        continue;
      }
      if (insn.opCount === 0 || insn.op0Kind !== OpKind.Register) continue;
      const dst = RegisterExt.fullRegister(insn.op0Register);
      if (mn === Mnemonic.Lea && insn.isIpRelMemoryOperand && candidates.has(Number(insn.ipRelMemoryAddress)) && insn.op0Register === dst) {
        holds.set(dst, Number(insn.ipRelMemoryAddress));
      } else if (mn === Mnemonic.Mov && insn.opCount === 2 && insn.op1Kind === OpKind.Register && insn.op0Register === dst && holds.has(insn.op1Register)) {
        holds.set(dst, holds.get(insn.op1Register)!);
      } else if (mn !== Mnemonic.Cmp && mn !== Mnemonic.Test && mn !== Mnemonic.Push) {
        holds.delete(dst);
      }
    }
  } finally {
    insn.free();
    decoder.free();
  }
  return out;
}

/** The instructions after `d` in control flow, inside `f` (jump tables included; calls fall through). */
function successors(f: FunctionInfo, d: DecodedInsn): number[] {
  const end = d.rva + d.length;
  const targets = f.decoded.refs.slice(d.refIndex, d.refIndex + d.refCount).filter((r) => r.isBranch && !r.isCall).map((r) => r.target);
  switch (d.flow) {
    case FlowControl.UnconditionalBranch:
      return targets;
    case FlowControl.ConditionalBranch:
      return [end, ...targets];
    case FlowControl.IndirectBranch:
      return f.decoded.jumpTables.filter((t) => t.jumpRva === d.rva).flatMap((t) => [...t.targets]);
    case FlowControl.Return:
    case FlowControl.Interrupt:
    case FlowControl.Exception:
      return [];
    default:
      return [end];
  }
}

/**
 * The direct calls and jumps on the initialising path of `open`: every instruction reachable
 * from its `init` successor up to (not through) a call that passes the same guard to another
 * callee, which closes the region. Null when no path reaches a closing call.
 */
function regionSites(f: FunctionInfo, open: GuardCall, calls: ReadonlyMap<number, GuardCall>, byRva: ReadonlyMap<number, DecodedInsn>): Rva[] | null {
  if (open.init === null) return null;
  const seen = new Set<number>([open.rva]);
  const work = [open.init];
  let closed = false;
  const sites: Rva[] = [];
  while (work.length > 0) {
    const rva = work.pop()!;
    const d = byRva.get(rva);
    if (d === undefined || seen.has(rva)) continue;
    seen.add(rva);
    const c = calls.get(rva);
    if (c !== undefined && c.guard === open.guard && c.callee !== open.callee) {
      closed = true;
      continue;
    }
    if (f.decoded.refs.slice(d.refIndex, d.refIndex + d.refCount).some((r) => r.isBranch)) sites.push(d.rva);
    work.push(...successors(f, d));
  }
  return closed ? sites : null;
}

/** Every guarded initialisation region of an image's functions. */
export function findGuardedRegions(a: ImageAnalysis): GuardedRegion[] {
  const out: GuardedRegion[] = [];
  for (const f of a.fns.functions) {
    const candidates = guardCandidates(a, f);
    if (candidates.size === 0) continue;
    const calls = guardCalls(a, f, candidates);
    if (calls.length < 2) continue;
    const byRva = new Map<number, DecodedInsn>(f.decoded.insns.map((d) => [d.rva, d]));
    const callAt = new Map(calls.map((c) => [c.rva, c]));
    for (const open of calls) {
      const sites = regionSites(f, open, callAt, byRva);
      if (sites !== null) out.push({ guard: open.guard, owner: f.index, sites });
    }
  }
  return out;
}
