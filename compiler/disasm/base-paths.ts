/**
 * Per-path proof of a jump table's base. A loop around a switch (a bytecode interpreter)
 * lets gcc hoist the table's `lea base, [rip + T]` above the loop head, so the loop's back
 * edge enters the straight line between that `lea` and the `jmp reg`: the straight line
 * alone no longer shows what the base register holds there. This proves it over every
 * path instead: a forward must-analysis over the decoded control flow, where the base
 * register holds T after the `lea` and loses it at any other write (a call loses the
 * volatile registers), and where the function's entry, the starts of its other parts and
 * any instruction no decoded branch or fall-through reaches are entered with it unknown.
 * The index bound is not proven here: it must still hold on the straight line (see
 * decode-function.ts).
 */
import { FlowControl, Mnemonic, OpKind, RegisterExt, type Instruction, type Register } from 'iced-x86';
import type { JumpTable, Reference } from '../image/types.ts';
import { clobbers, type DecodedStep, type WriteCache } from './jump-tables.ts';

/** A decoded instruction with its references (decode-function.ts's Pending). */
export interface FlowStep extends DecodedStep {
  readonly refs: readonly Reference[];
}

/** What the proof reads: the decoded function and a way to re-decode one instruction into `insn`. */
export interface FlowGraph {
  readonly decodeAt: (rva: number) => void;
  readonly insn: Instruction;
  readonly byRva: ReadonlyMap<number, FlowStep>;
  readonly tables: readonly JumpTable[];
  readonly writes: WriteCache;
  /** Where control enters from outside: the function's entry and the starts of its parts. */
  readonly roots: readonly number[];
}

/** Decoded successors of `p`: fall-through, branch target, or its table's cases. */
/** Every decoded instruction's successors, and the instructions some decoded edge reaches. */
export function flowEdges(g: FlowGraph): { succ: Map<number, number[]>; reached: Set<number> } {
  const jumpTargets = new Map<number, readonly number[]>();
  for (const x of g.tables) jumpTargets.set(x.jumpRva, x.targets);
  const succ = new Map<number, number[]>();
  const reached = new Set<number>();
  for (const p of g.byRva.values()) {
    const s = successorsOf(g, p, jumpTargets);
    succ.set(p.rva, s);
    for (const x of s) reached.add(x);
  }
  return { succ, reached };
}

function successorsOf(g: FlowGraph, p: FlowStep, jumpTargets: ReadonlyMap<number, readonly number[]>): number[] {
  const out: number[] = [];
  const f = p.flow;
  const ends = f === FlowControl.UnconditionalBranch || f === FlowControl.IndirectBranch || f === FlowControl.Return || f === FlowControl.Exception || f === FlowControl.Interrupt;
  if (!ends) out.push(p.rva + p.length);
  if (f === FlowControl.ConditionalBranch || f === FlowControl.UnconditionalBranch) {
    for (const r of p.refs) if (r.isBranch) out.push(r.target);
  }
  if (f === FlowControl.IndirectBranch) out.push(...(jumpTargets.get(p.rva) ?? []));
  return out.filter((x) => g.byRva.has(x));
}

/**
 * True for alignment padding: a run of nops that starts right after an instruction that
 * ends its path (jmp, ret) and ends on an 8-byte boundary, as compilers align the next block. No path enters it, so it
 * brings no state into the code it falls through to. Any other instruction that no branch
 * or fall-through reaches (a landing pad the unwinder enters, code reached in ways the
 * analysis does not follow) is entered with the base unknown.
 */
export function isPadding(g: FlowGraph, at: number): boolean {
  // Alignment padding ends on an aligned address (gcc/clang/MSVC align blocks to 8 or 16).
  let end = at;
  for (let k = 0; k < 64; k++) {
    const p = g.byRva.get(end);
    if (p === undefined) break;
    g.decodeAt(end);
    if (g.insn.mnemonic !== Mnemonic.Nop) break;
    end += p.length;
  }
  if (end === at || end % 8 !== 0) return false;
  for (let x = at, k = 0; k < 64; k++) {
    g.decodeAt(x);
    if (g.insn.mnemonic !== Mnemonic.Nop) return false;
    let prev: FlowStep | undefined;
    for (let len = 1; len <= 15 && prev === undefined; len++) {
      const p = g.byRva.get(x - len);
      if (p !== undefined && p.rva + p.length === x) prev = p;
    }
    if (prev === undefined) return false;
    const f = prev.flow;
    if (f === FlowControl.UnconditionalBranch || f === FlowControl.IndirectBranch || f === FlowControl.Return) return true;
    x = prev.rva;
  }
  return false;
}

