/**
 * The stride rule on encoded instruction bytes (gcc's and clang's heap-stride bodies, and
 * shapes that must give no evidence): the element size of the array a pointer argument
 * points at, from the loop steps that advance it and the scales of indexed accesses through
 * it; a changed size is refused, equal sizes (also when an unrolled loop steps a multiple)
 * are not.
 */
import { describe, expect, test } from 'vitest';
import { describeStrideChange, elementSizesOf, findStrideChange, type ElementSize } from './element-stride.ts';
import { encodedBody } from './testing/encoded-body.ts';

function sizes(hex: string): ElementSize[] {
  const { bytes, spans } = encodedBody(hex);
  return elementSizesOf(bytes, spans);
}

// gcc -O2, samples/heap-stride cells_sum. v1: lea r8,[rcx+rdx*8] (an end pointer: lea is no evidence); loop: mov eax,[rcx];
// imul eax,[rcx+4]; add rcx,8; add edx,eax; cmp r8,rcx; jne loop.
const GCC_SUM_V1 = '85 d2  7e 24  48 63 d2  4c 8d 04 d1  31 d2  0f 1f 00  8b 01  0f af 41 04  48 83 c1 08  01 c2  49 39 c8  75 ef  89 d0  c3';
// v2: lea rax,[rdx+rdx*2]; lea r8,[rcx+rax*4]; loop: mov eax,[rcx]; add rcx,0xc; imul eax,[rcx-8]; add eax,[rcx-4]; ...
const GCC_SUM_V2 = '85 d2  7e 2c  48 63 d2  48 8d 04 52  31 d2  4c 8d 04 81  0f 1f 80 00 00 00 00  8b 01  48 83 c1 0c  0f af 41 f8  03 41 fc  01 c2  49 39 c8  75 ec  89 d0  c3';
// cells_fill. v1: mov [rcx+rax*8-4],r8d; mov [rcx+rax*8-8],eax in a loop; v2: add rcx,0xc in a loop.
const GCC_FILL_V1 = '85 d2  7e 2d  48 63 d2  41 b8 0a 00 00 00  b8 01 00 00 00  66 0f 1f 44 00 00  49 89 c1  44 89 44 c1 fc  41 83 c0 0a  89 44 c1 f8  48 83 c0 01  49 39 d1  75 e7  c3';
const GCC_FILL_V2 = '85 d2  7e 29  41 b8 0a 00 00 00  31 c0  0f 1f 40 00  83 c0 01  44 89 41 04  48 83 c1 0c  41 83 c0 0a  89 41 f4  c7 41 fc 03 00 00 00  39 d0  75 e3  c3';

// -O0 test/probes/red-stride.c cells_sum: the pointer reloaded from its stack slot before each
// access, the index from its slot, scaled on its own and added to the pointer. gcc v1: `cdqe;
// lea rdx,[rax*8]; mov rax,[rbp+0x10]; add rax,rdx; mov edx,[rax]`; gcc v2: `movsxd rdx,eax;
// mov rax,rdx; add rax,rax; add rax,rdx; shl rax,2; mov rdx,rax; mov rax,[rbp+0x10]; add rax,rdx`;
// clang v2: `mov rax,[rsp+0x10]; movsxd rcx,[rsp+4]; imul rcx,rcx,0xc; add rax,rcx; mov eax,[rax]`.
const GCC_O0_SUM_V1 = '55 48 89 e5 48 83 ec 10 48 89 4d 10 89 55 18 c7 45 fc 00 00 00 00 c7 45 f8 00 00 00 00 eb 37 8b 45 f8 48 98 48 8d 14 c5 00 00 00 00 48 8b 45 10 48 01 d0 8b 10 8b 45 f8 48 98 48 8d 0c c5 00 00 00 00 48 8b 45 10 48 01 c8 8b 40 04 0f af c2 01 45 fc 83 45 f8 01 8b 45 f8 3b 45 18 7c c1 8b 45 fc 48 83 c4 10 5d c3';
const GCC_O0_SUM_V2 = '55 48 89 e5 48 83 ec 10 48 89 4d 10 89 55 18 c7 45 fc 00 00 00 00 c7 45 f8 00 00 00 00 eb 6b 8b 45 f8 48 63 d0 48 89 d0 48 01 c0 48 01 d0 48 c1 e0 02 48 89 c2 48 8b 45 10 48 01 d0 8b 08 8b 45 f8 48 63 d0 48 89 d0 48 01 c0 48 01 d0 48 c1 e0 02 48 89 c2 48 8b 45 10 48 01 d0 8b 40 04 0f af c8 8b 45 f8 48 63 d0 48 89 d0 48 01 c0 48 01 d0 48 c1 e0 02 48 89 c2 48 8b 45 10 48 01 d0 8b 40 08 01 c8 01 45 fc 83 45 f8 01 8b 45 f8 3b 45 18 7c 8d 8b 45 fc 48 83 c4 10 5d c3';
const CLANG_O0_SUM_V2 = '48 83 ec 18 48 89 4c 24 10 89 54 24 0c c7 44 24 08 00 00 00 00 c7 44 24 04 00 00 00 00 8b 44 24 04 3b 44 24 0c 7d 51 48 8b 44 24 10 48 63 4c 24 04 48 6b c9 0c 48 01 c8 8b 00 48 8b 4c 24 10 48 63 54 24 04 48 6b d2 0c 48 01 d1 0f af 41 04 48 8b 4c 24 10 48 63 54 24 04 48 6b d2 0c 48 01 d1 03 41 08 03 44 24 08 89 44 24 08 8b 44 24 04 83 c0 01 89 44 24 04 eb a5 8b 44 24 08 48 83 c4 18 c3';

