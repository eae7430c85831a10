/**
 * Old callers that keep volatile registers across a call the patch changes. GCC at -O2
 * (-fipa-ra) compiles a callee before its callers and lets them keep values in the volatile
 * registers it never writes (rcx, rdx, r8-r11, xmm0-5, and rax when it returns nothing):
 * sample ipra-clobber's old `total` keeps its loop counter in edx and its sum in r8d across
 * `call mix`. A package redirects mix to a new body that writes edx and r8d; a thread inside
 * old total at patch time (a worker in its loop) keeps running old total, and its next
 * `call mix` reaches the new mix: the counter is lost and the loop never ends (seen live
 * under Wine before this rule). The same holds for any old code the package leaves active
 * (unchanged callers, refused changes left old by --skip-refused) for ever. Linux livepatch
 * builds with -fno-ipa-ra for this reason; a hotpatch of shipped binaries cannot choose.
 *
 * The check, for every direct call in OLD code to a function W whose clobbers grow once
 * patched (call-graph-clobbers.ts: PATCHED minus OLD, both transitive): which of the grown
 * registers the caller reads after the call before writing them, on any path
 * (`Liveness.after`: a forward search over the caller's decoded instructions; a later direct
 * call reads what its callee reads before writing, ARG_REGS at most, and ends what the callee
 * clobbers in OLD; an indirect call reads the argument registers in GCC images (none in MSVC
 * ones) and ends all; a return reads rax and xmm0 where the function touches them; a jump out
 * of the function is a tail call). Any such register refuses
 * the changed functions whose new bodies bring it (CALLER_REGISTERS_CLOBBERED, naming the
 * caller, the call site, the registers and the callee). A return value read after the call
 * is in the old clobber set too (the callee writes it), so it never counts. MSVC does the
 * same as GCC for static leaf functions under whole-program optimisation (7za 5.1.1 -> 5.2.0:
 * old 0x19dc keeps r8-r11 across its call to 0x199c, the new 0x1928 writes r8); LLVM does
 * not, so LLVM-laid-out images are left out (keepingToolchain).
 *
 * Not covered: the reverse direction (NEW code that keeps a register across a call into an
 * OLD body left active that clobbers more than NEW's counterpart: a refused callee behind an
 * unchanged one, --skip-refused only). The way to patch instead of refusing is a saving thunk
 * (compiler/README.md, "Old callers and volatile registers").
 */
import { FlowControl } from 'iced-x86';
import { hex } from '../../common/types.ts';
import type { FunctionInfo, FunctionTable } from '../image/types.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import type { MatchResult } from '../match/match-images.ts';
import { calleesOf, ClobberSets, functionAt, type Callees } from './call-graph-clobbers.ts';
import { reason, type Reason } from './reasons.ts';
import { ALL_VOLATILE, ARG_REGS, regNames, RegisterEffects, RETURN_REGS, type ImageEffects } from './register-effects.ts';
import type { FunctionStatus } from './types.ts';

/** One old call site whose caller loses registers to a new body. */
export interface ClobberedCall {
  /** OLD: the caller, the call instruction, the callee. */
  readonly caller: FunctionInfo;
  readonly site: number;
  readonly callee: FunctionInfo;
  /** Volatile registers the caller reads after the call that the patched callee newly clobbers. */
  readonly kept: number;
  /** NEW: the changed function whose new body brings them, and which of them it clobbers. */
  readonly culprit: FunctionInfo;
  readonly clobbers: number;
  /** The culprit is the callee's own new counterpart. */
  readonly same: boolean;
  /** Which toolchain laid out OLD (keepingToolchain), for the message. */
  readonly toolchain: 'gcc' | 'msvc';
}

const nameOf = (f: FunctionInfo): string => f.name ?? hex(f.entry);