/**
 * True when, on every decoded path to `t.jumpRva`, the register the `lea` at `t.baseRva`
 * sets still holds the address that `lea` loads. False for a table without a base `lea`.
 */
export function baseHoldsOnEveryPath(g: FlowGraph, t: JumpTable): boolean {
  if (t.baseRva < 0) return false;
  const insn = g.insn;
  g.decodeAt(t.baseRva);
  // The 64-bit register only: a 32-bit `lea` truncates the address.
  if (insn.mnemonic !== Mnemonic.Lea || insn.op0Kind !== OpKind.Register || !RegisterExt.isGPR64(insn.op0Register) || !insn.isIpRelMemoryOperand) return false;
  const reg = insn.op0Register;
  const value = insn.ipRelMemoryAddress;
  /** True when the instruction in `insn` sets the base register to the table base. */
  const setsBase = (): boolean => insn.mnemonic === Mnemonic.Lea && insn.op0Kind === OpKind.Register && insn.op0Register === reg && insn.isIpRelMemoryOperand && insn.ipRelMemoryAddress === value;
  return !unknownOnEntry(g, reg, setsBase).has(t.jumpRva);
}

/**
 * The instructions where 64-bit register `reg` may not hold __ImageBase on entry, over every
 * decoded path (the same must-analysis as baseHoldsOnEveryPath): only `lea reg, [rip +
 * __ImageBase]` (the full 64-bit register: a 32-bit `lea` truncates the address) sets it.
 * MSVC loads __ImageBase once into a non-volatile register in the prologue and indexes
 * tables of bytes and RVAs through it in a loop far below, where the straight line back to
 * the `lea` is entered by the loop's branches (watcher 2.5.1's 0x3cdf0 reads
 * `[rbx + rax*4 + 0x63c52]` 0x1cc bytes after `lea rbx, [__ImageBase]`).
 */
export function imageBaseUnknown(g: FlowGraph, reg: Register): ReadonlySet<number> {
  const insn = g.insn;
  const setsBase = (): boolean => insn.mnemonic === Mnemonic.Lea && insn.op0Kind === OpKind.Register && insn.op0Register === reg && insn.isIpRelMemoryOperand && insn.ipRelMemoryAddress === 0n;
  return unknownOnEntry(g, reg, setsBase);
}

/**
 * The instructions on entry to which `reg` may not hold the value that the instructions
 * `sets` accepts (decoded in `g.insn`) give it: the roots, any instruction no decoded
 * branch or fall-through reaches (but alignment padding), the successors of any other write
 * of `reg` (a call writes the volatile registers), and all they reach before a setter.
 */
function unknownOnEntry(g: FlowGraph, reg: Register, sets: () => boolean): Set<number> {
  const insn = g.insn;
  const { succ, reached } = flowEdges(g);
  // "Unknown on entry": the value may not hold when control arrives here.
  const unknown = new Set<number>();
  const queue: number[] = [];
  const enterUnknown = (x: number): void => {
    if (!g.byRva.has(x) || unknown.has(x)) return;
    unknown.add(x);
    queue.push(x);
  };
  for (const r of g.roots) enterUnknown(r);
  for (const p of g.byRva.values()) if (!reached.has(p.rva) && !isPadding(g, p.rva)) enterUnknown(p.rva);
  // Any other write of the register makes it unknown after that instruction.
  for (const p of g.byRva.values()) {
    g.decodeAt(p.rva);
    if (!sets() && clobbers(insn, reg, g.writes)) for (const x of succ.get(p.rva)!) enterUnknown(x);
  }
  while (queue.length > 0) {
    const x = queue.pop()!;
    g.decodeAt(x);
    if (sets()) continue;
    for (const y of succ.get(x)!) enterUnknown(y);
  }
  return unknown;
}
