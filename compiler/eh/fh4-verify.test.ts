/**
 * Carried FH4 data under the verifier, on the real sharp pair: the --skip-refused package
 * carries functions with FH4 handler data and verifies; a package whose copy of an
 * IP-to-state map (function-relative offsets, no fixups) or whose FuncInfo4 table field is
 * tampered with does not. Every tamper starts from the untampered package, which verifies,
 * so a rejection is the tamper's doing. Skipped with the reason when the pair is absent.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage } from '../index.ts';
import type { CodeBlock, HotpatchPackage } from '../../formats/package.ts';
import { fetchRealFile, realPairs } from '../../samples/real/real-files.ts';
import { parseHandlerData } from './parse-handler-data.ts';
import { withChangedFunctions } from '../../test/support/change-functions.ts';

const pair = realPairs().find((p) => p.label === 'sharp-0.34.4-0.34.5');
const oldFile = pair === undefined ? undefined : fetchRealFile(pair.old);
const newFile = pair === undefined ? undefined : fetchRealFile(pair.new);
const why = pair === undefined ? 'pair not in the manifest' : !oldFile!.ok ? oldFile!.error.message : !newFile!.ok ? newFile!.error.message : undefined;

function withUnwind(pkg: HotpatchPackage, id: number, edit: (u: NonNullable<CodeBlock['unwind']>) => NonNullable<CodeBlock['unwind']>): HotpatchPackage {
  return { ...pkg, codeBlocks: pkg.codeBlocks.map((c) => (c.id !== id || c.unwind === null ? c : { ...c, unwind: edit(c.unwind) })) };
}

/** First index of `needle` in `hay`, or -1. */
function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

describe('sharp-0.34.4-0.34.5', () => {
  test.skipIf(why !== undefined)(`carried FH4 data verifies, and tampered copies do not${why === undefined ? '' : ` (skipped: ${why})`}`, { timeout: 600_000 }, () => {
    if (!oldFile?.ok || !newFile?.ok) return;
    // sharp 0.34.5 against itself with every function whose handler data is FH4 changed
    // (test/support/change-functions.ts): the release pair's --skip-refused package no longer
    // carries one (compiler/diff/left-old.ts leaves out carried code next to changed code left old).
    const base = new Uint8Array(readFileSync(newFile.value));
    const changed = withChangedFunctions(base, (fn, mm) => {
      const rf = fn.pdata[0];
      const hd = rf === undefined ? null : parseHandlerData(mm.new.img, mm.new.fns, fn, rf);
      return hd?.kind === 'msvc' && (hd.data.form === 'fh4' || hd.data.form === 'gs-fh4');
    });
    const d = diffFiles(base, changed.bytes);
    if (!d.ok) throw new Error(d.error.message);
    const b = buildFromDiff(d.value, { moduleName: 'sharp-win32-x64.node', skipRefused: true, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) throw new Error(b.error.message);
    const pkg = b.value.emitted.pkg;
    const m = d.value.match;
    expect(verifyPackage(d.value, pkg).ok).toBe(true);

    // Carried functions whose handler data is FH4, with an IP-to-state map to tamper with.
    let carried = 0;
    let target: { id: number; ipMap: Uint8Array; tableFixup: number } | undefined;
    for (const [fi, id] of b.value.emitted.blockOf) {
      const fn = m.new.fns.functions[fi]!;
      const rf = fn.pdata[0];
      if (rf === undefined) continue;
      const hd = parseHandlerData(m.new.img, m.new.fns, fn, rf);
      if (hd?.kind !== 'msvc' || (hd.data.form !== 'fh4' && hd.data.form !== 'gs-fh4')) continue;
      carried++;
      const ip = hd.data.structures.find((s) => s.fields.length === 0 && s.length >= 3);
      const block = pkg.codeBlocks.find((c) => c.id === id);
      const tableFixup = block?.unwind?.unwindFixups.findIndex((f) => f.target.kind === 'unwind') ?? -1;
      if (target === undefined && ip !== undefined && tableFixup >= 0) {
        target = { id, ipMap: m.new.img.image.slice(ip.rva, ip.rva + ip.length), tableFixup };
      }
    }
    expect(carried).toBeGreaterThan(0);
    expect(target).toBeDefined();
    if (target === undefined) return;
    const t = target;

    // An IP-to-state offset moved by one byte: state boundaries no longer where NEW has them.
    const ipTampered = withUnwind(pkg, t.id, (u) => {
      const at = indexOf(u.unwindInfo, t.ipMap);
      expect(at).toBeGreaterThanOrEqual(0);
      const info = u.unwindInfo.slice();
      info[at + 1] = info[at + 1]! ^ 0x02; // the first IP delta (compressed: bit 0 is the length tag)
      return { ...u, unwindInfo: info };
    });
    const v1 = verifyPackage(d.value, ipTampered);
    expect(v1.ok).toBe(false);
    if (!v1.ok) expect(v1.error.message).toMatch(/differs from NEW/);

    // A FuncInfo4 table field aimed 4 bytes past the structure it names.
    const tableTampered = withUnwind(pkg, t.id, (u) => ({
      ...u,
      unwindFixups: u.unwindFixups.map((f, i) => (i !== t.tableFixup || f.target.kind !== 'unwind' ? f : { ...f, target: { kind: 'unwind', offset: f.target.offset + 4 } })),
    }));
    expect(verifyPackage(d.value, tableTampered).ok).toBe(false);
  });
});
