/**
 * "See only the true change" on the real Go pair E (esbuild 0.25.11 -> 0.25.12, stripped):
 * Go metadata offsets resolved (compiler/image/go-types.ts) and pclntab names as anchors
 * (compiler/image/go-tables.ts). Before: 1,806 changed (1,797 data-only), every one of them
 * but a handful because a type descriptor's name or method offsets moved. Each fact below was
 * checked on the disassembly of both builds. Go stays refused for patching.
 * Skipped with the reason when the corpus cannot be fetched.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { diffFiles, refuseRuntimeTablesOfFiles, type ImageDiff } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'esbuild-0.25.11-0.25.12')!;
const o = fetchRealFile(pair.old);
const n = fetchRealFile(pair.new);
const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;

describe.skipIf(unavailable !== undefined)(`esbuild 0.25.11 -> 0.25.12 (Go)${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  let diff: ImageDiff;
  let oldBytes: Uint8Array;
  let newBytes: Uint8Array;
  beforeAll(() => {
    oldBytes = new Uint8Array(readFileSync((o as { value: string }).value));
    newBytes = new Uint8Array(readFileSync((n as { value: string }).value));
    const d = diffFiles(oldBytes, newBytes);
    if (!d.ok) throw new Error(d.error.message);
    diff = d.value;
  }, 600_000);

  const byName = (name: string): ImageDiff['functions'][number] | undefined => diff.functions.find((f) => f.name === name);

  test('counts near the true change: the pclntab names of the two builds differ by one renamed method, matched as changed', () => {
    expect(diff.counts.added).toBe(0);
    expect(diff.counts.removed).toBe(0);
    // 12 true changes and 5 functions reading static data whose extent is a guess (see
    // compiler/README.md "Go"); the independent count says 15 changed.
    expect(diff.counts.changed).toBeLessThanOrEqual(17);
    expect(diff.counts.changed).toBeGreaterThanOrEqual(12);
    const renamed = diff.functions.find((f) => f.name === 'github.com/evanw/esbuild/internal/css_parser.(*DeadRuleRemover).RemoveDeadRulesInPlace');
    expect(renamed?.status).toBe('changed');
    expect(renamed?.oldRva).toBe(0x324460);
  });

  test('the true changes are changed: the version string, a grown static table, a type whose hash changed', () => {
    // "0.25.11" -> "0.25.12" at .rdata 0x622de1.
    expect(byName('main.main')?.status).toBe('changed');
    expect(byName('main.init.func1')?.status).toBe('changed');
    expect(byName('main.init.func1')?.dataOnly).toBe(true);
    // The map built from a []string that grew from 39 to 40 entries (and a loop bound).
    expect(byName('github.com/evanw/esbuild/internal/css_parser.map.init.6')?.status).toBe('changed');
    // The type descriptor at .rdata 0x5d8840 changed hash (its type string changed).
    expect(byName('github.com/evanw/esbuild/internal/css_parser.(*parser).mangleRules')?.status).toBe('changed');
    expect(byName('github.com/evanw/esbuild/internal/linker.(*linkerContext).generateChunkCSS')?.status).toBe('changed');
  });

  test('functions whose type descriptors only moved their name, method or itab offsets are unchanged', () => {
    // runtime.makechan reads the type at .rdata 0x60a500, whose gcdata bitmap moved
    // (0xb06048 -> 0xb06128) and whose methods' textOffs are the same functions;
    // runtime.panicdottypeE and runtime.initMetrics read types whose name offset (nameOff at
    // +40) moved by 0x18; strings.(*Replacer).build reads an itab that no longer runs into
    // zero padding; runtime.badsystemstack is an assembly stub with no .pdata entry, found
    // through pclntab.
    for (const name of ['runtime.makechan', 'runtime.panicdottypeE', 'runtime.initMetrics', 'strings.(*Replacer).build', 'runtime.badsystemstack']) {
      expect({ name, status: byName(name)?.status }).toEqual({ name, status: 'unchanged' });
    }
  });

  test('Go stays refused for patching: its runtime tables do not list redirected code', () => {
    const r = refuseRuntimeTablesOfFiles(oldBytes, newBytes);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('BUILD_RUNTIME_TABLES');
  });
});
