/**
 * The added-field rule on encoded instruction bytes: a new body that accesses, through a
 * pointer it received, a field its old body never accesses on that pointer (past the old
 * accesses, or in a hole between them as swc-html 1.15.41 -> 1.16.1 did) is refused; reads
 * at offsets the old body accesses, stack slots, clobbered registers and pointers the old
 * body never dereferences give no refusal.
 */
import { describe, expect, test } from 'vitest';
import { type ArgAccess, argAccessesOf, describeAddedField, findAddedField, type AddedField } from './added-field.ts';
import { encodedBody } from './testing/encoded-body.ts';

/** The accesses of a body given as its encoded bytes, decoded in sequence from RVA 0. */
function accesses(hex: string): ReturnType<typeof argAccessesOf> {
  const { bytes, spans } = encodedBody(hex);
  return argAccessesOf(bytes, spans);
}

const added = (oldHex: string, newHex: string): AddedField | null => findAddedField(accesses(oldHex), accesses(newHex));

// mov rsi,rdx; mov rdi,rcx; mov rax,[rcx+0x10]; mov rbx,[rdi+0x8]; mov rax,[rdi+0x48]; mov rax,[rdi+0x60]; ret
const OLD = '48 89 d6  48 89 cf  48 8b 41 10  48 8b 5f 08  48 8b 47 48  48 8b 47 60  c3';

