/**
 * Fuzzing the wasm core's applyFixups (the wasm core's fixup writer), the attack surface between the
 * planner and the bytes it writes: random blocks with random fixup records (well-formed,
 * near the edges of every range, and raw garbage) through the raw binding. Every call returns
 * the completed block or a structured PLAN_FIXUP / PLAN_FIXUP_RANGE error: no trap, no
 * throw. In a completed block every field no later fixup overwrites is checked against the
 * format's formula, and every byte outside the fields against the input. Seeded (the case number is in each
 * message); 3,000 cases by default, 100,000 with HOTPATCH_FUZZ=full.
 */
import { describe, expect, it } from 'vitest';
import { rawParser } from './wasm.ts';
import { mulberry32 as rng } from '../../test/support/prng.ts';

const CASES = process.env['HOTPATCH_FUZZ'] === 'full' ? 100_000 : 3_000;
const WIDTH = [0, 4, 1, 8, 4, 4, 4] as const;


interface Rec {
  kind: number;
  flags: number;
  offset: bigint;
  s: bigint;
  a: bigint;
}

function u64(r: () => number): bigint {
  return (BigInt(Math.floor(r() * 0x1_0000_0000)) << 32n) | BigInt(Math.floor(r() * 0x1_0000_0000));
}

/** A value near one of the edges the checks draw, relative to `around`. */
function near(r: () => number, around: bigint): bigint {
  const edges = [0n, 1n, 127n, 128n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn, 0x1_0000_0000n, 1n << 63n];
  const e = edges[Math.floor(r() * edges.length)]!;
  const v = around + (r() < 0.5 ? e : -e) + BigInt(Math.floor(r() * 5) - 2);
  return BigInt.asUintN(64, v);
}

function encode(recs: readonly Rec[], garbage: boolean, r: () => number): Uint8Array {
  const out = new Uint8Array(recs.length * 32 + (garbage ? Math.floor(r() * 32) : 0));
  const dv = new DataView(out.buffer);
  recs.forEach((x, i) => {
    dv.setUint8(i * 32, x.kind);
    dv.setUint8(i * 32 + 1, x.flags);
    if (garbage && r() < 0.1) dv.setUint8(i * 32 + 2 + Math.floor(r() * 6), 1 + Math.floor(r() * 255));
    dv.setBigUint64(i * 32 + 8, x.offset, true);
    dv.setBigUint64(i * 32 + 16, x.s, true);
    dv.setBigUint64(i * 32 + 24, BigInt.asUintN(64, x.a), true);
  });
  return out;
}

/** The stored value of one field as the formula's integer (signed for the relative kinds). */
function readField(b: Uint8Array, kind: number, at: number): bigint {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (kind) {
    case 2:
      return BigInt(dv.getInt8(at));
    case 3:
      return dv.getBigUint64(at, true);
    case 5:
    case 6:
      return BigInt(dv.getUint32(at, true));
    default:
      return BigInt(dv.getInt32(at, true));
  }
}

