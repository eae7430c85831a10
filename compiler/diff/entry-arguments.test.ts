/**
 * The entry-arguments rule on the entry-args samples' real builds (GCC and clang, symbols and
 * stripped): which OLD functions outside callers reach (exports, pointers in data, taken
 * addresses), the stack-argument slots a body reads, and the changes found: five in
 * entry-args (a register through an export, a pointer in .rdata, an unchanged export passing
 * it through, a result now returned through a hidden pointer in rcx; a stack slot through an
 * export), none in its twin entry-args-fix (a parameter
 * only changed callers pass; an export reading the same register as before); the argument roles
 * of entry-args-roles and the stack-argument roles of entry-args-stack, with their twins; the
 * swaps and shifts of entry-args-swap and entry-args-order (two pointers whose fields moved to
 * each other, a middle parameter removed), with their twins.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { scenarioDll, TOOLCHAINS, type Toolchain } from '../../samples/scenarios.ts';
import { diffFiles, type ImageDiff } from '../index.ts';
import { findEntryArgumentChanges, outsideCallerRoots } from './entry-arguments.ts';
import { regNames } from './register-effects.ts';
import { callSiteArguments, shiftedArguments, swappedArguments } from './argument-permutation.ts';
import { swappedPointers } from './pointer-fields.ts';
import { ROLE_INTEGER, ROLE_POINTER } from './argument-roles.ts';
import { stackArgumentReads, stackArgumentRoles, stackSlotNames } from './stack-arguments.ts';

const read = (s: string, v: 'v1' | 'v2', stripped: boolean, tc: Toolchain): Uint8Array => new Uint8Array(readFileSync(scenarioDll(s, v, stripped, undefined, tc)));
function diffOf(s: string, stripped: boolean, tc: Toolchain): ImageDiff {
  const d = diffFiles(read(s, 'v1', stripped, tc), read(s, 'v2', stripped, tc));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}
/** Entry RVA by name, from the build with symbols (stripped builds share its layout). */
function entries(s: string, v: 'v1' | 'v2', tc: Toolchain): Map<string, number> {
  const d = diffFiles(read(s, v, false, tc), read(s, v, false, tc));
  if (!d.ok) throw new Error(d.error.message);
  return new Map(d.value.match.new.fns.functions.flatMap((f) => f.names.map((n) => [n, f.entry] as const)));
}

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('%s, stripped: %s', (tc, stripped) => {
  test('entry-args: roots are the exports and the table entries; five changes, each naming what its new entry reads', () => {
    const d = diffOf('entry-args', stripped, tc);
    const o = entries('entry-args', 'v1', tc);
    const n = entries('entry-args', 'v2', tc);
    const roots = outsideCallerRoots(d.match);
    const rootOf = (name: string): readonly string[] => roots.get(d.match.old.fns.byEntry.get(o.get(name)!)!.index) ?? [];
    expect(rootOf('scale_by')).toEqual(['the export scale_by']);
    expect(rootOf('api_scale')).toEqual(['the export api_scale']);
    expect(rootOf('op_shift')).toEqual([expect.stringMatching(/^a pointer in \.rdata 0x[0-9a-f]+$/)]);
    expect(rootOf('op_neg')).toEqual([expect.stringMatching(/^a pointer in \.rdata 0x[0-9a-f]+$/)]);
    expect(rootOf('scaled_sum')).toEqual([]);
    const changes = findEntryArgumentChanges(d.match, d.newStatus)
      .map((c) => ({ culprit: c.culprit.entry, root: c.root.entry, through: c.through, regs: regNames(c.regs), stack: stackSlotNames(c.stack) }))
      .sort((a, b) => a.culprit - b.culprit);
    const want = [
      { culprit: n.get('scale_by')!, root: o.get('scale_by')!, through: false, regs: 'rdx', stack: '' },
      { culprit: n.get('op_shift')!, root: o.get('op_shift')!, through: false, regs: 'rdx', stack: '' },
      { culprit: n.get('weigh')!, root: o.get('weigh')!, through: false, regs: '', stack: '[rsp+0x30]' },
      { culprit: n.get('scale_impl')!, root: o.get('api_scale')!, through: true, regs: 'rdx', stack: '' },
      { culprit: n.get('make_span')!, root: o.get('make_span')!, through: false, regs: 'rdx', stack: '' },
    ].sort((a, b) => a.culprit - b.culprit);
    expect(changes).toEqual(want);
  });

  test('stack arguments: v1 weigh reads its fifth argument ([rsp+0x28]), v2 its fifth and sixth', () => {
    const d = diffOf('entry-args', stripped, tc);
    const w1 = d.match.old.fns.byEntry.get(entries('entry-args', 'v1', tc).get('weigh')!)!;
    const w2 = d.match.new.fns.byEntry.get(entries('entry-args', 'v2', tc).get('weigh')!)!;
    expect(stackSlotNames(stackArgumentReads(d.match.old.img.image, w1) ?? -1)).toBe('[rsp+0x28]');
    expect(stackSlotNames(stackArgumentReads(d.match.new.img.image, w2) ?? -1)).toBe('[rsp+0x28], [rsp+0x30]');
    // weigh_all stores its callee's stack arguments and reads none of its own.
    const a2 = d.match.new.fns.byEntry.get(entries('entry-args', 'v2', tc).get('weigh_all')!)!;
    expect(stackArgumentReads(d.match.new.img.image, a2)).toBe(0);
  });

  test('entry-args-fix: a parameter only changed callers pass, an export reading the same register: no change found', () => {
    const d = diffOf('entry-args-fix', stripped, tc);
    expect(findEntryArgumentChanges(d.match, d.newStatus)).toEqual([]);
    expect(d.hotpatchable).toBe(true);
  });
});

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('argument roles, %s, stripped: %s', (tc, stripped) => {
  test('entry-args-roles: a reorder, a removed first parameter, a result no longer through rcx (roles), and a grown signature two calls under an unchanged export', () => {
    const d = diffOf('entry-args-roles', stripped, tc);
    const o = entries('entry-args-roles', 'v1', tc);
    const n = entries('entry-args-roles', 'v2', tc);
    const changes = findEntryArgumentChanges(d.match, d.newStatus)
      .map((c) => ({ culprit: c.culprit.entry, root: c.root.entry, path: c.path.map((f) => f.entry), regs: regNames(c.regs), roles: c.roles.map((r) => [r.arg, r.old, r.new]) }))
      .sort((a, b) => a.culprit - b.culprit);
    // Roles: 1 pointer, 2 integer, 4 returned in rax; arguments 0 rcx, 1 rdx.
    const want = [
      { culprit: n.get('pick')!, root: o.get('pick')!, path: [], regs: '', roles: [[0, 1, 2], [1, 2, 1]] },
      { culprit: n.get('bump')!, root: o.get('bump')!, path: [], regs: '', roles: [[0, 1, 2]] },
      { culprit: n.get('make_trio')!, root: o.get('make_trio')!, path: [], regs: '', roles: [[0, 5, 2]] },
      { culprit: n.get('deep_impl')!, root: o.get('deep_api')!, path: [o.get('deep_api')!, o.get('deep_mid')!], regs: 'rdx', roles: [] },
    ].sort((a, b) => a.culprit - b.culprit);
    expect(changes).toEqual(want);
  });

  test('entry-args-roles-fix: roles kept (another offset, another arithmetic, still a hidden result pointer), a fix two calls deep with the same arguments, a last parameter removed: no change found', () => {
    const d = diffOf('entry-args-roles-fix', stripped, tc);
    expect(findEntryArgumentChanges(d.match, d.newStatus)).toEqual([]);
    expect(d.hotpatchable).toBe(true);
  });

  test('entry-args-stack: the fifth and sixth stack arguments swapped, a fifth removed: roles of the slots (4: [rsp+0x28], 5: [rsp+0x30])', () => {
    const d = diffOf('entry-args-stack', stripped, tc);
    const o = entries('entry-args-stack', 'v1', tc);
    const n = entries('entry-args-stack', 'v2', tc);
    const g1 = d.match.old.fns.byEntry.get(o.get('gather')!)!;
    const g2 = d.match.new.fns.byEntry.get(n.get('gather')!)!;
    // The same slots read by both bodies: the live-in comparison sees nothing.
    expect(stackArgumentReads(d.match.old.img.image, g1)).toBe(stackArgumentReads(d.match.new.img.image, g2));
    expect(stackArgumentRoles(d.match.old.img.image, g1)?.slice(0, 2)).toEqual([ROLE_POINTER, ROLE_INTEGER]);
    expect(stackArgumentRoles(d.match.new.img.image, g2)?.slice(0, 2)).toEqual([ROLE_INTEGER, ROLE_POINTER]);
    const changes = findEntryArgumentChanges(d.match, d.newStatus)
      .map((c) => ({ culprit: c.culprit.entry, root: c.root.entry, regs: c.regs, stack: c.stack, roles: c.roles.map((r) => [r.arg, r.old & 3, r.new & 3]) }))
      .sort((a, b) => a.culprit - b.culprit);
    const want = [
      { culprit: n.get('gather')!, root: o.get('gather')!, regs: 0, stack: 0, roles: [[4, 1, 2], [5, 2, 1]] },
      { culprit: n.get('span')!, root: o.get('span')!, regs: 0, stack: 0, roles: [[4, 1, 2]] },
    ].sort((a, b) => a.culprit - b.culprit);
    expect(changes).toEqual(want);
  });

  test('entry-args-stack-fix: stack roles kept (another offset, another arithmetic), a last stack parameter removed: no change found', () => {
    const d = diffOf('entry-args-stack-fix', stripped, tc);
    expect(findEntryArgumentChanges(d.match, d.newStatus)).toEqual([]);
    expect(d.hotpatchable).toBe(true);
  });

  test('entry-args-swap: two integer parameters swapped, seen at the changed caller\'s call sites; entry-args-swap-fix: the same order, another constant', () => {
    const d = diffOf('entry-args-swap', stripped, tc);
    const o = entries('entry-args-swap', 'v1', tc);
    const n = entries('entry-args-swap', 'v2', tc);
    const all = d.match.old.fns.byEntry.get(o.get('ratio_all')!)!;
    const all2 = d.match.new.fns.byEntry.get(n.get('ratio_all')!)!;
    // The first call passes constants, the second ratio_all's own n (kept in another register across the first call: unknown).
    const oldSites = callSiteArguments(d.match.old.img.image, all, o.get('ratio')!);
    const newSites = callSiteArguments(d.match.new.img.image, all2, n.get('ratio')!);
    expect(oldSites.map((s) => s.slice(0, 2))[0]).toEqual(['#60', '#7']);
    expect(newSites.map((s) => s.slice(0, 2))[0]).toEqual(['#7', '#60']);
    expect(swappedArguments(oldSites, newSites)).toEqual({ a: 0, b: 1, oldValues: ['#60', '#7'] });
    const changes = findEntryArgumentChanges(d.match, d.newStatus);
    expect(changes.map((c) => [c.culprit.entry, c.root.entry, c.regs, c.stack, c.roles.length])).toEqual([[n.get('ratio')!, o.get('ratio')!, 0, 0, 0]]);
    const f = diffOf('entry-args-swap-fix', stripped, tc);
    expect(findEntryArgumentChanges(f.match, f.newStatus)).toEqual([]);
    expect(f.hotpatchable).toBe(true);
  });

  test('call-site values: a swap needs every known site to agree; one contradicting site, or none known, is no swap', () => {
    expect(swappedArguments([['#1', '#2', null, null]], [['#2', '#1', null, null]])).toEqual({ a: 0, b: 1, oldValues: ['#1', '#2'] });
    expect(swappedArguments([['#1', '#2', null, null], ['arg:1', '#3', null, null]], [['#2', '#1', null, null], ['arg:1', '#3', null, null]])).toBeNull();
    expect(swappedArguments([['#1', null, null, null]], [[null, '#1', null, null]])).toBeNull();
    expect(swappedArguments([['#1', '#1', null, null]], [['#1', '#1', null, null]])).toBeNull();
    expect(swappedArguments([['#1', '#2', null, null]], [['#2', '#1', null, null], ['#2', '#1', null, null]])).toBeNull();
  });

  test('entry-args-order: two pointers whose fields moved to each other (area_of), a middle parameter removed (mix3); entry-args-order-fix: the same order and arity', () => {
    const d = diffOf('entry-args-order', stripped, tc);
    const o = entries('entry-args-order', 'v1', tc);
    const n = entries('entry-args-order', 'v2', tc);
    const changes = findEntryArgumentChanges(d.match, d.newStatus);
    expect(changes.map((c) => [c.culprit.entry, c.root.entry, c.regs, c.stack, c.roles.length]).sort((x, y) => x[0]! - y[0]!)).toEqual([
      [n.get('area_of')!, o.get('area_of')!, 0, 0, 0],
      [n.get('mix3')!, o.get('mix3')!, 0, 0, 0],
    ]);
    const said = (name: string): string => changes.find((c) => c.culprit.entry === n.get(name))?.swap ?? '';
    expect(said('area_of')).toBe('dereferences rdx at the fields its old body read through rcx (+0x0 (4 bytes), +0x4 (4 bytes)) and rcx at those it read through rdx (+0x0 (8 bytes)), and neither at its own old ones (two pointer parameters reordered?)');
    expect(said('mix3')).toMatch(/^stops reading r8, and its callers in the module now pass in rdx what they passed in r8 \(old (mix_all|0x[0-9a-f]+) passed 5, 7 in rdx, r8; its new body 7 in rdx: a parameter removed\?\)$/);
    const f = diffOf('entry-args-order-fix', stripped, tc);
    expect(findEntryArgumentChanges(f.match, f.newStatus)).toEqual([]);
    expect(f.hotpatchable).toBe(true);
  });
});

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('stack roles through a thunk, %s, stripped: %s', (tc, stripped) => {
  test('entry-args-thunk: the unchanged export gather_api (`jmp gather_impl`) hands old callers\' stack slots to gather_impl, whose fifth and sixth parameters swap', () => {
    const d = diffOf('entry-args-thunk', stripped, tc);
    const o = entries('entry-args-thunk', 'v1', tc);
    const n = entries('entry-args-thunk', 'v2', tc);
    const changes = findEntryArgumentChanges(d.match, d.newStatus);
    expect(changes.map((c) => [c.culprit.entry, c.root.entry, c.through, c.path.map((f) => f.entry), c.regs, c.stack, c.roles.map((r) => r.arg)])).toEqual([
      [n.get('gather_impl')!, o.get('gather_api')!, true, [o.get('gather_api')!], 0, 0, [4, 5]],
    ]);
    // A call (not a tail jump) moves the slots: the module's own callers, unchanged or not, are no root.
    expect(changes.some((c) => c.root.entry === o.get('use_api'))).toBe(false);
  });
});

