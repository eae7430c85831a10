/**
 * Intra-block references (format 2.1) on real bytes: lightningcss 1.29.1 -> 1.29.2 (Rust,
 * LLVM jump tables in .rdata), built with --skip-refused (so the verifier proves the package
 * turns OLD into NEW), must use them (jump tables copied from the old tables through an extra
 * base range, displacements rebuilt), and every delta block that lists one must materialise,
 * from OLD's bytes by the runtime's rule, to its function's NEW code outside fixup fields,
 * with each jump table entry pointing at its case in the block.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles } from '../compiler/index.ts';
import { implicitSpans } from '../formats/implicit-fixups.ts';
import { baseRanges, materialiseDelta } from '../formats/intra-refs.ts';
import { FIXUP_WIDTH } from '../formats/validate.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'lcss-1.29.1-1.29.2');
const o = pair === undefined ? null : fetchRealFile(pair.old);
const n = pair === undefined ? null : fetchRealFile(pair.new);
const unavailable = pair === undefined ? 'pair not in the manifest' : !o!.ok ? o!.error.message : !n!.ok ? n!.error.message : undefined;

describe.skipIf(unavailable !== undefined)(`intra references on lightningcss 1.29.1 -> 1.29.2${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  it('are used, verified, and rebuild NEW code and jump tables from OLD', () => {
    const ob = new Uint8Array(readFileSync((o as { value: string }).value));
    const nb = new Uint8Array(readFileSync((n as { value: string }).value));
    const d = diffFiles(ob, nb);
    if (!d.ok) throw new Error(d.error.message);
    const built = buildFromDiff(d.value, { moduleName: 'lightningcss.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!built.ok) throw new Error(`${built.error.code}: ${built.error.message}`);
    const pkg = built.value.emitted.pkg;
    const m = d.value.match;
    const fnOfBlock = new Map([...built.value.emitted.blockOf].map(([fi, b]) => [b, m.new.fns.functions[fi]!] as const));
    let fields = 0;
    let tables = 0;
    let checkedBytes = 0;
    for (const c of pkg.codeBlocks) {
      const b = c.bytes;
      if (b.kind !== 'delta' || b.intra === undefined) continue;
      fields += b.intra.rel32.length + b.intra.rel8.length;
      tables += b.intra.tables.length;
      const base = new Uint8Array(baseRanges(b).reduce((k, r) => k + r.length, 0));
      let at = 0;
      for (const r of baseRanges(b)) {
        base.set(m.old.img.image.subarray(r.rva, r.rva + r.length), at);
        at += r.length;
      }
      const got = materialiseDelta(b, base);
      expect(got.ok).toBe(true);
      if (!got.ok) continue;
      const f = fnOfBlock.get(c.id)!;
      if (f.ranges.length !== 1) continue;
      // The code: NEW's bytes wherever no fixup (explicit or implicit) completes the field.
      const r0 = f.ranges[0]!;
      const covered = new Uint8Array(r0.end - r0.start);
      for (const x of c.fixups) covered.fill(1, x.offset, x.offset + FIXUP_WIDTH[x.kind]);
      for (const [off, w] of implicitSpans(b.implicit)) covered.fill(1, off, off + w);
      // A `lea` of the function's own jump table points at the block's copy, not at .rdata.
      const newView = new DataView(m.new.img.image.buffer, m.new.img.image.byteOffset, m.new.img.image.byteLength);
      for (const off of b.intra.rel32) {
        if (off + 4 <= covered.length && m.new.tables.has(r0.start + off + 4 + newView.getInt32(r0.start + off, true))) covered.fill(1, off, off + 4);
      }
      for (let i = 0; i < covered.length; i++) {
        if (covered[i] === 1) continue;
        expect(got.value[i], `block ${c.id} byte ${i}`).toBe(m.new.img.image[r0.start + i]);
        checkedBytes++;
      }
      // The tables: entry k of a run points at the block offset of its case.
      const view = new DataView(got.value.buffer, got.value.byteOffset, got.value.byteLength);
      for (const t of b.intra.tables) {
        const tableStart = t.offset - t.back;
        const nt = [...m.new.tables.values()].filter((x) => x.fn === f && x.table.entryKind === 'rel32');
        expect(nt.length).toBeGreaterThan(0);
        for (let k = 0; k < t.count; k++) {
          const target = tableStart + view.getInt32(t.offset + 4 * k, true);
          expect(target >= 0 && target < r0.end - r0.start, `block ${c.id} table run at ${t.offset} entry ${k}`).toBe(true);
        }
      }
    }
    process.stdout.write(`lightningcss 1.29.1 -> 1.29.2 (--skip-refused, verified): ${fields} intra fields and ${tables} table runs; ${checkedBytes} code bytes compared with NEW\n`);
    expect(fields + tables).toBeGreaterThan(0);
    expect(checkedBytes).toBeGreaterThan(1000);
  }, 300_000);
});
