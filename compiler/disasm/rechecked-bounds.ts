/**
 * Branches that enter a jump table's guarded line with the bound checked again. LLVM copies a
 * switch's `cmp rI, N; ja default` into a predecessor as `cmp rI, N; jbe L`, where L is the
 * instruction right after the guard's own `ja`: swc-html 1.15.33's 0x17e200 checks
 * `cmp rcx, 0xb` at 0x17e221 (`jbe 0x17e242`) and at 0x17e238 (`ja` past the table), then
 * both paths load `[r14 + rcx*4]` at 0x17e242. The bound the guard gives holds at L on the
 * entering path too when that branch is taken only for an index the guard would let through:
 * the same register at the same width, compared unsigned with a bound no larger. Any other
 * way into L (an unconditional jump, a case of a table, another comparison, a part's start)
 * keeps the table refused (decode-function.ts, "enters between the bound check and the jump").
 */
import { FlowControl, Mnemonic, OpKind, type Register } from 'iced-x86';
import type { JumpTable } from '../image/types.ts';
import type { FlowGraph, FlowStep } from './base-paths.ts';
import { isImm } from './jump-tables.ts';

/** The branch sources of every decoded branch target (case targets of tables are not branches). */
export function branchSources(g: FlowGraph): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const p of g.byRva.values()) {
    for (const r of p.refs) {
      if (!r.isBranch || p.flow === FlowControl.Call) continue;
      const l = out.get(r.target);
      if (l === undefined) out.set(r.target, [p.rva]);
      else l.push(p.rva);
    }
  }
  return out;
}

/**
 * True when every decoded way into `at` other than falling through from the guard of `t`
 * checks the guard's bound again (see the file comment). `sources`: branchSources(g).
 */
export function entersRechecked(g: FlowGraph, t: JumpTable, at: number, sources: ReadonlyMap<number, readonly number[]>): boolean {
  if (g.roots.includes(at) || g.tables.some((x) => x.targets.includes(at as JumpTable['targets'][number]))) return false;
  const guard = compareBranch(g, t.boundRva);
  if (guard === null || guard.end !== at || (guard.jcc !== Mnemonic.Ja && guard.jcc !== Mnemonic.Jae)) return false;
  const allowed = guard.jcc === Mnemonic.Ja ? guard.n + 1 : guard.n;
  const from = sources.get(at) ?? [];
  for (const s of from) {
    const prev = previousOf(g, s);
    if (prev === undefined) return false;
    const c = compareBranch(g, prev.rva);
    if (c === null || c.jccRva !== s || c.reg !== guard.reg) return false;
    const bound = c.jcc === Mnemonic.Jbe ? c.n + 1 : c.jcc === Mnemonic.Jb ? c.n : -1;
    if (bound < 0 || bound > allowed) return false;
  }
  return true;
}

interface CompareBranch {
  /** The compared register, exactly (its width included). */
  readonly reg: Register;
  readonly n: number;
  readonly jcc: Mnemonic;
  readonly jccRva: number;
  /** Where the conditional jump falls through to. */
  readonly end: number;
}

/** `cmp reg, imm` at `rva` followed directly by a conditional jump, or null. */
function compareBranch(g: FlowGraph, rva: number): CompareBranch | null {
  const p = g.byRva.get(rva);
  const j = g.byRva.get(rva + (p?.length ?? 0));
  if (p === undefined || j === undefined || j.flow !== FlowControl.ConditionalBranch) return null;
  g.decodeAt(rva);
  const insn = g.insn;
  if (insn.mnemonic !== Mnemonic.Cmp || insn.op0Kind !== OpKind.Register || !isImm(insn.op1Kind)) return null;
  const v = BigInt.asIntN(64, insn.immediate(1));
  if (v < 0n || v > 0xffffn) return null;
  const reg = insn.op0Register;
  g.decodeAt(j.rva);
  return { reg, n: Number(v), jcc: g.insn.mnemonic, jccRva: j.rva, end: j.rva + j.length };
}

/** The decoded instruction that ends right at `rva`, if any. */
function previousOf(g: FlowGraph, rva: number): FlowStep | undefined {
  for (let len = 1; len <= 15; len++) {
    const p = g.byRva.get(rva - len);
    if (p !== undefined && p.rva + p.length === rva) return p;
  }
  return undefined;
}