/** The CALLER_REGISTERS_CLOBBERED reason of a clobbered call. */
export function describeClobberedCall(c: ClobberedCall): Reason {
  const via = c.same ? '' : `, which reaches the new ${nameOf(c.culprit)}`;
  const msg =
    `old ${nameOf(c.caller)} keeps ${regNames(c.kept)} across its call to ${nameOf(c.callee)} at ${hex(c.site)}${via}; ` +
    `the new ${nameOf(c.culprit)} clobbers ${regNames(c.clobbers)} (${c.toolchain === 'gcc' ? 'GCC interprocedural register allocation' : 'MSVC custom calling convention'}): a thread inside old ${nameOf(c.caller)}, ` +
    `or old code left active, would lose them`;
  return reason('CALLER_REGISTERS_CLOBBERED', msg, c.culprit.entry);
}

/**
 * The volatile registers the caller at `callerEntry` reads after its call at `site` before
 * writing them (what it keeps across the call, and the callee's return value), in one image.
 */
export function keptAcrossCall(a: ImageAnalysis, callerEntry: number, site: number): number {
  const caller = a.fns.byEntry.get(callerEntry);
  const d = caller?.decoded.insns.find((x) => x.rva === site);
  if (caller === undefined || d === undefined) return 0;
  const fx = new RegisterEffects(a.img.image);
  const clob = new ClobberSets({ own: (i) => fx.ownWrites(a.fns.functions[i]!), succ: (i) => calleesOf(a.fns, a.fns.functions[i]!) });
  return new Liveness(a.fns, fx, (i) => clob.get(i), keepingToolchain(a.img.image) === 'gcc' ? ARG_REGS : 0).after(caller, d.rva + d.length, ALL_VOLATILE);
}

/** Every clobbered old call site of a diff (empty when no matched function changed). */
export function findClobberedCalls(m: MatchResult, status: readonly FunctionStatus[], fx: ImageEffects = { old: new RegisterEffects(m.old.img.image), new: new RegisterEffects(m.new.img.image) }): ClobberedCall[] {
  const oldFns = m.old.fns.functions;
  const newFns = m.new.fns.functions;
  const nOld = oldFns.length;
  const newOf = (i: number): number => {
    const n = m.fnOldToNew[i]!;
    return n >= 0 && status[n] === 'changed' ? n : -1;
  };
  if (!oldFns.some((f) => newOf(f.index) >= 0)) return [];
  const toolchain = keepingToolchain(m.old.img.image);
  if (toolchain === 'llvm') return [];
  const oldFx = fx.old;
  const newFx = fx.new;
  const memo = <T>(fn: (k: number) => T): ((k: number) => T) => {
    const c = new Map<number, T>();
    return (k) => {
      let v = c.get(k);
      if (v === undefined) c.set(k, (v = fn(k)));
      return v;
    };
  };
  const oldCallees = memo((i) => calleesOf(m.old.fns, oldFns[i]!));
  const newCallees = memo((j) => calleesOf(m.new.fns, newFns[j]!));
  const clobOld = new ClobberSets({ own: (i) => oldFx.ownWrites(oldFns[i]!), succ: oldCallees });
  // PATCHED nodes: old functions (both bodies when changed), then added NEW functions (nOld + j).
  const inPatched = (j: number): number => (m.fnNewToOld[j]! >= 0 ? m.fnNewToOld[j]! : nOld + j);
  const newSucc = (j: number): Callees => ({ fns: newCallees(j).fns.map(inPatched), unknown: newCallees(j).unknown });
  const clobPatched = new ClobberSets({
    own: (x) => (x >= nOld ? newFx.ownWrites(newFns[x - nOld]!) : oldFx.ownWrites(oldFns[x]!) | (newOf(x) >= 0 ? newFx.ownWrites(newFns[newOf(x)]!) : 0)),
    succ: memo((x) => {
      if (x >= nOld) return newSucc(x - nOld);
      const a = oldCallees(x);
      const n = newOf(x);
      if (n < 0) return a;
      const b = newSucc(n);
      return { fns: [...a.fns, ...b.fns], unknown: a.unknown || b.unknown };
    }),
  });
  // What a changed function's new body clobbers once patched (for naming the culprit).
  const newBodyClobbers = (j: number): number => {
    const s = newSucc(j);
    let v = s.unknown ? ALL_VOLATILE : newFx.ownWrites(newFns[j]!);
    for (const x of s.fns) v |= clobPatched.get(x);
    return v;
  };
  const affected = reachingChanged(nOld, oldCallees, (i) => newOf(i) >= 0);
  const live = new Liveness(m.old.fns, oldFx, (i) => clobOld.get(i), toolchain === 'gcc' ? ARG_REGS : 0);
  const out: ClobberedCall[] = [];
  for (const caller of oldFns) {
    for (const d of caller.decoded.insns) {
      if (d.flow !== FlowControl.Call) continue;
      const w = directCallee(m, caller, d.refIndex, d.refCount);
      if (w === undefined || !affected.has(w.index)) continue;
      const grown = clobPatched.get(w.index) & ~clobOld.get(w.index);
      if (grown === 0) continue;
      const kept = live.after(caller, d.rva + d.length, grown);
      if (kept === 0) continue;
      for (const i of closureOf(w.index, (x) => clobPatchedSucc(x, nOld, oldCallees, newOf, newSucc))) {
        // Added functions bring nothing by themselves: the changed function calling them does.
        const n = i < nOld ? newOf(i) : -1;
        if (n < 0) continue;
        const brings = newBodyClobbers(n) & kept & ~clobOld.get(i);
        if (brings !== 0) out.push({ caller, site: d.rva, callee: w, kept, culprit: newFns[n]!, clobbers: brings, same: i === w.index, toolchain });
      }
    }
  }
  return out;
}