describe('stride rule', () => {
  test('-O0: a pointer reloaded from its slot plus an index scaled in steps (lea [x*8]; add x,x; shl; imul) gives the element size', () => {
    expect(sizes(GCC_O0_SUM_V1)).toEqual([{ arg: 1, size: 8, evidence: 'index scale of 0x8 at 0x30' }]);
    expect(sizes(GCC_O0_SUM_V2)).toEqual([{ arg: 1, size: 12, evidence: 'index scale of 0xc at 0x39' }]);
    expect(sizes(CLANG_O0_SUM_V2)).toEqual([{ arg: 1, size: 12, evidence: 'index scale of 0xc at 0x35' }]);
    expect(findStrideChange(sizes(GCC_O0_SUM_V1), sizes(GCC_O0_SUM_V2))).toMatchObject({ arg: 1, old: { size: 8 }, new: { size: 12 } });
  });

  test('a pointer plus a sum of two different values (lea rax,[rdx+r8*2]; add rcx,rax) is no element size', () => {
    expect(sizes('4a 8d 04 42  48 01 c1  8b 01  c3')).toEqual([]);
  });

  test("gcc's heap-stride: 8-byte elements in v1, 12-byte in v2, from loop steps and scaled indexes", () => {
    expect(sizes(GCC_SUM_V1)).toEqual([{ arg: 1, size: 8, evidence: 'steps of 0x8 at 0x16' }]);
    expect(sizes(GCC_SUM_V2)).toEqual([{ arg: 1, size: 12, evidence: 'steps of 0xc at 0x1a' }]);
    expect(sizes(GCC_FILL_V1).map((e) => e.size)).toEqual([8]);
    expect(sizes(GCC_FILL_V2)).toEqual([{ arg: 1, size: 12, evidence: 'steps of 0xc at 0x17' }]);
    const c = findStrideChange(sizes(GCC_SUM_V1), sizes(GCC_SUM_V2));
    expect(describeStrideChange(c!)).toBe(
      'structure layout changed: walks the array at arg1 in 0xc-byte elements (steps of 0xc at 0x1a), the old function in 0x8-byte ones (steps of 0x8 at 0x16) (an element grown or shrunk; needs a baseline)',
    );
    expect(findStrideChange(sizes(GCC_FILL_V1), sizes(GCC_FILL_V2))).toMatchObject({ arg: 1, old: { size: 8 }, new: { size: 12 } });
  });

  test("clang's 3x-scaled index ([rcx+rdx*4] after lea rdx,[rdx+rdx*2]) is a 12-byte element", () => {
    // lea rdx,[rdx+rdx*2]; mov r8d,[rcx+rdx*4+4]; imul r8d,[rcx+rdx*4]; add eax,[rcx+rdx*4+8]; ret
    expect(sizes('48 8d 14 52  44 8b 44 91 04  44 0f af 04 91  03 44 91 08  c3').map((e) => e.size)).toEqual([12]);
  });

  test("clang's heap-stride-fix: unrolled x4 (0x30 steps) beside a byte index stepped 0xc is the same 12-byte element as unrolled x2 beside a 3x index", () => {
    // clang -O2 samples/heap-stride-fix cells_sum, v1 then v2 (trailing int3 padding dropped).
    const v1 = sizes(
      '56  57  85 d2  7e 15  41 89 d1  45 89 c8  41 83 e0 03  83 fa 04  73 0d  31 d2  31 c0  eb 64  31 c0  e9 94 00 00 00  41 81 e1 fc ff ff 7f  4c 8d 51 28  31 d2  31 c0  66 66 66 66 66 66 2e 0f 1f 84 00 00 00 00 00  45 8b 5a dc  45 0f af 5a d8  41 8b 72 e8  41 01 c3  41 0f af 72 e4  41 8b 7a f4  41 0f af 7a f0  01 f7  44 01 df  41 8b 02  41 0f af 42 fc  01 f8  48 83 c2 04  49 83 c2 30  49 39 d1  75 c6  4d 85 c0  74 37  48 8d 14 52  48 8d 0c 91  48 83 c1 04  41 c1 e0 02  4b 8d 14 40  45 31 c0  66 2e 0f 1f 84 00 00 00 00 00  46 8b 0c 01  46 0f af 4c 01 fc  44 01 c8  49 83 c0 0c  4c 39 c2  75 ea  5f  5e  c3',
    );
    const v2 = sizes(
      '56  85 d2  7e 0b  83 fa 01  75 0a  31 d2  31 c0  eb 51  31 c0  5e  c3  41 89 d0  45 89 c1  41 81 e1 fe ff ff 7f  4c 8d 51 14  31 d2  31 c0  0f 1f 80 00 00 00 00  45 8b 5a f0  45 0f af 5a ec  41 8b 72 fc  41 03 42 f4  44 01 d8  41 0f af 72 f8  41 03 02  01 f0  48 83 c2 02  49 83 c2 18  49 39 d1  75 d5  41 f6 c0 01  74 b1  48 8d 14 52  44 8b 44 91 04  44 0f af 04 91  03 44 91 08  44 01 c0  5e  c3',
    );
    expect(v1.map((e) => e.size)).toEqual([12]);
    expect(v2.map((e) => e.size)).toEqual([12]);
    expect(findStrideChange(v1, v2)).toBeNull();
  });

  test('an unrolled loop stepping twice the element beside an indexed access keeps the size', () => {
    // mov eax,[rcx+rdx*8]; loop: mov eax,[rcx]; add eax,[rcx+8]; add rcx,0x10; cmp rcx,r8; jne loop; ret
    const unrolled = sizes('8b 04 d1  8b 01  03 41 08  48 83 c1 10  4c 39 c1  75 f3  c3');
    expect(unrolled.map((e) => e.size)).toEqual([8]);
    expect(findStrideChange(sizes(GCC_SUM_V1), unrolled)).toBeNull();
  });

  test('no evidence: an advance outside any loop, an unscaled byte index, a pointer that is not an argument', () => {
    // add rcx,0x10 (a header skipped, no loop); mov eax,[rcx]; ret
    expect(sizes('48 83 c1 10  8b 01  c3')).toEqual([]);
    // loop: movzx eax,byte [rcx+rax]; inc rax; cmp rax,rdx; jne loop; ret
    expect(sizes('0f b6 04 01  48 ff c0  48 39 d0  75 f4  c3')).toEqual([]);
    // mov rcx,[rcx] (a field loaded, no longer the argument); loop: add rcx,0xc; jne loop; ret
    expect(sizes('48 8b 09  48 83 c1 0c  75 fa  c3')).toEqual([]);
  });

  test('an argument only one body walks gives no verdict', () => {
    expect(findStrideChange([], sizes(GCC_SUM_V2))).toBeNull();
  });
});
