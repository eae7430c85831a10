/**
 * A handler-data field naming a TypeDescriptor (FH4 HandlerType.dispType) names the object at
 * its address, never the end of the one before it, on MSVC's watcher 2.5.0 -> 2.5.1
 * (samples/real; skipped with the reason when the cache lacks it): `.?AVexception@stdext@@`
 * starts where `.?AVruntime_error@std@@` ends, and the functions catching it are no longer
 * refused for a layout change of those two globals. A type with no counterpart in OLD
 * (`.?AVregex_error@std@@`, new in 2.5.1) still refuses the functions catching it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffFiles } from '../compiler/index.ts';
import { cachePath, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'watcher-2.5.0-2.5.1');
const paths = pair === undefined ? null : [cachePath(pair.old), cachePath(pair.new)];
const unavailable = paths === null ? 'pair not in samples/real/manifest.json' : paths.some((p) => !existsSync(p)) ? 'watcher 2.5.0 / 2.5.1 not in samples/real/cache (run npm run samples:fetch)' : undefined;

describe.skipIf(unavailable !== undefined)(`handler type fields name the TypeDescriptor at their address${unavailable === undefined ? '' : `: skipped, ${unavailable}`}`, () => {
  it('a caught type starting where another ends is no layout change; a new type stays refused', () => {
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
    // 0x4170 catches regex_error@std (new .data 0x7a040), which OLD does not have.
    const r = at(0x4170);
    expect(r.verdict).toBe('refused');
    expect(r.reason?.message).toMatch(/reference to writable data 0x7a040 \(\.data\) with no counterpart in the old image/);
  }, 120_000);
});
