/**
 * A RIP-relative operand that loads or stores names the item starting at its address, never
 * the end of the item before it (compiler/disasm/memory-access.ts). On ast-grep 0.51.3
 * (corpus pair ast-grep-0.51.2-0.51.3) Rust code reads the TLS index with
 * `mov eax, [rip + 0x799ae8]` (_tls_index, .data, right after an 8-byte global at 0x799ae0):
 * 86 changed or added functions were refused UNRESOLVED_REFERENCE (`reference to 0x799ae8 is
 * also the end of 0x799ae0, and OLD does not hold the two globals adjacent`), and 372 more
 * with their exception-handling groups, though the load touches bytes 0x799ae8..0x799aec only.
 * A `lea` of the same address computes an address, which may be an end pointer: still
 * ambiguous. Checked against objdump of the NEW build.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { diffFiles, type ImageDiff } from '../compiler/index.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const pair = realPairs().find((p) => p.label === 'ast-grep-0.51.2-0.51.3')!;
const o = fetchRealFile(pair.old);
const n = fetchRealFile(pair.new);
const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;

describe.skipIf(unavailable !== undefined)(`ast-grep 0.51.2 -> 0.51.3, loads at the start of a global${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
  test('mov eax, [rip + _tls_index] is a load (no end pointer); a lea is not; no refusal names the end of a global for a load', { timeout: 300_000 }, () => {
    const d = diffFiles(new Uint8Array(readFileSync((o as { value: string }).value)), new Uint8Array(readFileSync((n as { value: string }).value)));
    if (!d.ok) throw new Error(d.error.message);
    const diff: ImageDiff = d.value;
    const nw = diff.match.new;
    const f = nw.fns.containing(0x4775)!;
    const load = f.decoded.refs.find((r) => r.insnRva === 0x4775)!;
    expect(load.kind).toBe('riprel32');
    expect(load.target).toBe(0x799ae8);
    // The global before it ends exactly there: the ambiguous case.
    const item = nw.itemAt(0x799ae8)!;
    expect(item.start).toBe(0x799ae8);
    expect(nw.items[item.index - 1]!.end).toBe(0x799ae8);
    expect(load.accessesTarget).toBe(true);
    // Every lea of the image is an address, not an access.
    const leas = nw.fns.functions.flatMap((g) => g.decoded.refs.filter((r) => r.kind === 'riprel32' && nw.img.image[r.fieldRva - 2] === 0x8d)).slice(0, 200);
    expect(leas.length).toBeGreaterThan(0);
    for (const r of leas) expect(r.accessesTarget).toBe(false);
    // No refusal is left for a load at such a start: those that remain come from a lea (or data).
    const ambiguous = diff.functions.filter((x) => x.verdict === 'refused' && /is also the end of/.test(x.reason?.message ?? ''));
    for (const x of ambiguous) {
      const at = x.reason?.at ?? null;
      if (at === null) continue;
      const g = nw.fns.containing(at);
      const r = g?.decoded.refs.find((q) => q.insnRva === at && q.kind === 'riprel32');
      if (r !== undefined) expect(r.accessesTarget).toBe(false);
    }
    expect(diff.functions.filter((x) => x.verdict === 'refused' && /reference to 0x799ae8 is also the end/.test(x.reason?.message ?? ''))).toEqual([]);
  });
});
