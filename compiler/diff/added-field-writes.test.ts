/**
 * updateHolds must forget every general register an instruction writes, or a register keeps
 * an argument it no longer holds and a later `[reg+disp]` counts as that argument's field (an
 * old access that covers a new field is a wrong "safe"). Checked against iced-x86's
 * InstructionInfoFactory over the one- and two-byte opcode maps (every ModRM byte, with no
 * prefix, REX.W, 66, F3 and F2) and a few VEX encodings: every general register iced reports
 * written (rsp aside: no argument lives there) must be gone from a map where each register
 * held itself, or hold a copy of another (`mov rax,rdx`).
 */
import { Decoder, DecoderOptions, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { describe, expect, test } from 'vitest';
import { updateHolds } from './added-field.ts';

const GPRS = [Register.RAX, Register.RCX, Register.RDX, Register.RBX, Register.RBP, Register.RSI, Register.RDI, Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15];
const WRITES = new Set<number>([OpAccess.Write, OpAccess.ReadWrite, OpAccess.CondWrite, OpAccess.ReadCondWrite]);
const PREFIXES = [[], [0x48], [0x66], [0xf3], [0xf2]];
/** Prefix bytes and escapes, which start no one-byte opcode of their own. */
const NOT_OPCODES = new Set([0x0f, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0xc4, 0xc5, 0x62, 0x8f, ...Array.from({ length: 16 }, (_, i) => 0x40 + i)]);

/** Registers iced reports written that updateHolds keeps holding themselves, per instruction text. */
function misses(encodings: Iterable<number[]>): string[] {
  const info = new InstructionInfoFactory();
  const insn = new Instruction();
  const out = new Set<string>();
  for (const bytes of encodings) {
    const code = new Uint8Array([...bytes, ...new Array<number>(12).fill(0)]);
    const decoder = new Decoder(64, code, DecoderOptions.None);
    decoder.decodeOut(insn);
    decoder.free();
    if (insn.isInvalid) continue;
    const holds = new Map<number, number>(GPRS.map((r) => [r, r]));
    updateHolds(insn, holds);
    const used = info.info(insn).usedRegisters();
    for (const u of used) {
      const full = RegisterExt.fullRegister(u.register);
      if (full === Register.RSP || !GPRS.includes(full) || !WRITES.has(u.access)) continue;
      // `mov rax,rax` copies rax onto itself: it still holds what it held.
      const self = insn.mnemonic === Mnemonic.Mov && insn.op0Kind === OpKind.Register && insn.op1Kind === OpKind.Register && insn.op0Register === insn.op1Register;
      if (holds.get(full) === full && !self) out.add(`${insn.toString()}: ${Register[full]}`);
    }
    for (const u of used) u.free();
  }
  insn.free();
  info.free();
  return [...out].sort();
}

function* opcodeMap(escape: number[]): Generator<number[]> {
  for (const p of PREFIXES) {
    for (let op = 0; op < 0x100; op++) {
      if (escape.length === 0 && NOT_OPCODES.has(op)) continue;
      for (let modrm = 0; modrm < 0x100; modrm++) yield [...p, ...escape, op, modrm];
    }
  }
}

describe('updateHolds forgets every register an instruction writes', () => {
  test('the one-byte opcode map', () => {
    expect(misses(opcodeMap([]))).toEqual([]);
  });
  test('the two-byte opcode map (0F xx)', () => {
    expect(misses(opcodeMap([0x0f]))).toEqual([]);
  });
  test('VEX: mulx writes both destinations, bextr/shlx/pdep their first', () => {
    // mulx rax,rcx,rdx; mulx rax,rcx,[rdx]; bextr rax,rcx,rdx; shlx rax,rcx,rdx; pdep rax,rcx,rdx
    const vex = [[0xc4, 0xe2, 0xf3, 0xf6, 0xc2], [0xc4, 0xe2, 0xf3, 0xf6, 0x02], [0xc4, 0xe2, 0xe8, 0xf7, 0xc1], [0xc4, 0xe2, 0xe9, 0xf7, 0xc1], [0xc4, 0xe2, 0xf3, 0xf5, 0xc2]];
    expect(misses(vex)).toEqual([]);
  });
});
