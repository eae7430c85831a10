/**
 * An argument stored in a frame object whose address the body hands out (issue #14, safety):
 * probe field-box (test/probes/field-box.c) keeps its argument r in `struct box b = {0, r}` and
 * passes &b to reroute, which points b.obj at another object; show then reads b.obj's +0x10.
 * The call receives the box's first byte (`lea rcx,[rsp+0x20]`), b.obj lies 8 bytes above it
 * (`mov [rsp+0x28],rcx`): frame-slots.ts takes a slot's address as taken only when the address
 * handed out lies within it, so the reload of b.obj after the call counts as the argument and
 * `[b.obj+0x10]` as the old show's access at r+0x10. v2 adds r->c at +0x10, which that access
 * covered: show was hotpatchable at gcc -O0..-Os and clang -O0/-O1. Patched live, v2's show
 * reads c from objects v1's make built without it: neither version's lines.
 *
 * The rule: the handed-out object may span the 8-byte units the body wrote above its address
 * before the call (frame-slots.ts `mayBeSpanned`), and an access through a reload from such a
 * slot is uncertain (added-field.ts ArgAccess.uncertain): in the old body it covers no new
 * access, except a new one through reloads of the same slots (the twin). Only the old body's
 * coverage shrinks: the span is a guess, applied to both bodies' accesses it would drop a right
 * refusal on swc-html 1.15.24 -> 1.15.33 (0x2a9df0's arg2 slot at [rsp+0x118] above separate
 * spills at 0x100..0x110). show is refused at all eight builds; the live rows lift the rule.
 * The twin field-box-fix (same box, a pure logic change) stays hotpatchable and prints v2.
 *
 * field-box-call stores b.obj before a call (`b.obj = r; b.tag = tag_of(r->b); reroute(&b)`):
 * the object's extent cannot be cut at the call before its handoff. Counting only the bytes
 * written since that call made show hotpatchable at gcc -O0..-Os and clang -O0/-O1 (the live
 * rows below: neither version's lines). Its twin field-box-call-fix stays hotpatchable.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Toolchain } from '../samples/scenarios.ts';
import { buildLayoutProbe, changedVerdicts, diffDlls, liftRule, probeVerdicts, startLayoutProbe, writeProbePackage } from './support/layout-probes.ts';
import { liveSuite, patchedRound } from './support/live-suite.ts';
import { missingTools } from './support/tools.ts';

const skip = missingTools(['wine', 'mingw', 'clang']);
const buildSkip = missingTools(['mingw', 'clang']);
const suite = liveSuite('hp-probe-field-box-', skip);
const OPTS = ['-O0', '-O1', '-O2', '-Os'] as const;
const CODE = 'STRUCTURE_FIELD_ADDED';
const REFUSED = `make: ${CODE}, show: ${CODE}`;

/** Per probe and toolchain, the changed functions' verdicts at -O0, -O1, -O2, -Os. */
const VERDICTS: Record<string, Record<Toolchain, readonly string[]>> = {
  'field-box': {
    gcc: [REFUSED, REFUSED, REFUSED, REFUSED],
    clang: [REFUSED, REFUSED, REFUSED, REFUSED],
  },
  'field-box-fix': {
    gcc: ['show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable'],
    clang: ['show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable'],
  },
  'field-box-call': {
    gcc: [REFUSED, REFUSED, REFUSED, REFUSED],
    clang: [REFUSED, REFUSED, REFUSED, REFUSED],
  },
  'field-box-call-fix': {
    gcc: ['show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable'],
    clang: ['show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable', 'show: hotpatchable'],
  },
};

/** The builds each probe runs live (field-box-call: those the narrowed extent made hotpatchable). */
const LIVE = [['gcc', '-O2'], ['gcc', '-O0'], ['clang', '-O0'], ['clang', '-O1']] as const;
const RED = (['field-box', 'field-box-call'] as const).flatMap((name) => LIVE.map(([tc, opt]) => [name, tc, opt] as const));

/** Changed functions as `name: verdict or code`, the harness's own left out. */
const verdicts = (name: string, tc: Toolchain, opt: string, dir: string): string =>
  probeVerdicts(diffDlls(buildLayoutProbe(join(dir, opt), name, 1, tc, opt), buildLayoutProbe(join(dir, opt), name, 2, tc, opt))).join(', ');

describe.skipIf(buildSkip !== undefined)(`field-box probes, verdicts by both compilers at four levels${buildSkip ? ` (skipped: ${buildSkip})` : ''}`, () => {
  test.each(Object.keys(VERDICTS))('%s', (name) => {
    const dir = join(suite.dir() || '/tmp', `hp-field-box-verdicts-${process.pid}`);
    for (const tc of ['gcc', 'clang'] as const) {
      expect(OPTS.map((opt) => verdicts(name, tc, opt, dir)), `${name} ${tc}`).toEqual(VERDICTS[name]![tc]);
    }
  }, 120_000);
});

describe.skipIf(skip !== undefined)(`field-box probes live under Wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test.each(RED)('%s (%s %s): show refused; carried with the rule lifted, v2\'s show reads c from v1\'s objects', async (name, tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, name, tc, opt);
    expect(changedVerdicts(d)).toEqual([`make: ${CODE}`, `show: ${CODE}`]);
    // make's refusal lifted too (refused by its own new store, it runs no more: the objects are made).
    const before = liftRule(d, CODE);
    expect(before.hotpatchable, 'nothing else refuses the pair').toBe(true);
    const after = await patchedRound(h, await writeProbePackage(suite.dir(), before, `${name}.dll`, `${name}-${tc}${opt}.hpk`), `${name}.dll`);
    const shows = (out: string): string[] => out.split('\n').filter((l) => l.startsWith('show('));
    // v1 prints a + 700, v2 (a + 700) * 2 + 1000 * a; v1's objects have no c: (a + 700) * 2.
    expect(shows(old)).toEqual(['show(0) = 701', 'show(1) = 702', 'show(2) = 703', 'show(3) = 704']);
    expect(shows(neu)).toEqual(['show(0) = 2402', 'show(1) = 3404', 'show(2) = 4406', 'show(3) = 5408']);
    expect(shows(after)).toEqual(['show(0) = 1402', 'show(1) = 1404', 'show(2) = 1406', 'show(3) = 1408']);
  }, 120_000);

  test.each((['field-box-fix', 'field-box-call-fix'] as const).flatMap((name) => LIVE.map(([tc, opt]) => [name, tc, opt] as const)))('%s (%s %s): hotpatchable, and patched live it prints v2', async (name, tc, opt) => {
    const { h, old, neu, d } = await startLayoutProbe(suite, name, tc, opt);
    expect(neu).not.toBe(old);
    expect(changedVerdicts(d)).toEqual(['show: hotpatchable']);
    const pkg = await writeProbePackage(suite.dir(), d, `${name}.dll`, `${name}-${tc}${opt}.hpk`);
    expect(await patchedRound(h, pkg, `${name}.dll`)).toBe(neu);
  }, 120_000);
});