describe(`applyFixups (wasm core) fuzz (${CASES} cases)`, () => {
  it('every call completes the block or refuses with a structured error; accepted values obey the formula', () => {
    const r = rng(0xf1c5);
    let accepted = 0;
    let checked = 0;
    const codes = new Map<string, number>();
    for (let c = 0; c < CASES; c++) {
      const len = r() < 0.9 ? Math.floor(r() * 64) : Math.floor(r() * 5000);
      const block = new Uint8Array(len);
      for (let i = 0; i < len; i++) block[i] = Math.floor(r() * 256);
      const blockVa = r() < 0.8 ? 0x1_4000_0000n + BigInt(Math.floor(r() * 0x100_0000)) : u64(r);
      const unwindBase = r() < 0.8 ? blockVa - BigInt(Math.floor(r() * 0x1000_0000)) : u64(r);
      const imageBase = r() < 0.8 ? blockVa - BigInt(Math.floor(r() * 0x1000_0000)) : u64(r);
      const n = Math.floor(r() * (r() < 0.9 ? 4 : 40));
      const recs: Rec[] = [];
      for (let i = 0; i < n; i++) {
        const kind = r() < 0.95 ? 1 + Math.floor(r() * 6) : Math.floor(r() * 256);
        const offset = r() < 0.9 ? BigInt(Math.floor(r() * (len + 4))) : r() < 0.5 ? u64(r) : BigInt(0xffff_ffff - Math.floor(r() * 8));
        const p = BigInt.asUintN(64, blockVa + offset);
        const a = r() < 0.6 ? BigInt(Math.floor(r() * 16) - 8) : BigInt.asIntN(64, u64(r));
        // Half the targets land in reach (so whole lists complete), the rest near an edge or anywhere.
        const from = kind === 5 ? unwindBase : kind === 6 ? imageBase : kind === 3 ? 0n : p;
        const reach = BigInt.asUintN(64, from - a + BigInt(Math.floor(r() * 200)));
        const s = r() < 0.5 ? reach : r() < 0.7 ? near(r, from) : u64(r);
        recs.push({ kind, flags: r() < 0.05 ? Math.floor(r() * 4) : 0, offset, s, a });
      }
      const garbage = r() < 0.05;
      const records = encode(recs, garbage, r);
      const container = r() < 0.98 ? (r() < 0.5 ? 0 : 1) : Math.floor(r() * 5);
      const res = rawParser.applyFixups(block, records, blockVa, unwindBase, imageBase, Math.floor(r() * 0x1_0000_0000), container as 0 | 1);
      const why = `case ${c}`;
      if (res.status !== 0) {
        if (res.status === 2) throw new Error(`${why}: trapped: ${res.text}`);
        const e = JSON.parse(res.text) as { code: string; message: string; offset?: number };
        expect(e.code, why).toMatch(/^PLAN_FIXUP(_RANGE)?$/);
        expect(e.message.length, why).toBeGreaterThan(0);
        expect(e.message.includes('\n'), why).toBe(false);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        continue;
      }
      accepted++;
      expect(res.data.length, why).toBe(len);
      // Bytes outside every field are the input's.
      const covered = new Uint8Array(len);
      for (const x of recs) for (let k = 0; k < (WIDTH[x.kind] ?? 0); k++) covered[Number(x.offset) + k] = 1;
      for (let i = 0; i < len; i++) if (covered[i] === 0 && res.data[i] !== block[i]) expect.fail(`${why}: byte ${i} outside the fields changed`);
      // Every resolved field that no later fixup overwrites holds the formula's value.
      recs.forEach((x, i) => {
        const w = WIDTH[x.kind] ?? 0;
        if (x.flags !== 0 || w === 0) return;
        const lo = x.offset;
        const hi = x.offset + BigInt(w);
        if (recs.slice(i + 1).some((y) => y.offset < hi && y.offset + BigInt(WIDTH[y.kind] ?? 0) > lo)) return;
        const p = blockVa + x.offset;
        const want = x.kind === 3 ? x.s + x.a : x.kind === 5 ? x.s + x.a - unwindBase : x.kind === 6 ? x.s + x.a - imageBase : x.s + x.a - p;
        expect(readField(res.data, x.kind, Number(x.offset)), `${why} fixup ${i}`).toBe(want);
        checked++;
      });
    }
    // The generator reaches acceptance and both refusal codes (it would prove little otherwise).
    expect(accepted, 'accepted').toBeGreaterThan(CASES / 20);
    expect(checked, 'formula checks').toBeGreaterThan(CASES / 20);
    expect(codes.get('PLAN_FIXUP') ?? 0, 'PLAN_FIXUP').toBeGreaterThan(0);
    expect(codes.get('PLAN_FIXUP_RANGE') ?? 0, 'PLAN_FIXUP_RANGE').toBeGreaterThan(0);
  });
});
