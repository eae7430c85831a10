/**
 * Pins the true-change audit (#14, bench/results/true-change-audit.md) on corpus pairs A and B:
 * no function the independent diff (bench/independent-diff.ts: .pdata functions, iced-x86,
 * references as tokens, its own matching) calls changed may be one the compiler calls
 * unchanged, under the independent pairing or under the compiler's own. Such a function would
 * get no new code and no redirect: a real change hidden, a wrong patch.
 *
 * The only disagreements allowed are the audited ones, each equal instruction by instruction
 * under one of two readings of unrelocated read-only dwords (guessed RVAs, or bytes): integer
 * tables whose dwords the guess takes for RVAs, byte-identical in both builds (checked with
 * pefile and the disassembly, bench/results/true-change-audit.md). A new one, explained or not,
 * fails here and must be audited. Skipped with the reason when the corpus is not fetched.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { diffFiles, type ImageDiff } from '../compiler/index.ts';
import { checkTrueChange, describeDisagreement, independentViews, type IndependentViews } from '../bench/true-change-check.ts';
import { fetchRealFile, realPairs } from '../samples/real/real-files.ts';

const hex = (v: number): string => `0x${v.toString(16)}`;

/** The audited disagreements (old -> new), each under both pairings. */
const AUDITED: Record<string, readonly (readonly [number, number])[]> = {
  // 0x18b10 reads .rdata 0x599f8 (0x3279: a leaf after int3 in OLD, inside a function in NEW),
  // 0x1ace0 the Winsock error table .rdata 0x4f360 (0x271d = 10013 ...), 0x2d470 the dword
  // 0x7a64 at .rdata 0x59ee8, 0x38094 the byte class table .rdata 0x511d0.
  'sharp-0.34.4-0.34.5': [
    [0x18b10, 0x18b30],
    [0x1ace0, 0x1ad00],
    [0x2d470, 0x2d4d0],
    [0x38094, 0x380f4],
  ],
  // The same four functions and tables, one release earlier.
  'sharp-0.34.3-0.34.4': [
    [0x18b90, 0x18b10],
    [0x1ad60, 0x1ace0],
    [0x2d4f0, 0x2d470],
    [0x38134, 0x38094],
  ],
};

for (const [label, audited] of Object.entries(AUDITED)) {
  const pair = realPairs().find((p) => p.label === label)!;
  const o = fetchRealFile(pair.old);
  const n = fetchRealFile(pair.new);
  const unavailable = !o.ok ? o.error.message : !n.ok ? n.error.message : undefined;

  describe.skipIf(unavailable !== undefined)(`true-change audit, ${label}${unavailable === undefined ? '' : ` (skipped: ${unavailable})`}`, () => {
    let tool: ImageDiff;
    let views: IndependentViews;
    beforeAll(() => {
      const ob = new Uint8Array(readFileSync((o as { value: string }).value));
      const nb = new Uint8Array(readFileSync((n as { value: string }).value));
      const d = diffFiles(ob, nb);
      if (!d.ok) throw new Error(d.error.message);
      tool = d.value;
      views = independentViews(ob, nb, tool);
    }, 600_000);

    test('no function the independent diff calls changed is left unchanged by the compiler', () => {
      const c = checkTrueChange(tool, views);
      expect(c.disagreements.filter((x) => !x.equalEitherReading).map(describeDisagreement)).toEqual([]);
      // Every disagreement is an audited one, seen under both pairings; a new one needs an audit.
      const seen = (pairing: string): string[] => c.disagreements.filter((x) => x.pairing === pairing).map((x) => `${hex(x.old)} -> ${hex(x.new)}`);
      const want = audited.map(([a, b]) => `${hex(a)} -> ${hex(b)}`);
      expect(seen('independent')).toEqual(want);
      expect(seen('compiler')).toEqual(want);
    });

    test('a truly changed function the compiler called unchanged would be caught', () => {
      // Forge the compiler's verdict on one function both sides call changed (same pair, not
      // explained by the dword readings): the check must report it as a hidden change.
      const sameNew = new Map<number, number>(tool.functions.filter((f) => f.status === 'changed').map((f) => [f.oldRva!, f.newRva!]));
      const victim = views.own.pairs.find((x) => x.status === 'changed' && !x.equalEitherReading && sameNew.get(x.old) === x.new);
      expect(victim).toBeDefined();
      const forged: ImageDiff = { ...tool, functions: tool.functions.map((f) => (f.oldRva === victim!.old ? { ...f, status: 'unchanged', verdict: null, reason: null, redirect: null } : f)) };
      const hidden = checkTrueChange(forged, views).disagreements.filter((x) => !x.equalEitherReading);
      expect(hidden.map((x) => [x.old, x.new, x.pairing])).toEqual([
        [victim!.old, victim!.new, 'independent'],
        [victim!.old, victim!.new, 'compiler'],
      ]);
    });
  });
}