/** The PATCHED successors of node `x` (as clobPatched's graph). */
function clobPatchedSucc(x: number, nOld: number, oldCallees: (i: number) => Callees, newOf: (i: number) => number, newSucc: (j: number) => Callees): readonly number[] {
  if (x >= nOld) return newSucc(x - nOld).fns;
  const n = newOf(x);
  return n < 0 ? oldCallees(x).fns : [...oldCallees(x).fns, ...newSucc(n).fns];
}

/** Nodes reachable from `x` (itself included). */
function closureOf(x: number, succ: (y: number) => readonly number[]): number[] {
  const seen = new Set<number>([x]);
  const stack = [x];
  while (stack.length > 0) for (const s of succ(stack.pop()!)) if (!seen.has(s)) (seen.add(s), stack.push(s));
  return [...seen];
}

/** Old functions that are changed or reach a changed one through direct calls and jumps. */
function reachingChanged(nOld: number, callees: (i: number) => Callees, changed: (i: number) => boolean): Set<number> {
  const callers = new Map<number, number[]>();
  const out = new Set<number>();
  for (let i = 0; i < nOld; i++) {
    if (changed(i)) out.add(i);
    for (const c of callees(i).fns) {
      const l = callers.get(c);
      if (l === undefined) callers.set(c, [i]);
      else l.push(i);
    }
  }
  const stack = [...out];
  while (stack.length > 0) for (const c of callers.get(stack.pop()!) ?? []) if (!out.has(c)) (out.add(c), stack.push(c));
  return out;
}

/** The function a direct call instruction (its references) calls, at its entry, or undefined. */
function directCallee(m: MatchResult, caller: FunctionInfo, refIndex: number, refCount: number): FunctionInfo | undefined {
  for (let k = refIndex; k < refIndex + refCount; k++) {
    const r = caller.decoded.refs[k]!;
    if (r.isCall && r.kind === 'rel32') return m.old.fns.byEntry.get(r.target);
  }
  return undefined;
}

/** How deep the search follows calls into callees (each level a callee's entry search). */
const MAX_DEPTH = 48;

