/**
 * ENTRY_ARGUMENTS_CHANGED's words for a move of argument uses (argument-uses.ts UseMove): the
 * slots by the registers their uses show, and each use token as what the body does with the
 * value (`a store through it at +0x8 (4 bytes)`, `the value loaded through it meeting sub
 * (operand 2)`, `a value computed from it meeting sub (operand 1)`, `cmp (left of <)`, `idiv (the dividend)`).
 */
import { Mnemonic } from 'iced-x86';
import type { UseMove } from './argument-moves.ts';

/** The move in words, for ENTRY_ARGUMENTS_CHANGED. */
export function describeUseMove(m: UseMove): string {
  const show = (uses: readonly string[]): string => uses.slice(0, 4).map(tokenName).join(', ');
  if (m.kind === 'order') {
    const [a, b] = [m.names[m.a]!, m.names[m.b]!];
    return `hands arguments ${a} and ${b} on as argument ${m.k + 1} of its calls in the opposite order from its old body, and uses them alike otherwise (two parameters of one type reordered?)`;
  }
  if (m.kind === 'first') {
    const [a, b] = [m.names[m.a]!, m.names[m.b]!];
    const [was, now] = m.oldFirst === m.a ? [a, b] : [b, a];
    return `uses arguments ${a} and ${b} alike, in the opposite order from its old body (its first use is of ${now} where it was of ${was}) (two parameters of one type reordered?)`;
  }
  if (m.kind === 'escape') {
    const what = `the address of the frame slot it spills argument ${m.names[m.a]!} to, where a callee may change it`;
    return `${m.old ? `no longer hands out ${what}, as its old body did` : `hands out ${what}, which its old body did not`}: its uses of that argument cannot be compared with the other body's (two parameters of one type reordered?)`;
  }
  if (m.kind === 'swap') {
    const [a, b] = [m.names[m.a]!, m.names[m.b]!];
    return `uses argument ${b} as its old body used ${a} (${show(m.usesA)}) and ${a} as it used ${b} (${show(m.usesB)}) (two parameters of one type reordered?)`;
  }
  const moved = m.names.slice(m.from, m.last).map((s, k) => `${s} as its old body used ${m.names[m.from + k + 1]!}`).join(', ');
  return `no longer uses argument ${m.names[m.last]!} (its old body's ${show(m.uses)}) and uses ${moved} (a parameter before it removed?)`;
}

const RELATION = ['', 'o', 'no', '<u', '>=u', '==', '!=', '<=u', '>u', 's', 'ns', 'p', 'np', '<', '>=', '<=', '>'];
/** The operand role a token names: ` (operand 2)`, ` (the dividend)`, ` (left of <)`, or nothing (a commutative operation). */
function operandRole(body: string): string {
  const rel = /<(\d+)>/.exec(body);
  if (rel !== null) return ` (left of ${RELATION[Number(rel[1])] ?? '?'})`;
  const at = /@(\d|d)/.exec(body);
  return at === null ? '' : at[1] === 'd' ? ' (the dividend)' : ` (operand ${Number(at[1]) + 1})`;
}

/** A use token in words: `a store through it at +0x8 (8 bytes)`, `imul by 100`. */
function tokenName(t: string): string {
  if (t.startsWith('call@') || t.startsWith('jmp@')) return `passed on as argument ${Number(t.slice(t.indexOf('@') + 1)) + 1} of a ${t.startsWith('call') ? 'call' : 'tail jump'}`;
  if (t === 'ret') return 'returned';
  if (t.startsWith('addr')) return `spilled to a frame slot whose address is ${t.includes('@') ? `passed on as argument ${Number(t.slice(t.indexOf('@') + 1)) + 1} of a call` : 'handed out'}`;
  if (t === 'dret') return 'returned as the running value of arithmetic on it';
  if (t.startsWith('e')) {
    const met = tokenName(/^e(call|jmp)@/.test(t) ? t.slice(1) : `g${t.slice(1)}`);
    return `a value computed from it ${met.startsWith('passed') ? '' : 'meeting '}${met}`;
  }
  if (t.startsWith('d')) return tokenName(`g${t.slice(1)}`).replace(' through it ', ' through a sum of it ');
  const body = t.slice(1);
  if (body.startsWith('v')) {
    const met = tokenName(body.startsWith('vx') ? body.slice(1) : `${t[0]!}${body.slice(1)}`);
    return `the value loaded through it ${met.startsWith('stored') ? '' : 'meeting '}${met}`;
  }
  const float = t.startsWith('x') ? ' (as a float)' : '';
  const mem = /^(ld|st|rw)([+-]0x[0-9a-f]+):(\d+)/.exec(body);
  if (mem !== null) return `${mem[1] === 'ld' ? 'a load' : mem[1] === 'st' ? 'a store' : 'a read-modify-write'} through it at ${mem[2]!} (${mem[3]!} bytes)`;
  const ix = /^ix(\d+):(ld|st|rw):(\d+)/.exec(body);
  if (ix !== null) return `an index scaled by ${ix[1]!} (${ix[2] === 'ld' ? 'load' : ix[2] === 'st' ? 'store' : 'read-modify-write'}, ${ix[3]!} bytes)`;
  if (body.startsWith('mul')) return `lea multiplying it by ${/^mul(\d+)/.exec(body)?.[1] ?? '?'}`;
  if (body.startsWith('lea')) return 'an address computed from it (lea)';
  const mn = /^m(\d+)/.exec(body);
  const name = mn === null ? 'an instruction' : String((Mnemonic as unknown as Record<number, string>)[Number(mn[1])] ?? 'an instruction').toLowerCase();
  const imm = /#(-?\d+)/.exec(body);
  const global = /&([0-9a-f]+)/.exec(body);
  if (global !== null && name === 'mov' && body.includes('@1')) return `stored to the global at 0x${global[1]!}${float}`;
  return `${name}${operandRole(body)}${imm !== null ? ` by ${imm[1]!}` : global !== null ? ` with the global at 0x${global[1]!}` : body.includes('=') ? ' with a constant' : ''}${float}`;
}