describe('argument order evidence', () => {
  test('call-site shift: the new body stops reading the last register and every known site moves the values after the removed one down a register', () => {
    // mix3(3, 5, 7) -> mix3(3, 7): rdx takes what r8 held.
    expect(shiftedArguments([['#3', '#5', '#7', null]], [['#3', '#7', 'arg:8', null]], 2)).toEqual({ from: 1, last: 2, oldValues: ['#5', '#7'], newValues: ['#7'] });
    // The first parameter removed: both move down.
    expect(shiftedArguments([['#1', '#2', '#3', null]], [['#2', '#3', null, null]], 2)).toEqual({ from: 0, last: 2, oldValues: ['#1', '#2', '#3'], newValues: ['#2', '#3'] });
    // A fix that changes the last constant in place, or still passes the old last value: no shift.
    expect(shiftedArguments([['#3', '#5', '#7', null]], [['#3', '#5', '#8', null]], 2)).toBeNull();
    expect(shiftedArguments([['#3', '#5', '#7', null]], [['#3', '#7', '#7', null]], 2)).toBeNull();
    // Equal values move nowhere; unknown values are no evidence; one contradicting site is enough.
    expect(shiftedArguments([['#3', '#7', '#7', null]], [['#3', '#7', null, null]], 2)).toBeNull();
    expect(shiftedArguments([['#3', null, '#7', null]], [['#3', null, null, null]], 2)).toBeNull();
    expect(shiftedArguments([['#3', '#5', '#7', null], ['#3', '#5', '#9', null]], [['#3', '#7', null, null], ['#3', '#5', null, null]], 2)).toBeNull();
  });

  test('pointer fields: two registers whose fields moved to each other; one more field, or two pointers of one type, is no swap', () => {
    const a = (arg: number, disp: number, size: number): { arg: number; disp: number; size: number } => ({ arg, disp, size });
    const box1 = [a(1, 0, 4), a(1, 4, 4), a(2, 0, 8)];
    const box2 = [a(2, 0, 4), a(2, 4, 4), a(1, 0, 8)];
    expect(swappedPointers(box1, box2)).toEqual({ a: 1, b: 2, fieldsA: ['+0x0 (4 bytes)', '+0x4 (4 bytes)'], fieldsB: ['+0x0 (8 bytes)'] });
    // A fix reading one more field through rcx keeps the old ones.
    expect(swappedPointers(box1, [...box1, a(1, 8, 4)])).toBeNull();
    // copy(dst, src) -> copy(src, dst) over one type: the same fields on both registers tell nothing.
    expect(swappedPointers([a(1, 0, 8), a(2, 0, 8)], [a(1, 0, 8), a(2, 0, 8)])).toBeNull();
    // Only one side dereferenced, or a lea: no evidence.
    expect(swappedPointers([a(1, 0, 4)], [a(2, 0, 4)])).toBeNull();
    expect(swappedPointers([a(1, 0, 0), a(2, 8, 8)], [a(2, 0, 0), a(1, 8, 8)])).toBeNull();
  });
});