/**
 * Which toolchain laid out the image, as far as keeping registers across calls goes:
 * - `gcc`: GCC writes its ident (`GCC: (GNU) 13-win32`) into read-only data for every object
 *   it compiles, mingw-w64's startup objects included (so the samples' clang builds, linked
 *   against them, count too). GCC keeps values in any volatile register a local callee leaves
 *   alone, arguments of later calls included: a call this analysis cannot follow (an import,
 *   a pointer) reads every argument register.
 * - `msvc`: a Rich header (MSVC's link.exe writes it; GNU ld and lld do not). MSVC's
 *   whole-program optimisation gives static leaf functions custom conventions: 7za 5.1.1's
 *   0x19dc keeps r8-r11 across its call to 0x199c. An import or a pointer gets the standard
 *   convention, so a call this analysis cannot follow is taken to read none of them (the
 *   watcher builds pass rdx to imports only after setting it).
 * - `llvm`: neither (llvm-mingw, Rust, clang-cl with lld-link). LLVM keeps no volatile register
 *   across a call (its interprocedural register allocation is off unless asked for with
 *   -enable-ipra): a register read after a call before any write holds an undefined value
 *   (libvips 0.34.4 stores r10 to its frame at a join where one path left it undefined), so
 *   the rule refuses nothing there.
 */
export function keepingToolchain(image: Uint8Array): 'gcc' | 'msvc' | 'llvm' {
  if (find(image, [0x47, 0x43, 0x43, 0x3a, 0x20, 0x28], 0, image.length)) return 'gcc'; // "GCC: ("
  const peAt = image.length >= 0x40 ? (image[0x3c]! | (image[0x3d]! << 8) | (image[0x3e]! << 16)) : 0;
  return find(image, [0x52, 0x69, 0x63, 0x68], 0x40, Math.min(peAt, image.length)) ? 'msvc' : 'llvm'; // "Rich"
}

/** Whether `needle` occurs in image[from, to). */
function find(image: Uint8Array, needle: readonly number[], from: number, to: number): boolean {
  for (let i = image.indexOf(needle[0]!, from); i >= 0 && i + needle.length <= to; i = image.indexOf(needle[0]!, i + 1)) {
    let k = 1;
    while (k < needle.length && image[i + k] === needle[k]) k++;
    if (k === needle.length) return true;
  }
  return false;
}

/** Read-before-write searches over one image's code (OLD's, for the rule). */
export class Liveness {
  private readonly liveIn = new Map<number, number>();
  private readonly retRegs = new Map<number, number>();
  constructor(
    private readonly fns: FunctionTable,
    private readonly fx: RegisterEffects,
    private readonly clobbers: (i: number) => number,
    /** What a call this analysis cannot follow (an import, a pointer) reads (see keepingToolchain). */
    private readonly unknownReads: number,
    /** What a call to `g` reads when not its own code's live-in (entry-arguments.ts: a changed callee's new body), else undefined. */
    private readonly readsOf: (g: FunctionInfo) => number | undefined = () => undefined,
    /**
     * What a call reads when its callee is still being searched (a recursion) or lies past
     * MAX_DEPTH: every argument register for this rule (a register kept is the unsafe side),
     * nothing for entry-arguments.ts (a recursion reads what its body reads anyway, and there
     * a read assumed is the refusing side: with every argument register here, libvips 0.34.4 ->
     * 0.34.5 had 128 functions "reading" xmm1-3, all through a recursive or too-deep callee).
     */
    private readonly unresolved: number = ARG_REGS,
  ) {}

  /** The argument registers a call to `g` reads (what its callers must pass). */
  entryReads(g: FunctionInfo): number {
    return this.reads(g, 0);
  }

