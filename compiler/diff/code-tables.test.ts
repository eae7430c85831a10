/**
 * The code-table rule: slot layouts compared through the match (appended, inserted,
 * reordered, re-targeted), calls through pointer slots found in encoded instructions, and
 * the tables of the sample pairs found from their image structures (both compilers, with
 * symbols and stripped): vtable-append, vtable-insert, vtable-reorder and ops-insert change a table's
 * layout, vtable-body-fix and fnptr only re-target slots to matched functions.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { diffFiles } from '../index.ts';
import { scenarioDll, TOOLCHAINS } from '../../samples/scenarios.ts';
import { addressUse, changedCodeTables, compareSlots, pureStubs, sharedSlots, slotCallsOf, type AddressUse } from './code-tables.ts';
import type { FunctionStatus } from './types.ts';
import { encodedBody } from './testing/encoded-body.ts';

/** Old slot targets 1, 2, 3 are matched to new targets 11, 12, 13; 98 and 99 to nothing. */
const pairs = (o: number, n: number): boolean => n === o + 10;

/** The slot calls of an encoded body. */
function calls(hex: string): Array<{ disp: number }> {
  const { bytes, spans } = encodedBody(hex);
  return slotCallsOf(bytes, spans).map((c) => ({ disp: c.disp }));
}

/** What an encoded body does with the address its `lea` at offset `at` loads. */
function use(hex: string, at: number): AddressUse {
  const { bytes, spans } = encodedBody(hex);
  return addressUse(bytes, { decoded: { insns: spans } }, at);
}

describe('slot layouts', () => {
  test('slots that only re-target to the matched functions keep the layout', () => {
    expect(compareSlots([1, 2, 3], [11, 12, 13], pairs)).toBeNull();
  });
  test('an appended slot changes the count from the old end on', () => {
    expect(compareSlots([1, 2], [11, 12, 99], pairs)).toEqual({ oldSlots: 2, newSlots: 3, firstSlot: 2 });
  });
  test('a slot inserted in the middle shifts the slots after it', () => {
    expect(compareSlots([1, 2], [11, 99, 12], pairs)).toEqual({ oldSlots: 2, newSlots: 3, firstSlot: 1 });
  });
  test('reordered slots keep the count but not the pairing', () => {
    expect(compareSlots([1, 2, 3], [11, 13, 12], pairs)).toEqual({ oldSlots: 3, newSlots: 3, firstSlot: 1 });
  });
  test('a removed slot changes the count', () => {
    expect(compareSlots([1, 2, 3], [11, 12], pairs)).toEqual({ oldSlots: 3, newSlots: 2, firstSlot: 2 });
  });
  test('a slot whose function is replaced by an unmatched one keeps the layout (no function moved)', () => {
    expect(compareSlots([1, 2], [11, 99], pairs)).toBeNull();
  });
  test('a function moved to another slot next to a replaced one changes the layout', () => {
    expect(compareSlots([1, 2, 3], [99, 11, 13], pairs)).toEqual({ oldSlots: 3, newSlots: 3, firstSlot: 0 });
  });
  test('shared slots count the functions matched across the two tables, at any slot', () => {
    expect(sharedSlots([1, 2, 3], [13, 99, 11], pairs)).toBe(2);
    expect(sharedSlots([1, 2], [98, 99], pairs)).toBe(0);
  });
  test('a table of one repeated stub (an abstract class: MSVC _purecall in every slot) is told apart', () => {
    expect(pureStubs([5, 5, 5])).toBe(true);
    expect(pureStubs([5])).toBe(false);
    expect(pureStubs([5, 6, 5])).toBe(false);
  });
});

describe('calls through pointer slots', () => {
  test('call [reg+disp] and a slot loaded into a register then called', () => {
    // mov rax,[rcx]; call [rax]; mov rax,[rbx]; call [rax+0x8]; mov rax,[rbx]; mov rax,[rax+0x10]; call rax
    expect(calls('48 8b 01  ff 10  48 8b 03  ff 50 08  48 8b 03  48 8b 40 10  ff d0')).toEqual([{ disp: 0 }, { disp: 8 }, { disp: 0x10 }]);
  });
  test('a tail jump through a slot counts', () => {
    // mov rax,[rcx]; jmp [rax+0x18]
    expect(calls('48 8b 01  ff 60 18')).toEqual([{ disp: 0x18 }]);
  });
  test('rip-relative, stack, indexed and negative operands are no slot calls; a register overwritten after the load is none', () => {
    // call [rip+0x10]; call [rsp+0x8]; call [rax+rcx*8]; call [rax-0x8]; mov rax,[rbx+0x8]; mov eax,1 (kills); call rax
    expect(calls('ff 15 10 00 00 00  ff 54 24 08  ff 14 c8  ff 50 f8  48 8b 43 08  b8 01 00 00 00  ff d0')).toEqual([]);
  });
});

