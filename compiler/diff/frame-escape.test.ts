/**
 * The frame-escape helper (frame-escape.ts) as each frame-slot rule uses it: which frame
 * address an instruction hands out, which registers hold one (a frame pointer for the loads
 * and stores through them), and rbp counted as the frame only in a body that sets it from rsp.
 * Bytes: hand-assembled bodies in the shapes gcc and clang emit (clang -Os `lea rsi,[rsp+0x24];
 * mov [rsi],ecx`, gcc -O2 `mov r13,rbp` with rbp a plain register).
 */
import { describe, expect, test } from 'vitest';
import { Decoder, DecoderOptions, Instruction, Register } from 'iced-x86';
import { frameEscapeOf, type AddressRegisters } from './frame-escape.ts';
import { mapFrame } from './frame-slots.ts';
import { encodedBody } from './testing/encoded-body.ts';

/** frameEscapeOf of the one instruction `hex`, with `held` holding frame addresses. */
function escapeOf(hex: string, held: AddressRegisters = new Map()): ReturnType<typeof frameEscapeOf> {
  const bytes = Uint8Array.from(hex.split(/\s+/).map((x) => parseInt(x, 16)));
  const d = new Decoder(64, bytes, DecoderOptions.None);
  const insn = new Instruction();
  try {
    d.decodeOut(insn);
    return frameEscapeOf(insn, held);
  } finally {
    insn.free();
    d.free();
  }
}

/** rsi (6) holding [rsp+0x24]. */
const RSI_SLOT: AddressRegisters = new Map([[6, { base: Register.RSP, disp: 0x24 }]]);

describe('frameEscapeOf: the frame address an instruction hands out', () => {
  test('a lea of a slot into another register, the frame register copied out; not a compare, a push or the frame set up', () => {
    expect(escapeOf('48 8d 4d 10')).toEqual({ escape: { base: Register.RBP, disp: 0x10 }, dst: 1, rbp: true }); // lea rcx,[rbp+0x10]
    expect(escapeOf('48 89 e8')).toEqual({ escape: 'frame', dst: 0, rbp: true }); // mov rax,rbp
    expect(escapeOf('48 89 e0')).toEqual({ escape: 'frame', dst: 0, rbp: false }); // mov rax,rsp
    expect(escapeOf('48 8d 04 cc')).toEqual({ escape: 'frame', dst: 0, rbp: false }); // lea rax,[rsp+rcx*8]: any slot
    for (const hex of ['48 39 e0', '55', '48 89 e5', '48 8d 6c 24 20']) expect(escapeOf(hex), hex).toBeNull(); // cmp rax,rsp; push rbp; mov rbp,rsp; lea rbp,[rsp+0x20]
  });

  test('a register holding a slot\'s address: copied, moved by a constant into another, stored or pushed hands it out; a load or store through it, or moving it in place, does not', () => {
    expect(escapeOf('48 89 f1', RSI_SLOT)).toEqual({ escape: { base: Register.RSP, disp: 0x24 }, dst: 1, rbp: false }); // mov rcx,rsi
    expect(escapeOf('48 8d 56 08', RSI_SLOT)).toEqual({ escape: { base: Register.RSP, disp: 0x2c }, dst: 2, rbp: false }); // lea rdx,[rsi+8]
    expect(escapeOf('48 89 74 24 20', RSI_SLOT)).toEqual({ escape: { base: Register.RSP, disp: 0x24 }, dst: -1, rbp: false }); // mov [rsp+0x20],rsi
    expect(escapeOf('56', RSI_SLOT)).toEqual({ escape: { base: Register.RSP, disp: 0x24 }, dst: -1, rbp: false }); // push rsi
    for (const hex of ['8b 06', '89 0e', '48 83 c6 08', '5e', '48 39 fe']) expect(escapeOf(hex, RSI_SLOT), hex).toBeNull(); // mov eax,[rsi]; mov [rsi],ecx; add rsi,8; pop rsi; cmp rsi,rdi
    expect(escapeOf('48 89 f1')).toBeNull(); // mov rcx,rsi with rsi holding no frame address
  });
});

