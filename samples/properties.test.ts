/**
 * Each scenario has the property it claims, checked on the committed binaries with
 * mingw-w64's objdump: exactly the functions scenarios.json lists change between versions
 * (instructions compared with addresses replaced by the symbols they name, trailing
 * alignment padding ignored), and the special shape each scenario exists for is there
 * (jump table, tiny function, new imports, self-call, C++ throw/catch, inlined helper, ...).
 */
import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { missingTools } from '../test/support/tools.ts';
import { readScenarios, scenarioDll, type SampleVersion, type Scenario } from './scenarios.ts';

const skip = missingTools(['mingw']);
const OBJDUMP = 'x86_64-w64-mingw32-objdump';

interface Insn {
  readonly addr: bigint;
  readonly text: string;
}
interface Fn {
  readonly start: bigint;
  /** Instructions up to the next symbol, trailing padding removed. */
  readonly insns: readonly Insn[];
  /** Bytes up to the end of the last non-padding instruction. */
  readonly size: number;
  /** The instructions with every address replaced by the symbol it names. */
  readonly normalized: string;
}

const PADDING = /^(nop[lw]?\b|xchg\s+%ax,%ax|data16 |cs nop|int3)/;
const cache = new Map<string, Map<string, Fn>>();

/** The .text function symbols of a DLL (COFF type 0x20), disassembled. */
function functionsOf(dll: string): Map<string, Fn> {
  const hit = cache.get(dll);
  if (hit) return hit;
  const syms = execFileSync(OBJDUMP, ['-t', dll], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const fnNames = new Set<string>();
  for (const line of syms.split('\n')) {
    const m = /\(sec\s+1\)\(fl 0x[0-9a-f]+\)\(ty\s+20\)\(scl\s+\d+\) \(nx \d\) 0x[0-9a-f]+ (.+)$/.exec(line);
    if (m) fnNames.add(m[1]!);
  }
  const dis = execFileSync(OBJDUMP, ['-d', '--no-show-raw-insn', dll], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const fns = new Map<string, Fn>();
  let cur: { name: string; start: bigint; insns: Insn[] } | undefined;
  const finish = (): void => {
    if (!cur || !fnNames.has(cur.name)) return;
    const insns = [...cur.insns];
    while (insns.length > 1 && PADDING.test(insns.at(-1)!.text)) insns.pop();
    const last = insns.at(-1);
    // Size: up to the first padding instruction (or the end of the symbol's range).
    const next = cur.insns[insns.length];
    const size = last === undefined ? 0 : Number((next?.addr ?? last.addr + 1n) - cur.start);
    const normalized = insns
      .map(({ text }) => {
        let t = text;
        const target = /\s*#\s*[0-9a-f]+ <([^>]+)>\s*$/.exec(t);
        t = t.replace(/\s*#.*$/, '');
        // RIP-relative operand: name what it points at; inside a section, drop the offset
        // (it moves with any layout change).
        if (target) t = t.replace(/-?0x[0-9a-f]+\(%rip\)/, `[${target[1]!.replace(/^(\.[a-z]+)\+0x[0-9a-f]+$/, '$1')}]`);
        return t.replace(/\b[0-9a-f]{6,} <([^>]+)>/g, '<$1>');
      })
      .join('\n');
    fns.set(cur.name, { start: cur.start, insns, size, normalized });
  };
  for (const line of dis.split('\n')) {
    const head = /^([0-9a-f]+) <(.+)>:$/.exec(line);
    if (head) {
      finish();
      cur = { name: head[2]!, start: BigInt(`0x${head[1]!}`), insns: [] };
      continue;
    }
    const ins = /^\s+([0-9a-f]+):\s+(.*\S)\s*$/.exec(line);
    if (ins && cur) cur.insns.push({ addr: BigInt(`0x${ins[1]!}`), text: ins[2]! });
  }
  finish();
  cache.set(dll, fns);
  return fns;
}

function fn(s: string, v: SampleVersion, name: string): Fn {
  const f = functionsOf(scenarioDll(s, v)).get(name);
  if (!f) throw new Error(`${s}/${v}.dll has no function ${name}`);
  return f;
}

/** Import names per DLL from `objdump -p`. */
function importsOf(dll: string): Set<string> {
  const out = execFileSync(OBJDUMP, ['-p', dll], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const names = new Set<string>();
  let lib = '';
  for (const line of out.split('\n')) {
    const l = /DLL Name: (\S+)/.exec(line);
    if (l) lib = l[1]!;
    const m = /^\t[0-9a-f]+\s+\d+\s+(\S+)$/.exec(line);
    if (m && lib) names.add(`${lib}!${m[1]!}`);
  }
  return names;
}

/** Raw contents of a named section. */
function section(dll: string, name: string): Buffer {
  const buf = readFileSync(dll);
  const pe = buf.readUInt32LE(0x3c);
  const n = buf.readUInt16LE(pe + 6);
  const opt = buf.readUInt16LE(pe + 20);
  for (let i = 0; i < n; i++) {
    const h = pe + 24 + opt + i * 40;
    if (buf.subarray(h, h + 8).toString('latin1').replace(/\0+$/, '') === name) {
      return buf.subarray(buf.readUInt32LE(h + 20), buf.readUInt32LE(h + 20) + buf.readUInt32LE(h + 16));
    }
  }
  throw new Error(`${dll}: no section ${name}`);
}

/** Image base and sections (name, rva, raw bytes) of a PE32+ file. */
function layout(dll: string): { base: bigint; sections: Array<{ name: string; rva: number; data: Buffer }> } {
  const buf = readFileSync(dll);
  const pe = buf.readUInt32LE(0x3c);
  const n = buf.readUInt16LE(pe + 6);
  const opt = buf.readUInt16LE(pe + 20);
  const sections = [];
  for (let i = 0; i < n; i++) {
    const h = pe + 24 + opt + i * 40;
    const raw = buf.readUInt32LE(h + 20);
    sections.push({ name: buf.subarray(h, h + 8).toString('latin1').replace(/\0+$/, ''), rva: buf.readUInt32LE(h + 12), data: buf.subarray(raw, raw + buf.readUInt32LE(h + 16)) });
  }
  return { base: buf.readBigUInt64LE(pe + 24 + 24), sections };
}

/** The .pdata entry (RUNTIME_FUNCTION) that begins at `rva`, with its UNWIND_INFO flags and handler. */
function runtimeFunction(dll: string, rva: number): { end: number; flags: number; handler?: number } | undefined {
  const { sections } = layout(dll);
  const at = (r: number): Buffer => {
    const sec = sections.find((x) => r >= x.rva && r < x.rva + x.data.length)!;
    return sec.data.subarray(r - sec.rva);
  };
  const pdata = sections.find((x) => x.name === '.pdata')!.data;
  for (let o = 0; o + 12 <= pdata.length; o += 12) {
    if (pdata.readUInt32LE(o) !== rva) continue;
    const info = at(pdata.readUInt32LE(o + 8));
    const flags = info[0]! >> 3;
    const codes = info[2]!;
    // The handler RVA follows the unwind codes, padded to an even count.
    const handler = flags & 3 ? info.readUInt32LE(4 + 2 * (codes + (codes & 1))) : undefined;
    return { end: pdata.readUInt32LE(o + 4), flags, ...(handler === undefined ? {} : { handler }) };
  }
  return undefined;
}

const scenarios = readScenarios();
const byName = (n: string): Scenario => scenarios.find((s) => s.name === n)!;

describe.skipIf(skip !== undefined)(`scenario properties${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(scenarios.flatMap((s) => s.steps.map((st) => [`${s.name} ${st.from}->${st.to}`, s, st] as const)))(
    '%s: exactly the listed functions change',
    (_l, s, step) => {
      // Import thunks (`jmp *__imp_X(%rip)`) are the linker's, not the scenario's functions.
      const own = (m: Map<string, Fn>): Map<string, Fn> => new Map([...m].filter(([, f]) => !/^jmp\s+\*\[__imp_[^\]]+\]$/.test(f.normalized)));
      const a = own(functionsOf(scenarioDll(s.name, step.from)));
      const b = own(functionsOf(scenarioDll(s.name, step.to)));
      const changed = [...a.keys()].filter((k) => b.has(k) && a.get(k)!.normalized !== b.get(k)!.normalized);
      const added = [...b.keys()].filter((k) => !a.has(k));
      const removed = [...a.keys()].filter((k) => !b.has(k));
      const sameCode = step.sameCode ?? [];
      expect(changed.sort()).toEqual(step.functions.filter((f) => !sameCode.includes(f)).sort());
      expect(added.sort()).toEqual([...(step.added ?? [])].sort());
      expect(removed).toEqual([]);
      for (const f of sameCode) expect(b.get(f)!.normalized, `${f} keeps its code`).toBe(a.get(f)!.normalized);
    },
  );

  test('every function a scenario names exists in the versions it belongs to', () => {
    for (const s of scenarios) {
      for (const st of s.steps) {
        for (const f of st.functions) for (const v of [st.from, st.to]) expect(functionsOf(scenarioDll(s.name, v)).has(f), `${s.name}/${v} ${f}`).toBe(true);
      }
    }
  });

  test('string-change: greeting has the same bytes in v1 and v2, the string it returns differs', () => {
    const [a, b] = [fn('string-change', 'v1', 'greeting'), fn('string-change', 'v2', 'greeting')];
    expect(b.insns.map((i) => i.text)).toEqual(a.insns.map((i) => i.text));
    expect(section(scenarioDll('string-change', 'v1'), '.rdata').includes('Hello, wrold!')).toBe(true);
    expect(section(scenarioDll('string-change', 'v2'), '.rdata').includes('Hello, world!')).toBe(true);
  });

  test('new-import: v1 does not import MulDiv or strtol, v2 imports both and calls them', () => {
    const [a, b] = [importsOf(scenarioDll('new-import', 'v1')), importsOf(scenarioDll('new-import', 'v2'))];
    expect(a.has('KERNEL32.dll!MulDiv')).toBe(false);
    expect(a.has('msvcrt.dll!strtol')).toBe(false);
    expect(b.has('KERNEL32.dll!MulDiv')).toBe(true);
    expect(b.has('msvcrt.dll!strtol')).toBe(true);
    expect(fn('new-import', 'v2', 'scale').normalized).toMatch(/__imp_MulDiv/);
    expect(fn('new-import', 'v2', 'parse_number').normalized).toMatch(/<strtol>|__imp_strtol/);
  });

  test('switch-table: apply_op dispatches through a jump table in both versions', () => {
    for (const v of ['v1', 'v2'] as const) {
      const f = fn('switch-table', v, 'apply_op').normalized;
      expect(f, v).toMatch(/movslq \(%r\w+,%r\w+,4\),%r\w+/);
      expect(f, v).toMatch(/jmp\s+\*%r\w+/);
    }
    expect(fn('switch-table', 'v1', 'apply_op').normalized).toMatch(/cmp\s+\$0xb,/);
    expect(fn('switch-table', 'v2', 'apply_op').normalized).toMatch(/cmp\s+\$0xd,/);
  });

  test('grow: checksum is at least three times larger in v2', () => {
    const [a, b] = [fn('grow', 'v1', 'checksum'), fn('grow', 'v2', 'checksum')];
    expect(b.size).toBeGreaterThanOrEqual(3 * a.size);
  });

  test('tiny-function: feature_level is shorter than a 5-byte jump in v1, padding follows it', () => {
    const f = fn('tiny-function', 'v1', 'feature_level');
    expect(f.size).toBeLessThan(5);
    expect(f.insns.map((i) => i.text)).toEqual(['xor    %eax,%eax', 'ret']);
    // Enough alignment padding up to the next function for a 5-byte jump.
    const fns = [...functionsOf(scenarioDll('tiny-function', 'v1')).values()].map((x) => x.start).sort((x, y) => (x < y ? -1 : 1));
    const next = fns.find((x) => x > f.start)!;
    expect(Number(next - f.start)).toBeGreaterThanOrEqual(5);
  });

  test('fnptr: op_halve is called directly by unchanged callers and its address sits in the callback table', () => {
    for (const caller of ['apply_twice', 'halve_sum']) expect(fn('fnptr', 'v1', caller).normalized).toMatch(/call\s+<op_halve>/);
    for (const v of ['v1', 'v2'] as const) {
      const dll = scenarioDll('fnptr', v);
      const va = Buffer.alloc(8);
      va.writeBigUInt64LE(fn('fnptr', v, 'op_halve').start);
      expect(section(dll, '.rdata').includes(va), `${v}: .rdata holds &op_halve`).toBe(true);
    }
  });

  test('unwind data: parse_port has a C++ handler, the .pdata entry of feature_level spans 3 bytes, apply_op.cold has its own entry', () => {
    for (const v of ['v1', 'v2'] as const) {
      const dll = scenarioDll('cpp-exceptions', v);
      const { base } = layout(dll);
      const rf = runtimeFunction(dll, Number(fn('cpp-exceptions', v, 'parse_port').start - base));
      expect(rf, `${v}: parse_port has a .pdata entry`).toBeDefined();
      // UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER, handled by the C++ personality routine.
      expect(rf!.flags & 3, v).toBe(3);
      const personality = functionsOf(dll).get('__gxx_personality_seh0')!;
      expect(rf!.handler, `${v}: handler is __gxx_personality_seh0`).toBe(Number(personality.start - base));
    }
    // gcc emits SEH unwind info for every function on mingw, leaves too: the 3-byte entry.
    const tiny = scenarioDll('tiny-function', 'v1');
    const tinyRva = Number(fn('tiny-function', 'v1', 'feature_level').start - layout(tiny).base);
    expect(runtimeFunction(tiny, tinyRva)?.end).toBe(tinyRva + 3);
    const sw = scenarioDll('switch-table', 'v2');
    expect(runtimeFunction(sw, Number(fn('switch-table', 'v2', 'apply_op.cold').start - layout(sw).base))).toBeDefined();
  });

  test('recursion: count_paths calls itself', () => {
    for (const v of ['v1', 'v2'] as const) expect(fn('recursion', v, 'count_paths').normalized).toMatch(/call\s+<count_paths>/);
  });

  test('cpp-exceptions: parse_port throws and catches in its own body', () => {
    for (const v of ['v1', 'v2'] as const) {
      const f = fn('cpp-exceptions', v, 'parse_port').normalized;
      expect(f).toMatch(/call\s+<__cxa_throw>/);
      expect(f).toMatch(/call\s+<__cxa_begin_catch>/);
    }
  });

  test('inline-fix: clamp_index has no body of its own; new-helper: clamp_percent is its own function called by average_percent', () => {
    for (const v of ['v1', 'v2'] as const) expect(functionsOf(scenarioDll('inline-fix', v)).has('clamp_index')).toBe(false);
    expect(fn('new-helper', 'v2', 'average_percent').normalized).toMatch(/call\s+<clamp_percent>/);
  });

  test('vtable-append, vtable-insert, vtable-reorder, ops-insert: v2 calls through a slot offset v1 never calls (or in another order); make_shape/engine_init install the tables with the same code', () => {
    const slots = (name: string, v: SampleVersion, f: string): string[] => [...fn(name, v, f).normalized.matchAll(/(?:call|jmp)\s+\*(0x[0-9a-f]+)?\(%rax\)/g)].map((m) => m[1] ?? '0x0').sort();
    expect(slots('vtable-append', 'v1', 'report')).toEqual(['0x0']);
    expect(slots('vtable-append', 'v2', 'report')).toEqual(['0x0', '0x8']);
    expect(slots('vtable-insert', 'v1', 'report')).toEqual(['0x0', '0x8']);
    expect(slots('vtable-insert', 'v2', 'report')).toEqual(['0x0', '0x10', '0x8']);
    // vtable-reorder: the same two offsets, in the other order.
    expect(fn('vtable-reorder', 'v1', 'report').normalized).toMatch(/call\s+\*\(%rax\)[\s\S]*call\s+\*0x8\(%rax\)/);
    expect(fn('vtable-reorder', 'v2', 'report').normalized).toMatch(/call\s+\*0x8\(%rax\)[\s\S]*call\s+\*\(%rax\)/);
    // engine_run's last callback is a tail jump through a register loaded from +0x8 (v1), +0x10 (v2).
    expect(slots('ops-insert', 'v1', 'engine_run')).toEqual(['0x0']);
    expect(slots('ops-insert', 'v2', 'engine_run')).toEqual(['0x0', '0x8']);
    expect(fn('ops-insert', 'v1', 'engine_run').normalized).toMatch(/mov\s+0x8\(%rax\),%rax[\s\S]*jmp\s+\*%rax/);
    expect(fn('ops-insert', 'v2', 'engine_run').normalized).toMatch(/mov\s+0x10\(%rax\),%rax[\s\S]*jmp\s+\*%rax/);
    for (const v of ['v1', 'v2'] as const) {
      expect(fn('vtable-append', v, 'make_shape').normalized).toMatch(/lea\s+\[_ZTV3tri\+0x10\]/);
      expect(fn('ops-insert', v, 'engine_init').normalized).toMatch(/lea\s+\[g_fast\]/);
    }
  });

  test('global-init and struct-layout: the writable .data changes', () => {
    for (const name of ['global-init', 'struct-layout']) {
      const s = byName(name);
      expect(s.expect).toBe('refused');
      expect(Buffer.compare(section(scenarioDll(name, 'v1'), '.data'), section(scenarioDll(name, 'v2'), '.data')), name).not.toBe(0);
    }
  });
});
