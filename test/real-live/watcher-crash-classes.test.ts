/**
 * The two classes of carried function that made node.exe die after @parcel/watcher 2.5.0 ->
 * 2.5.1 was live-patched with the 392-function `--skip-refused` package of commit b5f1022.
 * Isolated on 2026-12-03 by lifting one refusal of today's compiler at a time and applying
 * the package to a real node.exe under Wine (test/real-live harness, watcher workload):
 * - functions whose read-only data holds image-relative RVAs (MSVC throw data) carried as a
 *   copy: node.exe died in the first workload round (299 redirects);
 * - functions whose structures changed layout (field offsets shift by +40): an unhandled page
 *   fault, a read of 0x8 in a carried body (276 redirects).
 * The b5f1022 package carried both kinds (26 and 6 of its functions are refused today for
 * exactly these reasons; 80 more were moved-only functions, now matched and not carried).
 * This test pins that both classes are refused on the real pair and that the package built
 * for it carries none of them; napi-addons.test.ts shows the rest patches and reverts live.
 * A third class (the second test) is the layout shift hidden by register renaming.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from '../../compiler/index.ts';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'watcher-2.5.0-2.5.1');
const o = pair === undefined ? null : fetchRealFile(pair.old);
const n = pair === undefined ? null : fetchRealFile(pair.new);
let diffed: ReturnType<typeof diffFiles> | null = null;
/** The diff of the pair, computed once for the tests of this file. */
function watcherDiff(): Extract<ReturnType<typeof diffFiles>, { ok: true }> {
  diffed ??= diffFiles(new Uint8Array(readFileSync((o as { value: string }).value)), new Uint8Array(readFileSync((n as { value: string }).value)));
  if (!diffed.ok) throw new Error(`${diffed.error.code}: ${diffed.error.message}`);
  return diffed;
}
const skip = o === null || !o.ok || n === null || !n.ok ? 'watcher 2.5.0 -> 2.5.1 unavailable' : undefined;

describe.skipIf(skip !== undefined)(`watcher 2.5.0 -> 2.5.1: the redirects that killed node.exe are refused${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  test('MSVC throw data and changed structure layouts are refused, and the --skip-refused package carries neither', { timeout: 300_000 }, () => {
    const d = watcherDiff();
    const refused = d.value.functions.filter((f) => f.verdict === 'refused');
    const throwData = refused.filter((f) => f.reason?.code === 'RODATA_NOT_CARRIED' && /image-relative RVAs \(MSVC throw data\)/.test(f.reason.message));
    const layout = refused.filter((f) => f.reason?.code === 'STRUCTURE_LAYOUT_CHANGED' && /field offsets shift by \+40/.test(f.reason.message));
    expect(throwData.length).toBeGreaterThan(0);
    expect(layout.length).toBeGreaterThan(0);
    const built = buildFromDiff(d.value, { moduleName: 'watcher.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!built.ok) throw new Error(`${built.error.code}: ${built.error.message}`);
    const carried = new Set<number>(built.value.emitted.pkg.functions.map((f) => Number(f.newRva)));
    // The same key on both sides: every carried changed function is a diff function by its NEW RVA.
    const byNew = new Set<number>(d.value.functions.map((f) => (f.newRva === null ? -1 : Number(f.newRva))));
    expect(carried.size).toBeGreaterThan(0);
    for (const rva of carried) expect(byNew.has(rva)).toBe(true);
    for (const f of [...throwData, ...layout]) expect(f.newRva !== null && carried.has(f.newRva), `refused ${f.name ?? f.newRva} is carried`).toBe(false);
  });

  // The third class, found when the matcher of j14b paired Debounce::getShared (old 0x1aa90,
  // new 0x1af00) through its function-local static's guard: the Watcher constructor (old
  // 0xa100, new 0xa300) then lost the refusal that had hidden it (a call to an unmatched
  // function) and was redirected. Its fields past 0x100 moved by +40 (mDebounce: [rsi+0x1c0]
  // -> [rbp+0x1e8]), but `this` moved from rsi to rbp, and rbp was taken for the frame pointer:
  // the layout verdict compared nothing. Live, the old Watcher methods then read a null
  // mDebounce at +0x1c0 and node.exe faulted in the old _Mtx_lock (0x30cd7, read of 0x8).
  test('a constructor whose fields moved while the register holding `this` changed is refused for the layout (+40), not redirected', { timeout: 300_000 }, () => {
    const d = watcherDiff();
    const ctor = d.value.functions.find((f) => f.oldRva === 0xa100);
    expect(ctor?.newRva).toBe(0xa300);
    expect(ctor?.status).toBe('changed');
    expect(ctor?.verdict).toBe('refused');
    expect(ctor?.reason?.code).toBe('STRUCTURE_LAYOUT_CHANGED');
    expect(ctor?.reason?.message).toMatch(/field offsets shift by \+40 from 0x100/);
    const built = buildFromDiff(d.value, { moduleName: 'watcher.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!built.ok) throw new Error(`${built.error.code}: ${built.error.message}`);
    expect(built.value.emitted.pkg.redirects.some((r) => Number(r.oldRva) === 0xa100)).toBe(false);
  });
});