describe('what code does with a table address', () => {
  // lea rdx,[rip+0x100]; lea rcx,[rip+0x200]; test edi,edi; cmove rdx,rcx; mov [rax],rdx; ret (gcc's make_shape)
  const INSTALL = '48 8d 15 00 01 00 00  48 8d 0d 00 02 00 00  85 ff  48 0f 44 d1  48 89 10  c3';
  test('stored into an object, directly or through a cmov copy', () => {
    expect(use(INSTALL, 0)).toBe('stored');
    expect(use(INSTALL, 7)).toBe('stored');
  });
  test('stored after a constant is added (clang addresses a vtable 16 bytes before its first slot)', () => {
    // lea rdx,[rip+0x100]; add rdx,0x10; mov [rcx],rdx; ret
    expect(use('48 8d 15 00 01 00 00  48 83 c2 10  48 89 11  c3', 0)).toBe('stored');
  });
  test('only the base of an indexed load: an array used in place', () => {
    // lea rax,[rip+0x100]; mov rax,[rax+rcx*8]; call rax
    expect(use('48 8d 05 00 01 00 00  48 8b 04 c8  ff d0', 0)).toBe('loads');
  });
  test('passed to a call (the rule then asks whether the end of the table is passed too)', () => {
    // lea rdx,[rip+0x170]; lea rcx,[rip+0x0]; call +0 (MSVC's _initterm(__xc_a, __xc_z))
    const INITTERM = '48 8d 15 70 01 00 00  48 8d 0d 00 00 00 00  e8 00 00 00 00';
    expect(use(INITTERM, 0)).toBe('call');
    expect(use(INITTERM, 7)).toBe('call');
  });
  test('held at a return: cannot tell, so kept', () => {
    // lea rax,[rip+0x100]; ret
    expect(use('48 8d 05 00 01 00 00  c3', 0)).toBe('unknown');
  });
});

/** The changed tables of a sample pair, as `old slots -> new slots from first`. */
function tablesOf(name: string, stripped: boolean, tc: (typeof TOOLCHAINS)[number]): string[] {
  const read = (v: 'v1' | 'v2'): Uint8Array => new Uint8Array(readFileSync(scenarioDll(name, v, stripped, undefined, tc)));
  const d = diffFiles(read('v1'), read('v2'));
  if (!d.ok) throw new Error(d.error.message);
  const byRva = new Map(d.value.functions.map((f) => [f.newRva, f.status]));
  const status: FunctionStatus[] = d.value.match.new.fns.functions.map((f) => byRva.get(f.entry) ?? 'unchanged');
  return changedCodeTables(d.value.match, status)
    .map((t) => `${t.oldSlots} -> ${t.newSlots} from ${t.firstSlot}`)
    .sort();
}

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('sample tables (%s, stripped %s)', (tc, stripped) => {
  test('vtable-append: both classes\' vtables grow from one code slot to two', () => {
    expect(tablesOf('vtable-append', stripped, tc)).toEqual(['1 -> 2 from 1', '1 -> 2 from 1']);
  });
  test('vtable-insert: a slot inserted after the first in both vtables', () => {
    expect(tablesOf('vtable-insert', stripped, tc)).toEqual(['2 -> 3 from 1', '2 -> 3 from 1']);
  });
  test('vtable-reorder: both vtables keep two slots, each method at the other one', () => {
    expect(tablesOf('vtable-reorder', stripped, tc)).toEqual(['2 -> 2 from 0', '2 -> 2 from 0']);
  });
  test('ops-insert: both callback tables gain a slot before bias', () => {
    expect(tablesOf('ops-insert', stripped, tc)).toEqual(['2 -> 3 from 1', '2 -> 3 from 1']);
  });
  test('vtable-body-fix and fnptr: slots re-target to matched functions, no layout change', () => {
    expect(tablesOf('vtable-body-fix', stripped, tc)).toEqual([]);
    expect(tablesOf('fnptr', stripped, tc)).toEqual([]);
  });
});