describe('added-field rule', () => {
  test('a read past every old access on the received pointer is refused, naming both offsets', () => {
    // ... the same, then mov rax,[rdi+0x68]
    const a = added(OLD, '48 89 d6  48 89 cf  48 8b 41 10  48 8b 5f 08  48 8b 47 48  48 8b 47 60  48 8b 47 68  c3');
    expect(a).toMatchObject({ arg: 1, disp: 0x68, size: 8, past: true, oldEnd: 0x68 });
    expect(describeAddedField(a!)).toBe("structure layout changed: accesses [arg1+0x68] (8 bytes), past the old function's last field access +0x60 on that pointer (a field added; needs a baseline)");
  });

  test("a read in a hole of the old accesses (swc-html's new +0x50 between +0x48 and +0x60) is refused", () => {
    // mov rsi,rdx; mov rdi,rcx; mov rax,[rcx+0x50]; test rax,rax; mov rax,[rcx+0x10]; ...
    const a = added(OLD, '48 89 d6  48 89 cf  48 8b 41 50  48 85 c0  48 8b 41 10  48 8b 5f 08  48 8b 47 48  48 8b 47 60  c3');
    expect(a).toMatchObject({ arg: 1, disp: 0x50, past: false, oldOffsets: [0x8, 0x10, 0x48, 0x60] });
    expect(describeAddedField(a!)).toMatch(/\[arg1\+0x50\] \(8 bytes\), an offset the old function never accesses on that pointer \(it accesses \+0x8, \+0x10, \+0x48, \+0x60\)/);
  });

  test('a write of a new field through the second argument is refused too', () => {
    // mov rax,[rdx+0x8]; ret  ->  mov rax,[rdx+0x8]; mov dword [rdx+0x20],1; ret
    expect(added('48 8b 42 08  c3', '48 8b 42 08  c7 42 20 01 00 00 00  c3')).toMatchObject({ arg: 2, disp: 0x20, size: 4, past: true });
  });

  test('a changed body reading only offsets the old body accesses passes', () => {
    // The logic around the fields changes (cmp/add instead of loads, another order), the
    // offsets do not: cmp dword [rdi+0x48],0; mov rbx,[rdi+0x8]; add rax,[rcx+0x10]; mov rax,[rdi+0x60]
    expect(added(OLD, '48 89 cf  83 7f 48 00  48 8b 5f 08  48 03 41 10  48 8b 47 60  c3')).toBeNull();
    // A narrower read inside an old field: mov eax,[rdi+0x4c] inside the old qword at +0x48.
    expect(added(OLD, '48 89 cf  48 8b 41 10  8b 47 4c  c3')).toBeNull();
  });

  test('an old access through a reload a callee may have replaced covers no new access (probe field-box)', () => {
    // gcc -O2 show: push rbx; sub rsp,0x30; xor eax,eax; mov [rsp+0x28],rcx (b.obj = r); mov rbx,rcx; lea rcx,[rsp+0x20] (&b);
    // mov [rsp+0x20],rax; call reroute; mov rdx,[rsp+0x28] (b.obj: g_other now); mov rax,[rbx] (r->a); add rax,[rdx+0x10] (b.obj->z)
    const head = '53  48 83 ec 30  31 c0  48 89 4c 24 28  48 89 cb  48 8d 4c 24 20  48 89 44 24 20  e8 00 00 00 00  48 8b 54 24 28  48 8b 03  48 03 42 10';
    const tail = '48 83 c4 30  5b  c3';
    // v2: s = s * 2 + r->c (add rax,rax; add rax,[rbx+0x10]): r's +0x10 is new, b.obj's +0x10 covers it no more.
    const a = added(`${head}  ${tail}`, `${head}  48 01 c0  48 03 43 10  ${tail}`);
    expect(a).toMatchObject({ arg: 1, disp: 0x10, size: 8, past: true, oldOffsets: [0], replaced: true });
    expect(describeAddedField(a!)).toBe(
      "structure layout changed: accesses [arg1+0x10] (8 bytes), past the old function's last field access +0x0 on that pointer; the old access there reloads the pointer from a frame object handed to a callee, which may have replaced it (a field added; needs a baseline)",
    );
    // The twin: s = s * 2 + r->a (add rax,rax; add rax,[rbx]); b.obj's +0x10 read through the same reload on both sides.
    expect(added(`${head}  ${tail}`, `${head}  48 01 c0  48 03 03  ${tail}`)).toBeNull();
  });

  test('uncertain accesses: evidence that the old body dereferences the argument, coverage only of the same reloads', () => {
    const at = (disp: number, extra: Partial<ArgAccess> = {}): ArgAccess => ({ arg: 1, disp, size: 8, ...extra });
    // Only uncertain old accesses on arg1: still a structure pointer for the rule; the new +0x10 is not covered.
    expect(findAddedField([at(0x10, { uncertain: true, slots: [-8] })], [at(0x10)])).toMatchObject({ disp: 0x10, oldOffsets: [], replaced: true });
    expect(describeAddedField(findAddedField([at(0x10, { uncertain: true })], [at(0x10)])!)).toMatch(/\(8 bytes\), an offset the old function never accesses on that pointer; the old access there/);
    // A new uncertain access through the same slots is covered; through others, or with none named, it is not.
    expect(findAddedField([at(0x10, { uncertain: true, slots: [-24, -16] })], [at(0x10, { uncertain: true, slots: [-24, -16] })])).toBeNull();
    expect(findAddedField([at(0x10, { uncertain: true, slots: [-24, -16] })], [at(0x10, { uncertain: true, slots: [-16] })])).toMatchObject({ disp: 0x10 });
    expect(findAddedField([at(0x10, { uncertain: true })], [at(0x10, { uncertain: true })])).toMatchObject({ disp: 0x10 });
    // A certain old access covers a new uncertain one.
    expect(findAddedField([at(0x10)], [at(0x10, { uncertain: true, slots: [-8] })])).toBeNull();
  });

  test('stack slots, clobbered registers and pointers the old body never dereferences give no refusal', () => {
    // mov rax,[rsp+0x70]: a stack slot, whatever the old body read.
    expect(added(OLD, '48 89 cf  48 8b 41 10  48 8b 44 24 70  c3')).toBeNull();
    // call rel32, then mov rax,[rcx+0x50]: rcx no longer holds the argument after the call.
    expect(added(OLD, '48 89 cf  48 8b 41 10  e8 00 00 00 00  48 8b 41 50  c3')).toBeNull();
    // mov rcx,[rcx+0x8]; mov rax,[rcx+0x50]: rcx was overwritten, it is another object.
    expect(added(OLD, '48 8b 49 08  48 8b 41 50  c3')).toBeNull();
    // The old body never dereferences r8 (arg3): nothing says what it points to.
    expect(added(OLD, '48 89 cf  48 8b 41 10  49 8b 40 30  c3')).toBeNull();
    // An MSVC funclet (push rbp; sub rsp,0x20; mov rbp,rdx; mov eax,[rbp+0xa0]): rdx is the
    // parent's frame, its slots are no structure's fields.
    expect(added('40 55  48 83 ec 20  48 8b ea  8b 85 98 00 00 00  c3', '40 55  48 83 ec 20  48 8b ea  8b 85 a0 00 00 00  c3')).toBeNull();
    // The same body without the funclet prologue is a structure pointer copied into rbp.
    expect(added('48 8b ea  8b 85 98 00 00 00  c3', '48 8b ea  8b 85 a0 00 00 00  c3')).toMatchObject({ arg: 2, disp: 0xa0, past: true });
    // An indexed access through the argument is an array element, not a field.
    expect(added(OLD, '48 89 cf  48 8b 41 10  48 8b 44 c7 70  c3')).toBeNull();
  });

  test('padding nops and prefetch hints name an address but access no field', () => {
    // mov rax,rcx; nopl 0x0(%rax) (0f 1f 40 00); then new reads [rax+0x0]: no old access covers it.
    expect(added('48 89 c8  0f 1f 40 00  48 8b 40 08  c3', '48 89 c8  48 8b 00  48 8b 40 08  c3')).toMatchObject({ arg: 1, disp: 0 });
    // prefetcht0 [rcx+0x40] in the new body is no new field.
    expect(added('48 8b 41 08  c3', '0f 18 49 40  48 8b 41 08  c3')).toBeNull();
  });

  describe('registers followed on paths, not in address order', () => {
    // [argument, offset], and 'some' for an access the register makes on some of the paths only (ArgAccess.some).
    const at = (hex: string, entry?: number, tables?: ReadonlyMap<number, readonly number[]>): Array<[number, number] | [number, number, 'some']> => {
      const { bytes, spans } = encodedBody(hex);
      return argAccessesOf(bytes, spans, entry, tables).map((x) => (x.some === true ? [x.arg, x.disp, 'some'] : [x.arg, x.disp]));
    };

    test("an instruction after a jmp holds what the branches reaching it left (7za 5.2.0's 0x43884f)", () => {
      // mov rsi,r9; test edx,edx; jne L; mov rsi,rcx; mov eax,[rsi+0x4]; jmp END;
      // L: cmp [rsi+0x8],r12d (rsi is arg4: only the jne from the entry reaches it); END: ret
      expect(at('4c 89 ce  85 d2  75 08  48 89 ce  8b 46 04  eb 04  44 39 66 08  c3')).toEqual([[1, 0x4], [4, 0x8]]);
    });

    test('two landings that disagree on a register: neither argument on every path, each on some', () => {
      // mov rsi,r9; test edx,edx; jne L; mov rsi,rcx; mov eax,[rsi+0x4]; test eax,eax; jne L; ret; L: cmp [rsi+0x8],r12d; ret
      expect(at('4c 89 ce  85 d2  75 0b  48 89 ce  8b 46 04  85 c0  75 01  c3  44 39 66 08  c3')).toEqual([[1, 0x4], [1, 0x8, 'some'], [4, 0x8, 'some']]);
    });

    test('a register one path sets and another never does is unknown where they meet (on some path only)', () => {
      // test edx,edx; je L; mov rsi,rcx; L: mov eax,[rsi+0x8]; ret (address order saw arg1 in rsi at L on every path)
      expect(at('85 d2  74 03  48 89 ce  8b 46 08  c3')).toEqual([[1, 0x8, 'some']]);
      // The same with both paths setting it: arg1 at L on every path.
      expect(at('48 89 ce  85 d2  74 03  48 89 ce  8b 46 08  c3')).toEqual([[1, 0x8]]);
    });

    test('a loop whose back edge overwrites the register: unknown at the loop head, its first round on some path', () => {
      // mov rsi,rcx; L: mov eax,[rsi+0x8]; mov rsi,[rsi]; test rsi,rsi; jne L; ret (a list walk: only the first node is arg1)
      expect(at('48 89 ce  8b 46 08  48 8b 36  48 85 f6  75 f5  c3')).toEqual([[1, 0x8, 'some'], [1, 0x0, 'some']]);
      // A loop that leaves rsi alone keeps it: mov rsi,rcx; L: mov eax,[rsi+0x8]; dec edx; jne L; ret
      expect(at('48 89 ce  8b 46 08  ff ca  75 f9  c3')).toEqual([[1, 0x8]]);
    });

    test('an access made on one path only is still an access of the body', () => {
      // test edx,edx; je L; mov eax,[rcx+0x10]; L: mov eax,[rcx+0x8]; ret
      expect(at('85 d2  74 03  8b 41 10  8b 41 08  c3')).toEqual([[1, 0x10], [1, 0x8]]);
      // Reached only by a branch after a ret: jne L; ret; L: mov eax,[rcx+0x20]; ret
      expect(at('85 d2  75 01  c3  8b 41 20  c3')).toEqual([[1, 0x20]]);
    });

    test("a frame slot a path never stored to gives no argument on that path's reload", () => {
      // test edx,edx; je L; mov [rsp+0x8],rcx; L: mov rax,[rsp+0x8]; mov eax,[rax+0x4]; ret (arg1 through the store's path only)
      expect(at('85 d2  74 05  48 89 4c 24 08  48 8b 44 24 08  8b 40 04  c3')).toEqual([[1, 0x4, 'some']]);
      // Stored on every path (the spill first): the reload is arg1.
      expect(at('48 89 4c 24 08  85 d2  74 00  48 8b 44 24 08  8b 40 04  c3')).toEqual([[1, 0x4]]);
    });

    test("a jump table's cases start from the state at the indirect jump", () => {
      // mov rsi,rcx; jmp rax (cases at 6); mov rsi,rdx (unreached); case: mov eax,[rsi+0x8]; ret
      const body = '48 89 ce  ff e0  48 89 d6  8b 46 08  c3';
      expect(at(body, 0, new Map([[3, [8]]]))).toEqual([[1, 0x8]]);
    });
  });
});
