/**
 * Moved absolute fields (format 2.5, FORMAT.md "Moved fixups") on real bytes: bufferutil
 * 4.0.9 -> 4.1.0 (MSVC), built with --skip-refused so the verifier proves the package turns
 * OLD into NEW, replaces read-only data whose pointers point into itself; those pointers must
 * travel as moved abs64 fields (no fixup record), derive to what the records said, and each
 * one removed must be caught by the verifier (the field would keep its OLD pointer).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage } from '../compiler/index.ts';
import { decodePayload, encodePayload } from '../formats/codec.ts';
import type { DataBlock, HotpatchPackage } from '../formats/package.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'bufferutil-4.0.9-4.1.0');
const o = pair === undefined ? null : fetchRealFile(pair.old);
const n = pair === undefined ? null : fetchRealFile(pair.new);
const unavailable = pair === undefined ? 'pair not in the manifest' : !o!.ok ? o!.error.message : !n!.ok ? n!.error.message : undefined;

const moved64Of = (b: DataBlock): readonly number[] => (b.bytes.kind === 'delta' ? (b.bytes.implicit?.moved64 ?? []) : []);

function withoutField(pkg: HotpatchPackage, block: number, offset: number): HotpatchPackage {
  return {
    ...pkg,
    dataBlocks: pkg.dataBlocks.map((b, i) => (i !== block || b.bytes.kind !== 'delta' || b.bytes.implicit === undefined ? b : { ...b, bytes: { ...b.bytes, implicit: { ...b.bytes.implicit, moved64: moved64Of(b).filter((x) => x !== offset) } } })),
  };
}

describe.skipIf(unavailable !== undefined)(`moved abs64 fields on bufferutil 4.0.9 -> 4.1.0${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('carry the pointers of replaced data, round-trip, verify, and each removed one is caught', () => {
    const d = diffFiles(new Uint8Array(readFileSync((o as { value: string }).value)), new Uint8Array(readFileSync((n as { value: string }).value)));
    if (!d.ok) throw new Error(d.error.message);
    const built = buildFromDiff(d.value, { moduleName: 'bufferutil.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!built.ok) throw new Error(`${built.error.code}: ${built.error.message}`);
    const pkg = built.value.emitted.pkg;
    const fields = pkg.dataBlocks.flatMap((b, i) => moved64Of(b).map((off) => [i, off] as const));
    // Measured: 113 fields in 2 data blocks; no block lists an ABS64 record into itself.
    expect(fields.length).toBeGreaterThan(100);
    expect(pkg.dataBlocks.flatMap((b) => b.fixups.filter((f) => f.kind === 'abs64' && f.target.kind === 'block' && f.target.blockId === b.id))).toEqual([]);
    const back = decodePayload(encodePayload(pkg));
    if (!back.ok) throw new Error(back.error.message);
    expect(back.value.dataBlocks.map(moved64Of)).toEqual(pkg.dataBlocks.map(moved64Of));
    expect(verifyPackage(d.value, pkg).ok).toBe(true);
    // Every 16th field, first and last included, removed: the verifier sees the OLD pointer left there.
    const picked = fields.filter((_, k) => k % 16 === 0 || k === fields.length - 1);
    const missed = picked.filter(([b, off]) => verifyPackage(d.value, withoutField(pkg, b, off)).ok);
    expect(missed).toEqual([]);
  });
});