describe('frame-slots.ts under the helper', () => {
  const frame = (hex: string): ReturnType<typeof mapFrame> => {
    const { bytes, spans } = encodedBody(hex);
    return mapFrame(bytes, spans);
  };

  test('rbp copied out in a body that never sets it from rsp is a plain value (gcc -O2 `mov r13,rbp`): the frame is kept', () => {
    // sub rsp,0x28; mov [rsp+0x20],rcx; mov r13,rbp; mov rax,[rsp+0x20]; add rsp,0x28; ret
    expect(frame('48 83 ec 28  48 89 4c 24 20  49 89 ed  48 8b 44 24 20  48 83 c4 28  c3').holdsOne(-8)).toBe(true);
    // push rbp; mov rbp,rsp; sub rsp,0x20; mov [rbp-0x8],rcx; mov r13,rbp; mov rax,[rbp-0x8]; leave; ret: the frame's address copied out
    expect(frame('55  48 89 e5  48 83 ec 20  48 89 4d f8  49 89 ed  48 8b 45 f8  c9  c3').holdsOne(-0x10)).toBe(false);
    // The copy before the body sets rbp (address order) counts too once it does.
    expect(frame('49 89 ed  55  48 89 e5  48 83 ec 20  48 89 4d f8  48 8b 45 f8  c9  c3').holdsOne(-0x10)).toBe(false);
    // ... and the same body without the copy keeps the slot.
    expect(frame('55  48 89 e5  48 83 ec 20  48 89 4d f8  48 8b 45 f8  c9  c3').holdsOne(-0x10)).toBe(true);
  });

  test('a store through a register holding a frame address is a write of the slot it reaches', () => {
    // sub rsp,0x28; lea rsi,[rsp+0x10]; mov [rsi+0x10],rdx; mov [rsp+0x20],rcx; mov rax,[rsp+0x20]; add rsp,0x28; ret
    // The slot at entry -8 is written twice: through rsi (0x10 bytes past the lea's address, beyond its neighbours) and through rsp.
    const body = (via: string): ReturnType<typeof mapFrame> => frame(`48 83 ec 28  48 8d 74 24 10  ${via}  48 89 4c 24 20  48 8b 44 24 20  48 83 c4 28  c3`);
    expect(body('48 89 56 10').holdsOne(-8)).toBe(false);
    // Through rdx (no frame address): the slot holds one value.
    expect(body('48 89 52 10').holdsOne(-8)).toBe(true);
  });

  test('after a jump, a register that held a frame address may hold anything: a store through it still writes the slot', () => {
    // sub rsp,0x28; mov [rsp+0x20],rcx (entry -8); lea rsi,[rsp+0x10]; jmp over; mov [rsi+0x10],rdx (-8 again, another block); mov rax,[rsp+0x20]; add rsp,0x28; ret
    const body = (store: string): ReturnType<typeof mapFrame> => frame(`48 83 ec 28  48 89 4c 24 20  48 8d 74 24 10  eb 04  ${store}  48 8b 44 24 20  48 83 c4 28  c3`);
    expect(body('48 89 56 10').holdsOne(-8)).toBe(false);
    expect(body('48 89 52 10').holdsOne(-8)).toBe(true);
  });

  test('a frame address handed on from a register holding one (`lea rcx,[rsi+0x10]`) is that slot\'s address taken', () => {
    // sub rsp,0x28; mov [rsp+0x18],rcx (entry -0x10); lea rsi,[rsp+0x8]; lea rcx,[rsi+0x10] (-0x10 again); mov rax,[rsp+0x18]; add rsp,0x28; ret
    const body = (hand: string): ReturnType<typeof mapFrame> => frame(`48 83 ec 28  48 89 4c 24 18  48 8d 74 24 08  ${hand}  48 8b 44 24 18  48 83 c4 28  c3`);
    expect(body('48 8d 4e 10').holdsOne(-0x10)).toBe(false);
    // From rdx (no frame address): nothing handed out.
    expect(body('48 8d 4a 10').holdsOne(-0x10)).toBe(true);
  });
});