  /** Which of `want` the code of `f` from `start` on reads before writing, on any path. */
  after(f: FunctionInfo, start: number, want: number, depth = 0, entry = false): number {
    // From a callee's entry (what its caller passes), a return hands nothing back that counts:
    // a register it returns untouched is one it may clobber on another path, so callers do
    // not keep it.
    const returns = entry ? 0 : this.returns(f);
    const fx = this.fx.of(f);
    const tables = new Map<number, readonly number[]>(f.decoded.jumpTables.map((t) => [t.jumpRva, t.targets]));
    const seen = new Map<number, number>();
    let live = 0;
    const stack: Array<readonly [number, number]> = [[start, want]];
    while (stack.length > 0) {
      let [rva, u] = stack.pop()!;
      for (;;) {
        const prev = seen.get(rva) ?? 0;
        u &= ~live & ~prev;
        const e = fx.get(rva);
        // Nothing left to learn, or off the decoded code (after a call that does not return).
        if (u === 0 || e === undefined) break;
        seen.set(rva, prev | u);
        live |= u & e.reads;
        u &= ~e.kills;
        const fl = e.flow;
        if (fl === FlowControl.Call || fl === FlowControl.IndirectCall) {
          const g = fl === FlowControl.Call && e.target >= 0 ? this.fns.byEntry.get(e.target) : undefined;
          live |= u & (g === undefined ? this.unknownReads : this.reads(g, depth));
          u &= g === undefined ? 0 : ~this.clobbers(g.index);
        } else if (fl === FlowControl.Return) {
          live |= u & returns;
          break;
        } else if (fl === FlowControl.Interrupt || fl === FlowControl.Exception) {
          break;
        } else if (fl === FlowControl.IndirectBranch) {
          const cases = tables.get(rva);
          if (cases === undefined) live |= u & (this.unknownReads | returns);
          else for (const t of cases) stack.push([t, u]);
          break;
        } else if (fl === FlowControl.UnconditionalBranch || fl === FlowControl.ConditionalBranch) {
          if (e.target >= 0 && fx.has(e.target)) stack.push([e.target, u]);
          else live |= u & this.tailReads(returns, e.target, depth);
          if (fl === FlowControl.UnconditionalBranch) break;
        }
        rva = e.next;
      }
    }
    return live;
  }

  /**
   * What a return of `f` hands back: rax and xmm0, each only when `f`'s own code reads or
   * writes it somewhere. A function that never touches xmm0 returns no double in it (a
   * callee's result passing through is clobbered by that callee first), and an MSVC or clang
   * caller that returns after calling a changed function must not keep xmm0 "live" for it.
   */
  private returns(f: FunctionInfo): number {
    let v = this.retRegs.get(f.index);
    if (v === undefined) {
      v = 0;
      for (const e of this.fx.of(f).values()) v |= e.reads | e.writes;
      this.retRegs.set(f.index, (v &= RETURN_REGS));
    }
    return v;
  }

  /**
   * What a call to `g` reads: the argument registers it reads before writing, through its own
   * calls (all of them while `g` is still being searched, a recursion, or past MAX_DEPTH).
   */
  private reads(g: FunctionInfo, depth: number): number {
    const given = this.readsOf(g);
    if (given !== undefined) return given;
    let v = this.liveIn.get(g.index);
    if (v !== undefined) return v;
    if (depth >= MAX_DEPTH) return this.unresolved;
    this.liveIn.set(g.index, this.unresolved);
    this.liveIn.set(g.index, (v = this.after(g, g.entry, ALL_VOLATILE, depth + 1, true) & ARG_REGS));
    return v;
  }

  /** A jump out of the function: a tail call, whose callee returns to this function's caller. */
  private tailReads(returns: number, target: number, depth: number): number {
    const g = target >= 0 ? functionAt(this.fns, target) : undefined;
    if (g === undefined) return this.unknownReads | returns;
    return this.reads(g, depth) | (returns & ~this.clobbers(g.index));
  }
}

/** The CALLER_REGISTERS_CLOBBERED reason of each NEW function whose new body old callers cannot take (the first site found). */
export function callerRegisterProblems(m: MatchResult, status: readonly FunctionStatus[], fx?: ImageEffects): Map<number, Reason> {
  const out = new Map<number, Reason>();
  for (const c of findClobberedCalls(m, status, fx)) if (!out.has(c.culprit.index)) out.set(c.culprit.index, describeClobberedCall(c));
  return out;
}
