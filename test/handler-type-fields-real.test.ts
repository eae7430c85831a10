/**
 * A handler-data field naming a TypeDescriptor (FH4 HandlerType.dispType) names the object at
 * its address, never the end of the one before it, on MSVC's watcher 2.5.0 -> 2.5.1
 * (samples/real; skipped with the reason when the cache lacks it): `.?AVexception@stdext@@`
 * starts where `.?AVruntime_error@std@@` ends, and the functions catching it are no longer
 * refused for a layout change of those two globals. `.?AVregex_error@std@@` moved (OLD .data
 * 0x78f98, NEW 0x7a040): each TypeDescriptor is an item of its own and pairs with OLD's of the
 * same decorated name (compiler/image/type-descriptors.ts), so the functions catching it are
 * no longer refused; renamed in NEW, it has no counterpart and refuses them again.
 *
 * The delay-load tail thunk `__tailMerge_node_exe` (0x2f325) passes its descriptor (moved
 * 0x75bfc -> 0x76f2c) to the helper: it is unchanged, the descriptor of node.exe meaning OLD's
 * (compiler/image/delay-imports.ts), and the verifier takes only OLD's descriptor as its image.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, DEFAULT_VERIFY_LAYOUT, diffFiles } from '../compiler/index.ts';
import { PaperImage } from '../compiler/verify/paper-image.ts';
import { TargetChecker } from '../compiler/verify/check-target.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';
import { openForPaper } from './support/paper-package.ts';

const pair = realPairs().find((p) => p.label === 'watcher-2.5.0-2.5.1');
const paths = pair === undefined ? null : [cachePath(pair.old), cachePath(pair.new)];
const unavailable = paths === null ? 'pair not in samples/real/manifest.json' : paths.some((p) => !existsSync(p)) ? 'watcher 2.5.0 / 2.5.1 not in samples/real/cache (run npm run samples:fetch)' : undefined;

describe.skipIf(unavailable !== undefined)(`handler type fields name the TypeDescriptor at their address${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('a caught type starting where another ends is no layout change; a moved type pairs by its name', () => {
    const d = diffFiles(new Uint8Array(readFileSync(paths![0]!)), new Uint8Array(readFileSync(paths![1]!)));
    if (!d.ok) throw new Error(d.error.message);
    const at = (rva: number) => d.value.functions.find((f) => f.newRva === rva)!;
    // 0xf8d0 and 0x23390 catch exception@stdext (new .data 0x7a018, right after
    // runtime_error@std at 0x79ff0; OLD does not hold the two adjacent).
    for (const rva of [0xf8d0, 0x23390]) {
      const f = at(rva);
      expect(f.status).toBe('changed');
      expect(`${f.verdict} ${f.reason?.message ?? ''}`).not.toMatch(/also the end of/);
    }
    // 0x4170 catches regex_error@std (NEW .data 0x7a040, OLD 0x78f98).
    const m = d.value.match;
    const ni = m.new.itemAt(0x7a040)!;
    expect([ni.start, ni.end]).toEqual([0x7a040, 0x7a070]);
    const oi = m.old.items[m.itemNewToOld[ni.index]!]!;
    // OLD's descriptor ends where ios_base::failure's starts (no code names that one).
    expect([oi.start, oi.end]).toEqual([0x78f98, 0x78fc0]);
    expect(`${at(0x4170).verdict} ${at(0x4170).reason?.message ?? ''}`).not.toMatch(/0x7a040/);
  }, 120_000);

  it('a TypeDescriptor whose name OLD does not have stays unpaired', () => {
    const renamed = new Uint8Array(readFileSync(paths![1]!));
    const name = Buffer.from('.?AVregex_error@std@@\0', 'latin1');
    const at = Buffer.from(renamed).indexOf(name);
    expect(at).toBeGreaterThan(0);
    renamed[at + 4] = 'R'.charCodeAt(0);
    const d = diffFiles(new Uint8Array(readFileSync(paths![0]!)), renamed);
    if (!d.ok) throw new Error(d.error.message);
    const r = d.value.functions.find((f) => f.newRva === 0x4170)!;
    expect(r.verdict).toBe('refused');
    expect(r.reason?.message).toMatch(/reference to writable data 0x7a040 \(\.data\) with no counterpart in the old image/);
  }, 120_000);

  it("a delay-load descriptor means OLD's descriptor of the same DLL, in the diff and in the verifier", () => {
    const d = diffFiles(new Uint8Array(readFileSync(paths![0]!)), new Uint8Array(readFileSync(paths![1]!)));
    if (!d.ok) throw new Error(d.error.message);
    expect(d.value.functions.find((f) => f.newRva === 0x2f325)?.status ?? 'unchanged').toBe('unchanged');
    const b = buildFromDiff(d.value, { moduleName: 'watcher.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) throw new Error(b.error.message);
    const pkg = openForPaper(b.value.emitted.pkg, d.value.match.old.img.image);
    const paper = PaperImage.build(d.value.match.old.img, pkg, DEFAULT_VERIFY_LAYOUT);
    if (!paper.ok) throw new Error(paper.error.message);
    const checker = new TargetChecker(d.value, pkg, paper.value, new Map(), new Set());
    const base = paper.value.imageBase;
    expect(checker.check(0x76f2c, base + 0x75bfcn, 'lea rcx').ok).toBe(true);
    // NEW's own address, or 32 bytes on (the null terminator in OLD), is not its image.
    expect(checker.check(0x76f2c, base + 0x76f2cn, 'lea rcx').ok).toBe(false);
    expect(checker.check(0x76f2c, base + 0x75c1cn, 'lea rcx').ok).toBe(false);
  }, 120_000);
});
