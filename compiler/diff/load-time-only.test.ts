/**
 * Load-time-only code on the sample DLLs (GCC + ld, clang + lld; with symbols and stripped):
 * the constructor list is found from bytes and base relocations, the functions only a
 * constructor or the DLL entry point reaches are load-time-only, and the functions load-time
 * code shares with later code, or whose address it hands out (atexit), are not.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parsePe } from '../../runtime/pe/parse-pe.ts';
import type { ImageAnalysis } from '../match/analyze-image.ts';
import { scenarioDll, TOOLCHAINS, type Toolchain } from '../../samples/scenarios.ts';
import { findConstructorLists } from './constructor-list.ts';
import { findGuardedRegions } from './guarded-statics.ts';
import { prepareImage } from './diff-images.ts';
import { loadTimeOnly } from './load-time-only.ts';

function analyse(name: string, stripped: boolean, tc: Toolchain): ImageAnalysis {
  const bytes = new Uint8Array(readFileSync(scenarioDll(name, 'v1', stripped, undefined, tc)));
  const pe = parsePe(bytes);
  if (!pe.ok) throw new Error(pe.error.message);
  const a = prepareImage({ bytes, pe: pe.value });
  if (!a.ok) throw new Error(a.error.message);
  return a.value;
}

/** Entry RVA of each named function, from the build with symbols (the stripped build has the same layout). */
function entries(name: string, tc: Toolchain): (fn: string) => number {
  const a = analyse(name, false, tc);
  return (fn) => {
    const f = a.fns.functions.find((g) => g.names.includes(fn));
    if (f === undefined) throw new Error(`${name}: no function ${fn}`);
    return f.entry;
  };
}

/** Entry RVAs of the load-time-only functions of an analysis. */
const loadTimeEntries = (a: ImageAnalysis): Set<number> => new Set([...loadTimeOnly(a).keys()].map((k) => a.fns.functions[k]!.entry));

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('%s, stripped %s', (tc, stripped) => {
  test('static-ctor-fix: the constructor list holds the C++ initialiser and the constructor function', () => {
    const at = entries('static-ctor-fix', tc);
    const a = analyse('static-ctor-fix', stripped, tc);
    const lists = findConstructorLists(a.img);
    expect(lists).toHaveLength(1);
    const targets = lists[0]!.targets.map(Number);
    expect(targets).toContain(at('init_bias'));
    const init = a.fns.functions.filter((f) => targets.includes(f.entry) && f.decoded.refs.some((r) => r.isCall && r.target === at('fill_rates')));
    expect(init, 'one list entry calls fill_rates (the C++ dynamic initialiser)').toHaveLength(1);
  });

  test('static-ctor-fix: what only constructors reach is load-time-only; shared callees and atexit destructors are not', () => {
    const at = entries('static-ctor-fix', tc);
    const only = loadTimeEntries(analyse('static-ctor-fix', stripped, tc));
    expect(only.has(at('fill_rates'))).toBe(true);
    expect(only.has(at('init_bias'))).toBe(true);
    // scaled: fill_rates and rate_sum both call it; bias_step: init_bias calls it, rate_sum
    // takes its address (and calls it through a pointer); rate_sum, hp_run: exported code.
    for (const fn of ['scaled', 'bias_step', 'rate_sum', 'hp_run']) expect(only.has(at(fn)), fn).toBe(false);
    // The destructor the initialiser registers with atexit runs at exit, after any patch.
    if (tc === 'gcc') expect(only.has(at('__tcf_0'))).toBe(false);
  });

  test('dllmain-fix: DllMain is reached only from the DLL entry point; seeded is not load-time-only', () => {
    const at = entries('dllmain-fix', tc);
    const a = analyse('dllmain-fix', stripped, tc);
    const only = loadTimeOnly(a);
    const dllMain = a.fns.byEntry.get(at('DllMain'))!;
    const reach = only.get(dllMain.index);
    expect(reach?.root).toEqual({ kind: 'entry-point', dll: true });
    expect(a.fns.functions[reach!.path[0]!]!.entry).toBe(a.img.pe.optionalHeader.addressOfEntryPoint);
    expect(reach!.path[reach!.path.length - 1]).toBe(dllMain.index);
    expect(loadTimeEntries(a).has(at('seeded'))).toBe(false);
  });
});

describe.each(TOOLCHAINS.flatMap((tc) => [false, true].map((stripped) => [tc, stripped] as const)))('guarded statics, %s, stripped %s', (tc, stripped) => {
  test('guarded-static-fix: one guarded region in rate_of, its guard the static\'s guard variable; make_rate runs only inside it', () => {
    const at = entries('guarded-static-fix', tc);
    const withSymbols = analyse('guarded-static-fix', false, tc);
    const guardVar = withSymbols.items.find((d) => d.name === '_ZGVZ7rate_ofE1r');
    expect(guardVar, 'the guard variable (symbols build)').toBeDefined();
    const a = analyse('guarded-static-fix', stripped, tc);
    const regions = findGuardedRegions(a);
    expect(regions.map((r) => [a.fns.functions[r.owner]!.entry, r.guard])).toEqual([[at('rate_of'), guardVar!.start]]);
    const reach = loadTimeOnly(a).get(a.fns.byEntry.get(at('make_rate'))!.index);
    expect(reach?.root).toMatchObject({ kind: 'guarded-static', guard: guardVar!.start, owner: a.fns.byEntry.get(at('rate_of'))!.index });
    // rate_of itself runs on every call.
    expect(loadTimeEntries(a).has(at('rate_of'))).toBe(false);
  });

  test('no guarded region where no static has a dynamic initialiser (static-ctor-fix)', () => {
    expect(findGuardedRegions(analyse('static-ctor-fix', stripped, tc))).toEqual([]);
  });
});

test('a -1 .. 0 run that the destructor list does not follow is no constructor list', () => {
  const a = analyse('static-ctor-fix', true, 'gcc');
  const [list] = findConstructorLists(a.img);
  expect(list).toBeDefined();
  const image = new Uint8Array(a.img.image);
  // The destructor list's -1 sits right after the constructor list's terminating 0.
  const dtors = list!.rva + 8 * (list!.slots.length + 2);
  expect(Array.from(image.subarray(dtors, dtors + 8))).toEqual(new Array(8).fill(0xff));
  image[dtors] = 0xfe;
  expect(findConstructorLists({ ...a.img, image })).toEqual([]);
});
