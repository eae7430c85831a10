/**
 * The class of carried function that made node.exe die after @rollup/rollup-win32-x64-msvc
 * 4.64.7 -> 4.64.8 was live-patched with main's `--skip-refused` package (183 changed and 1648
 * added functions carried, about 700 changed functions left old because they needed something
 * refused). node.exe faulted in the first workload round inside OLD 0xbb6d0, an enum drop glue
 * the diff rightly calls unchanged (matched to NEW 0xbb530: same code, same self-relative
 * jump-table entries, same callees), fed a value only new code understood; other runs faulted
 * in other unchanged drop glue (0xce360). Isolated on 2026-12-03 by carrying subsets of the
 * changed functions and applying each package to a real node.exe (test/real-live harness,
 * rollup workload): one carried function alone killed it, NEW 0x3f6a0, whose callees 0x46340
 * and 0x47080 (changed) stayed old. The class: new code next to a changed function left old
 * (compiler/diff/left-old.ts). This test pins that the package built for the pair has no
 * such neighbour; napi-addons.test.ts runs it live.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from '../../compiler/index.ts';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'rollup-4.64.7-4.64.8');
const o = pair === undefined ? null : fetchRealFile(pair.old);
const n = pair === undefined ? null : fetchRealFile(pair.new);
const skip = o === null || !o.ok || n === null || !n.ok ? 'rollup 4.64.7 -> 4.64.8 unavailable' : undefined;

describe.skipIf(skip !== undefined)(`rollup 4.64.7 -> 4.64.8: no carried function next to a changed function left old${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  test('the drop glue is unchanged, and the --skip-refused package carries no neighbour of old changed code', { timeout: 600_000 }, () => {
    const d = diffFiles(new Uint8Array(readFileSync((o as { value: string }).value)), new Uint8Array(readFileSync((n as { value: string }).value)));
    if (!d.ok) throw new Error(`${d.error.code}: ${d.error.message}`);
    const byOld = (rva: number) => d.value.functions.find((f) => f.oldRva === rva);
    const byNew = (rva: number) => d.value.functions.find((f) => f.newRva === rva);
    // The faulting function is really equal on both sides: the fault is not in it.
    expect(byOld(0xbb6d0)).toMatchObject({ status: 'unchanged', newRva: 0xbb530 });
    // The function that killed node.exe on its own is carriable by itself; its callees changed.
    expect(byNew(0x3f6a0)).toMatchObject({ status: 'changed', verdict: 'hotpatchable' });
    expect(byNew(0x46340)?.status).toBe('changed');

    const built = buildFromDiff(d.value, { moduleName: 'rollup.win32-x64-msvc.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!built.ok) throw new Error(`${built.error.code}: ${built.error.message}`);
    const m = d.value.match;
    const carried = new Set<number>(built.value.emitted.pkg.functions.map((f) => Number(f.newRva)));
    expect(carried.has(0x3f6a0)).toBe(false);
    expect(built.value.emitted.omitted.find((x) => x.what === 'function 0x3f6a0')?.reason).toMatch(/which stays old \(changed, not carried\)/);
    expect(carried.size).toBeGreaterThan(0); // the independent changes still go in
    // The invariant, over the whole package: no carried function references a changed function
    // left old, and no changed function left old references a carried one.
    const changedLeftOld = new Set<number>(d.value.functions.filter((f) => f.status === 'changed' && f.newRva !== null && !carried.has(f.newRva)).map((f) => f.newRva!));
    const bad: string[] = [];
    for (const f of m.new.fns.functions) {
      for (const r of f.decoded.refs) {
        const g = m.new.fns.containing(r.target);
        if (g === undefined || g === f) continue;
        if ((carried.has(f.entry) && changedLeftOld.has(g.entry)) || (changedLeftOld.has(f.entry) && carried.has(g.entry))) bad.push(`0x${f.entry.toString(16)} -> 0x${g.entry.toString(16)}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
