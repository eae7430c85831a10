/**
 * Which bits of a word a read decodes (bitfield-bits.ts, walked by bitfield-readers.ts), on
 * encoded instruction bytes: a value read whole and used as a number decodes none (swc-html
 * 1.16.1's Vec lengths at +0x28), nor does arithmetic on it; a mask, right shift, bit test or
 * an operation with an unknown mask or count decodes the bits it selects (all, once bits from
 * two places are combined), and a sign fill counts the sign bit.
 */
import { describe, expect, test } from 'vitest';
import { scanReads } from './bitfield-readers.ts';
import { encodedBody } from './testing/encoded-body.ts';

/** The bits the body decodes (hex) per displacement it reads with constants or decodes. */
function decoded(hex: string): Record<string, string> {
  const { bytes, spans } = encodedBody(hex);
  const r = scanReads(bytes, spans);
  const disps = new Set([...r.paths.keys(), ...r.decoded.keys()]);
  return Object.fromEntries([...disps].map((d) => [`+${d.toString(16)}`, (r.decoded.get(d) ?? 0n).toString(16)]));
}

describe('bits a read decodes', () => {
  test('a length read whole and scaled decodes no bit (its weight is still a path constant)', () => {
    // mov rax,[rdi+0x28]; imul rsi,rax,0x68; ret
    expect(decoded('48 8b 47 28  48 6b f0 68  c3')).toEqual({ '+28': '0' });
  });

  test('a flag byte tested decodes the tested bit', () => {
    // movzx eax,byte [rsi+0x28]; test al,0x40; ret
    expect(decoded('0f b6 46 28  a8 40  c3')).toEqual({ '+28': '40' });
    // test byte [rcx+8],4; ret (in place)
    expect(decoded('f6 41 08 04  c3')).toEqual({ '+8': '4' });
  });

  test('a field shifted down, masked and weighted decodes its own bits', () => {
    // mov eax,[rcx]; shr eax,7; and eax,0x1f; lea eax,[rax+rax*2]; ret: level in bits 7-11
    expect(decoded('8b 01  c1 e8 07  83 e0 1f  8d 04 40  c3')).toEqual({ '+0': 'f80' });
  });

  test('a field doubled by adding it to itself, then masked, decodes its own bits (clang: level * 2)', () => {
    // mov eax,[rcx+0x20]; add eax,eax; and eax,0x3e; ret: level in bits 0-4
    expect(decoded('8b 41 20  01 c0  83 e0 3e  c3')).toEqual({ '+20': '1f' });
    // mov eax,[rcx+0x20]; shr eax,2; and eax,0x3e; ret: level in bits 3-7
    expect(decoded('8b 41 20  c1 e8 02  83 e0 3e  c3')).toEqual({ '+20': 'f8' });
  });

  test('a signed field (sar) masked wider than it decodes its bits and the sign bit', () => {
    // mov eax,[rcx]; sar eax,28; and eax,0xff; ret
    expect(decoded('8b 01  c1 f8 1c  25 ff 00 00 00  c3')).toEqual({ '+0': 'f0000000' });
  });

  test('a signed field read by shifting it to the top and back decodes only its bits', () => {
    // mov eax,[rcx]; shl eax,27; sar eax,27; ret: level in bits 0-4 (clang)
    expect(decoded('8b 01  c1 e0 1b  c1 f8 1b  c3')).toEqual({ '+0': '1f' });
    // movzx eax,byte [rcx]; shl eax,3; sar al,3; movsx edx,al; ret: level in bits 0-4 (gcc)
    expect(decoded('0f b6 01  c1 e0 03  c0 f8 03  0f be d0  c3')).toEqual({ '+0': '1f' });
    // movsx eax,byte [rcx]; sar eax,5; ret: kind in bits 5-7
    expect(decoded('0f be 01  c1 f8 05  c3')).toEqual({ '+0': 'e0' });
  });

  test('a shift by a register count, or a mask of bits combined from other places, decodes every bit', () => {
    // mov edx,[rcx]; shr edx,cl; mov eax,edx; ret
    expect(decoded('8b 11  d3 ea  89 d0  c3')).toEqual({ '+0': 'ffffffff' });
    // mov eax,[rcx]; mov edx,eax; shr edx,4; xor eax,edx; and eax,1; ret
    expect(decoded('8b 01  89 c2  c1 ea 04  31 d0  83 e0 01  c3')).toEqual({ '+0': 'ffffffff' });
  });

  test('a sum is no field: a mask of arithmetic on the whole word decodes nothing', () => {
    // mov eax,[rcx]; lea edx,[rax+rax*4]; and edx,1; ret
    expect(decoded('8b 01  8d 14 80  83 e2 01  c3')).toEqual({ '+0': '0' });
  });
});
