/**
 * gcc's `DW.ref.<typeinfo>` cells (samples/new-catch, GCC with symbols): a catch clause
 * reaches its typeinfo through a .data cell that only the loader's relocation writes. v2 adds
 * two; ld names none, and every later CRT global moves 0x10 up in a .data of the same size.
 * Shown here: the cells are items of their own (each in its own input section), .data is
 * the same per matched item, the new cells travel in the package as data blocks whose
 * pointer is an abs64 fixup, and the verifier accepts only the package's copy of a new cell.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { buildFromDiff, COMPILER_VERSION, diffFiles, verifyPackage, type ImageDiff } from '../compiler/index.ts';
import { asRva } from '../common/types.ts';
import { loaderOnlyCell } from '../compiler/match/loader-only-cells.ts';
import type { CodeBlock, Fixup, HotpatchPackage } from '../formats/package.ts';
import { scenarioDll } from '../samples/scenarios.ts';

function diffOf(stripped: boolean): ImageDiff {
  const d = diffFiles(new Uint8Array(readFileSync(scenarioDll('new-catch', 'v1', stripped))), new Uint8Array(readFileSync(scenarioDll('new-catch', 'v2', stripped))));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}

describe('loader-only DW.ref cells (new-catch, GCC)', () => {
  const diff = diffOf(false);
  const m = diff.match;
  const dataStart = m.new.img.sections.find((s) => s.name === '.data')!.rva;
  const cells = m.new.items.filter((d) => d.section === '.data' && loaderOnlyCell(m.new, d));

  test('each cell is an item of its own, not part of __mingw_module_is_dll', () => {
    const moduleIsDll = m.new.items.find((d) => d.name === '__mingw_module_is_dll')!;
    expect(moduleIsDll.end - moduleIsDll.start).toBe(16);
    expect(cells.map((d) => d.start - dataStart).filter((o) => o < 0x30)).toEqual([0x10, 0x18, 0x20]);
    // Code-read globals are never loader-only.
    expect(loaderOnlyCell(m.new, m.new.items.find((d) => d.name === '_CRT_MT')!)).toBe(false);
  });

  test('.data compared per matched item: no data change, hotpatchable', () => {
    expect(diff.data).toEqual([]);
    expect(diff.hotpatchable).toBe(true);
    expect(diff.functions.filter((f) => f.status === 'changed').map((f) => f.name)).toContain('parse_size');
  });

  test('the new cells are carried with abs64 fixups; only the package copy verifies', () => {
    const b = buildFromDiff(diff, { moduleName: 'new-catch.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) throw new Error(b.error.message);
    const pkg: HotpatchPackage = b.value.emitted.pkg;
    expect(verifyPackage(diff, pkg).ok).toBe(true);
    const cellBlocks = pkg.dataBlocks.filter((d) => d.fixups.length === 1 && d.fixups[0]!.kind === 'abs64' && d.fixups[0]!.offset === 0);
    expect(cellBlocks.length).toBeGreaterThanOrEqual(2);
    // An LSDA type entry aimed at OLD's .data (where the first cell lies in both builds)
    // instead of the package's cell: rejected.
    const ids = new Set(cellBlocks.map((d) => d.id));
    let mutated = 0;
    const codeBlocks = pkg.codeBlocks.map((c): CodeBlock => {
      if (mutated > 0 || c.unwind === null) return c;
      const k = c.unwind.unwindFixups.findIndex((f) => f.target.kind === 'block' && ids.has(f.target.blockId));
      if (k < 0) return c;
      const f = c.unwind.unwindFixups[k]!;
      const aimed: Fixup = { ...f, target: { kind: 'image', rva: asRva(m.old.img.sections.find((s) => s.name === '.data')!.rva + 0x10) } };
      const unwind = { ...c.unwind, unwindFixups: c.unwind.unwindFixups.map((x, i) => (i === k ? aimed : x)) };
      mutated++;
      return { ...c, unwind };
    });
    expect(mutated).toBe(1);
    const v = verifyPackage(diff, { ...pkg, codeBlocks });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.error.message).toMatch(/loader-only cell with no counterpart must be the package's copy/);
  });

  test('stripped: the moved CRT globals pair through .refptr cells; same verdict, and the package verifies', () => {
    const s = diffOf(true);
    expect(s.data).toEqual([]);
    expect(s.hotpatchable).toBe(true);
    const b = buildFromDiff(s, { moduleName: 'new-catch.dll', skipRefused: false, series: null, compilerVersion: COMPILER_VERSION });
    if (!b.ok) throw new Error(b.error.message);
    expect(verifyPackage(s, b.value.emitted.pkg).ok).toBe(true);
    // The same new cells travel as with symbols.
    const cellBlocks = b.value.emitted.pkg.dataBlocks.filter((d) => d.fixups.length === 1 && d.fixups[0]!.kind === 'abs64' && d.fixups[0]!.offset === 0);
    expect(cellBlocks.length).toBeGreaterThanOrEqual(2);
  });
});
